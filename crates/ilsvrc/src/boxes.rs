//! Axis-aligned boxes in pixel coordinates and their overlap.
//!
//! IoU follows the official ILSVRC devkit: a box `(x0, y0, x1, y1)` covers pixel columns
//! `x0..=x1` and rows `y0..=y1`, so its width is `x1 − x0 + 1` (the "+1 convention"), and
//! the intersection of two boxes is `(min x1 − max x0 + 1) · (min y1 − max y0 + 1)` when
//! both factors are positive.

/// A box with inclusive corners, in (possibly fractional) pixel coordinates.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BoxF {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl BoxF {
    pub fn new(x0: f64, y0: f64, x1: f64, y1: f64) -> Self {
        BoxF { x0, y0, x1, y1 }
    }

    /// Area under the +1 convention (0 for an inverted box).
    pub fn area(&self) -> f64 {
        (self.x1 - self.x0 + 1.0).max(0.0) * (self.y1 - self.y0 + 1.0).max(0.0)
    }

    /// The same box in an image resized by `sx` horizontally and `sy` vertically.
    pub fn scaled(&self, sx: f64, sy: f64) -> BoxF {
        BoxF::new(self.x0 * sx, self.y0 * sy, self.x1 * sx, self.y1 * sy)
    }

    /// Intersection over union, devkit convention; in [0, 1].
    pub fn iou(&self, other: &BoxF) -> f64 {
        let iw = self.x1.min(other.x1) - self.x0.max(other.x0) + 1.0;
        let ih = self.y1.min(other.y1) - self.y0.max(other.y0) + 1.0;
        if iw <= 0.0 || ih <= 0.0 {
            return 0.0;
        }
        let inter = iw * ih;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            (inter / union).clamp(0.0, 1.0)
        }
    }

    /// The best IoU with any of `others` (0 if there are none).
    pub fn best_iou(&self, others: &[BoxF]) -> f64 {
        others.iter().map(|o| self.iou(o)).fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn iou_by_hand_with_the_plus_one_convention() {
        // 10×10 pixels each (0..=9), overlapping in 5×10: 50 / (100 + 100 − 50).
        let a = BoxF::new(0.0, 0.0, 9.0, 9.0);
        let b = BoxF::new(5.0, 0.0, 14.0, 9.0);
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-12);
        // Touching at one column still overlaps by one pixel column.
        let c = BoxF::new(9.0, 0.0, 18.0, 9.0);
        assert!((a.iou(&c) - 10.0 / 190.0).abs() < 1e-12);
        assert_eq!(a.iou(&BoxF::new(10.0, 0.0, 19.0, 9.0)), 0.0);
        assert_eq!(a.scaled(2.0, 0.5), BoxF::new(0.0, 0.0, 18.0, 4.5));
    }

    fn boxes() -> impl Strategy<Value = BoxF> {
        (0.0f64..200.0, 0.0f64..200.0, 0.0f64..100.0, 0.0f64..100.0)
            .prop_map(|(x, y, w, h)| BoxF::new(x, y, x + w, y + h))
    }

    proptest! {
        #[test]
        fn iou_is_symmetric_bounded_and_one_for_identical(a in boxes(), b in boxes()) {
            let (ab, ba) = (a.iou(&b), b.iou(&a));
            prop_assert!((ab - ba).abs() < 1e-12);
            prop_assert!((0.0..=1.0).contains(&ab));
            prop_assert!((a.iou(&a) - 1.0).abs() < 1e-12);
        }
    }
}
