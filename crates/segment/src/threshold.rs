//! The simplest map-to-box rule, used by CAM (Zhou et al. 2016) and wsolevaluation: keep the
//! pixels whose score reaches a fraction of the map's maximum, then box the largest
//! connected region (or all of them). No colour model: the map alone decides.
use crate::components::{bounding_box, largest_component};
use crate::error::{Result, SegmentError};
use crate::seeds::Seeds;
use crate::{Segmentation, Segmenter};
use image::RgbImage;
use ndarray::Array2;

/// Threshold at `fraction` × max of the map.
#[derive(Clone, Debug, PartialEq)]
pub struct ThresholdSegmenter {
    /// Fraction of the map's maximum a pixel must reach (CAM uses 0.2).
    pub fraction: f32,
    /// Box the largest 8-connected region (true) or every region together (false).
    pub largest: bool,
}

impl Default for ThresholdSegmenter {
    fn default() -> Self {
        ThresholdSegmenter {
            fraction: 0.2,
            largest: true,
        }
    }
}

impl Segmenter for ThresholdSegmenter {
    fn segment(&self, image: &RgbImage, saliency: &Array2<f32>) -> Result<Segmentation> {
        crate::check_inputs(image, saliency)?;
        if !(self.fraction > 0.0 && self.fraction <= 1.0) {
            return Err(SegmentError::Parameter(format!(
                "threshold fraction must lie in (0, 1], got {}",
                self.fraction
            )));
        }
        let max = saliency.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let t = self.fraction * max;
        let mask = saliency.mapv(|v| max > 0.0 && v >= t);
        let seeds = Seeds {
            foreground: mask.clone(),
            background: mask.mapv(|m| !m),
            fg_threshold: t,
            bg_threshold: t,
        };
        if max.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Ok(Segmentation::nothing(
                mask.dim(),
                seeds,
                vec!["degenerate map: no positive value".into()],
            ));
        }
        let object = if self.largest {
            largest_component(&mask)
        } else {
            mask.clone()
        };
        Ok(Segmentation {
            bbox: bounding_box(&object),
            foreground: mask,
            object,
            seeds,
            flow: 0.0,
            notes: Vec::new(),
        })
    }

    fn name(&self) -> &str {
        "threshold"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> Array2<f32> {
        Array2::from_shape_fn((20, 30), |(y, x)| {
            if (2..6).contains(&y) && (3..9).contains(&x) {
                1.0
            } else if (10..18).contains(&y) && (15..28).contains(&x) {
                0.5
            } else {
                0.05
            }
        })
    }

    #[test]
    fn largest_region_or_all_regions() {
        let img = RgbImage::new(30, 20);
        let seg = ThresholdSegmenter::default()
            .segment(&img, &blobs())
            .unwrap();
        let b = seg.bbox.unwrap();
        assert_eq!((b.x0, b.y0, b.x1, b.y1), (15, 10, 27, 17));
        let all = ThresholdSegmenter {
            largest: false,
            ..Default::default()
        };
        let b = all.segment(&img, &blobs()).unwrap().bbox.unwrap();
        assert_eq!((b.x0, b.y0, b.x1, b.y1), (3, 2, 27, 17));
        let high = ThresholdSegmenter {
            fraction: 0.8,
            ..Default::default()
        };
        let b = high.segment(&img, &blobs()).unwrap().bbox.unwrap();
        assert_eq!((b.x0, b.y0, b.x1, b.y1), (3, 2, 8, 5));
    }

    #[test]
    fn degenerate_and_mismatched_maps_are_reported() {
        let img = RgbImage::new(30, 20);
        let zero = ThresholdSegmenter::default()
            .segment(&img, &Array2::zeros((20, 30)))
            .unwrap();
        assert!(zero.bbox.is_none() && !zero.notes.is_empty());
        assert!(ThresholdSegmenter::default()
            .segment(&img, &Array2::zeros((3, 3)))
            .is_err());
    }
}
