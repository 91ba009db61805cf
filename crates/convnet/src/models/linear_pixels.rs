//! A linear classifier over raw input pixels, S_c(x) = w_c · x + b_c: the model with closed
//! forms for everything the paper computes (the saliency of every image is |w_c|, the
//! L2-regularised class model is w_c / 2λ), which tests and teaching examples rely on.
use super::{ForwardOptions, ForwardOutput, ImageModel, LayerInfo, ModelInfo};
use crate::classes::ClassNames;
use crate::error::{ConvnetError, Result};
use crate::ops::{linear, LinearParams};
use crate::preprocess::Preprocessing;
use candle_core::{Device, Tensor};
use std::collections::BTreeMap;
use std::sync::Arc;

/// S = W · flatten(x) + b over `[batch, 3, h, w]` inputs of the preprocessing's size.
pub struct LinearPixelModel {
    params: Arc<LinearParams>,
    weights: Vec<f32>,
    info: ModelInfo,
}

impl LinearPixelModel {
    /// `weights` is `[classes][3·h·w]` row-major in CHW order, one row per class of `classes`.
    pub fn new(
        weights: Vec<f32>,
        bias: Vec<f32>,
        preprocessing: Preprocessing,
        classes: ClassNames,
    ) -> Result<Self> {
        let inputs = 3 * (preprocessing.width * preprocessing.height) as usize;
        let n = classes.len();
        if weights.len() != n * inputs || bias.len() != n {
            return Err(ConvnetError::Shape {
                model: "linear-pixels".into(),
                got: vec![weights.len(), bias.len()],
                expected: format!(
                    "{} weights and {n} biases ({n} classes × {inputs} inputs)",
                    n * inputs
                ),
            });
        }
        Ok(LinearPixelModel {
            params: Arc::new(LinearParams::new(weights.clone(), n, inputs, Some(bias))?),
            weights,
            info: ModelInfo {
                name: "linear-pixels".into(),
                preprocessing,
                classes,
                layers: vec![LayerInfo {
                    name: "logits".into(),
                    shape: vec![n],
                }],
                device: Device::Cpu,
                graph: None,
            },
        })
    }

    /// The weight of class `class` on input element `(c, y, x)`: ∂S_class/∂x there.
    pub fn weight(&self, class: usize, c: usize, y: usize, x: usize) -> f32 {
        let p = &self.info.preprocessing;
        let (h, w) = (p.height as usize, p.width as usize);
        self.weights[class * 3 * h * w + (c * h + y) * w + x]
    }
}

impl ImageModel for LinearPixelModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn forward_with(&self, x: &Tensor, opts: &ForwardOptions) -> Result<ForwardOutput> {
        let logits = linear(&x.flatten_from(1)?, &self.params)?;
        let mut activations = BTreeMap::new();
        if opts.capture.iter().any(|c| c == "logits") {
            activations.insert("logits".to_string(), logits.clone());
        }
        Ok(ForwardOutput {
            logits,
            activations,
            probes: BTreeMap::new(),
        })
    }
}
