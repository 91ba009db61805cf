//! Is a synthesised image a picture of its class, or an adversarial pattern? The test the
//! issue fixes: classify random re-framings of it (crop 80–100 % of the side, mirror with
//! probability ½, rotate ±10°, resize back to the input size) and count how often the class
//! stays top-1. The paper-mode images of a modern network fail it; recognisable ones pass.
use crate::error::Result;
use crate::rng::Rng;
use crate::warp::{warp, View};
use convnet::ImageModel;
use image::RgbImage;
use serde::Serialize;

/// The augmentation family and how many draws to make.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Augmentations {
    pub trials: usize,
    /// Crop side fraction range.
    pub crop: (f32, f32),
    pub degrees: f32,
    pub flip: bool,
    pub seed: u64,
}

impl Default for Augmentations {
    fn default() -> Self {
        Augmentations {
            trials: 20,
            crop: (0.8, 1.0),
            degrees: 10.0,
            flip: true,
            seed: 2013,
        }
    }
}

/// How an image fared under the augmentations.
#[derive(Clone, Debug, Serialize)]
pub struct Robustness {
    pub class: usize,
    /// Draws in which `class` was still top-1.
    pub top1: usize,
    pub trials: usize,
    /// Top-1 class of each draw.
    pub predictions: Vec<usize>,
}

/// Classifies `aug.trials` random re-framings of the 0..255 `image` (any size; the views are
/// resampled to the model's input size) and counts how often `class` is top-1.
pub fn augmentation_robustness(
    model: &dyn ImageModel,
    image: &RgbImage,
    class: usize,
    aug: &Augmentations,
) -> Result<Robustness> {
    let prep = model.preprocessing();
    let (w, h) = image.dimensions();
    let x = candle_core::Tensor::from_vec(
        prep.normalise(image),
        (1, 3, h as usize, w as usize),
        model.device(),
    )?;
    let mut rng = Rng::new(aug.seed);
    let mut predictions = Vec::with_capacity(aug.trials);
    // Small batches: the same numbers as one batch, bounded memory.
    for chunk in (0..aug.trials).collect::<Vec<_>>().chunks(10) {
        let views: Vec<View> = chunk
            .iter()
            .map(|_| {
                View::random(
                    &mut rng,
                    w as usize,
                    h as usize,
                    aug.crop,
                    aug.degrees,
                    aug.flip,
                    0.0,
                )
            })
            .collect();
        let xs = x.repeat((chunk.len(), 1, 1, 1))?;
        let seen = warp(&xs, &views, prep.width as usize, prep.height as usize)?;
        let logits = model.forward(&seen)?.to_vec2::<f32>()?;
        predictions.extend(logits.iter().map(|row| {
            row.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i)
                .unwrap_or(0)
        }));
    }
    Ok(Robustness {
        class,
        top1: predictions.iter().filter(|&&p| p == class).count(),
        trials: aug.trials,
        predictions,
    })
}
