#![no_main]
//! The devkit's ground-truth IDs and the ID → WNID list, separated by NUL.
use libfuzzer_sys::fuzz_target;
use std::path::Path;
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(t) = common::texts(data, 2) else { return };
    let classes = common::imagenet();
    let p = Path::new("fuzz");
    if let Ok(samples) = ilsvrc::devkit::samples((t[0], p), (t[1], p), classes) {
        for s in samples {
            assert_eq!(classes.get(s.label).map(|c| c.wnid.as_str()), Some(s.wnid.as_str()));
        }
    }
});
