//! Checks shared by the reader targets: whatever a reader accepts must be usable — finite,
//! non-inverted boxes whose IoU is in [0, 1].
use ilsvrc::{BoxF, ClassNames};
use std::sync::OnceLock;

/// The ImageNet class list, parsed once (not per execution).
#[allow(dead_code)]
pub fn imagenet() -> &'static ClassNames {
    static CLASSES: OnceLock<ClassNames> = OnceLock::new();
    CLASSES.get_or_init(ClassNames::imagenet)
}

#[allow(dead_code)]
pub fn check_boxes(boxes: &[BoxF]) {
    for b in boxes {
        assert!(b.x0.is_finite() && b.y0.is_finite() && b.x1.is_finite() && b.y1.is_finite());
        assert!(b.x1 >= b.x0 && b.y1 >= b.y0, "inverted box {b:?}");
        let iou = b.iou(&boxes[0]);
        assert!((0.0..=1.0).contains(&iou), "IoU {iou} of {b:?}");
    }
}

/// Splits fuzz input into `n` UTF-8 texts at NUL bytes (missing parts are empty).
#[allow(dead_code)]
pub fn texts(data: &[u8], n: usize) -> Option<Vec<&str>> {
    let text = std::str::from_utf8(data).ok()?;
    let mut parts: Vec<&str> = text.splitn(n, '\0').collect();
    parts.resize(n, "");
    Some(parts)
}
