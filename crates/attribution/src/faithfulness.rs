//! Deletion and insertion (Petsiuk et al. 2018): does the map rank pixels by how much the
//! model needs them? Deletion replaces the pixels with the baseline, most salient first, and
//! watches the class probability fall; insertion starts from a blurred image and puts the
//! pixels back, most salient first, and watches it rise. The area under each curve
//! (x normalised to [0, 1], trapezoid rule) is the score: low for deletion, high for
//! insertion. The perturbed images of a curve go through the model in batches.
use crate::baseline::Baseline;
use crate::error::{AttributionError, Result};
use crate::host::{fix_target, scores, HostImage, Score};
use convnet::{ImageModel, Target};
use ndarray::Array2;

/// Settings of the deletion and insertion curves.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct PixelCurves {
    /// Steps of each curve (the curve has steps + 1 points); each step moves
    /// ⌈h·w / steps⌉ pixels.
    pub steps: usize,
    /// What deleted pixels become (zero in the normalised input, Petsiuk et al.'s).
    pub deletion: Baseline,
    /// What insertion starts from (the blurred image, Petsiuk et al.'s).
    pub insertion: Baseline,
    /// What is read off the model: the class probability (the protocol's) or the logit.
    pub score: Score,
}

impl Default for PixelCurves {
    fn default() -> Self {
        PixelCurves {
            steps: 50,
            deletion: Baseline::Zero,
            insertion: Baseline::Blur,
            score: Score::Probability,
        }
    }
}

impl PixelCurves {
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(AttributionError::Input(
                "deletion and insertion need --auc-steps ≥ 1, got 0".into(),
            ));
        }
        Ok(())
    }
}

/// The deletion and insertion curves of one map.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Curves {
    pub deletion: Vec<f32>,
    pub insertion: Vec<f32>,
}

impl Curves {
    pub fn deletion_auc(&self) -> f64 {
        auc(&self.deletion)
    }
    pub fn insertion_auc(&self) -> f64 {
        auc(&self.insertion)
    }
}

/// Normalised area under a curve of equally spaced points on [0, 1] (trapezoid rule).
pub fn auc(curve: &[f32]) -> f64 {
    match curve.len() {
        0 => 0.0,
        1 => curve[0] as f64,
        n => {
            let sum: f64 = curve.iter().map(|&v| v as f64).sum();
            (sum - 0.5 * (curve[0] as f64 + curve[n - 1] as f64)) / (n - 1) as f64
        }
    }
}

/// Pixel indices (row-major) from the most to the least salient; ties keep index order.
pub fn ranking(map: &Array2<f32>) -> Vec<usize> {
    let v: Vec<f32> = map.iter().copied().collect();
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx
}

/// The deletion and insertion curves of `map` (`h × w`, the image's size) for `target`.
pub fn pixel_curves(
    model: &dyn ImageModel,
    image: &HostImage,
    map: &Array2<f32>,
    target: &Target,
    settings: &PixelCurves,
) -> Result<Curves> {
    if map.dim() != (image.height, image.width) {
        return Err(AttributionError::Input(format!(
            "a {:?} map cannot rank the pixels of a {} × {} image",
            map.dim(),
            image.height,
            image.width
        )));
    }
    ordered_curves(model, image, &ranking(map), target, settings)
}

/// The curves for a given pixel order (most important first).
pub fn ordered_curves(
    model: &dyn ImageModel,
    image: &HostImage,
    order: &[usize],
    target: &Target,
    settings: &PixelCurves,
) -> Result<Curves> {
    settings.validate()?;
    let target = fix_target(model, image, target)?;
    let plane = image.plane();
    let per_step = plane.div_ceil(settings.steps);
    let curve = |start: &HostImage, end: &HostImage| -> Result<Vec<f32>> {
        scores(
            model,
            image,
            settings.steps + 1,
            |i| {
                let mut v = start.data.clone();
                for &p in &order[..(i * per_step).min(plane)] {
                    for c in 0..image.channels {
                        v[c * plane + p] = end.data[c * plane + p];
                    }
                }
                v
            },
            &target,
            settings.score,
        )
    };
    let deleted = settings.deletion.of(image, model.preprocessing());
    let blurred = settings.insertion.of(image, model.preprocessing());
    Ok(Curves {
        deletion: curve(image, &deleted)?,
        insertion: curve(&blurred, image)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand() {
        assert_eq!(auc(&[1.0, 1.0, 1.0]), 1.0);
        assert_eq!(auc(&[1.0, 0.0]), 0.5);
        assert!((auc(&[0.0, 1.0, 0.0]) - 0.5).abs() < 1e-12);
        let m = Array2::from_shape_vec((1, 4), vec![0.1, 0.9, 0.5, 0.9]).unwrap();
        assert_eq!(ranking(&m), vec![1, 3, 2, 0]);
    }
}
