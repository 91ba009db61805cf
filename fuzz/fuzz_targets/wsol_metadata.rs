#![no_main]
//! The wsolevaluation metadata: four texts (image ids, labels, sizes, boxes) separated by NUL.
use libfuzzer_sys::fuzz_target;
use std::path::Path;
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(t) = common::texts(data, 4) else { return };
    let texts = ilsvrc::wsol::WsolTexts {
        image_ids: t[0],
        class_labels: t[1],
        image_sizes: t[2],
        localization: t[3],
    };
    if let Ok(images) = ilsvrc::wsol::samples(Path::new("fuzz"), &texts, common::imagenet()) {
        for s in &images {
            assert!(s.label < 1000);
            common::check_boxes(&s.boxes);
            if let Some(size) = s.size {
                common::check_boxes(&s.boxes_in(size, (224, 224)));
            }
        }
    }
});
