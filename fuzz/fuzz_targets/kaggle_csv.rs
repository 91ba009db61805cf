#![no_main]
//! Kaggle's LOC_val_solution.csv, keyed through the ImageNet class list.
use libfuzzer_sys::fuzz_target;
use std::path::Path;
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let p = Path::new("LOC_val_solution.csv");
    if let Ok(rows) = ilsvrc::kaggle::parse_solution(text, p) {
        for r in &rows {
            assert!(!r.boxes.is_empty());
            common::check_boxes(&r.boxes);
        }
        let _ = ilsvrc::kaggle::samples(rows, common::imagenet(), p);
    }
});
