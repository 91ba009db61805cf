#![no_main]
//! One PASCAL VOC annotation file.
use libfuzzer_sys::fuzz_target;
use std::path::Path;
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(a) = ilsvrc::voc::parse(text, Path::new("fuzz.xml")) {
        let boxes: Vec<_> = a.objects.iter().map(|o| o.bbox).collect();
        common::check_boxes(&boxes);
        if let Some((w, h)) = a.size {
            assert!(w >= 1 && h >= 1);
        }
    }
});
