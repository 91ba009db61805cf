//! The model abstraction that attribution and synthesis differentiate through, and the
//! built-in models.
mod capture;
pub mod efficientnet_lite;
pub mod paper_net;
mod registry;
pub mod vgg16;

pub(crate) use capture::{Capture, LayerTable};
pub use efficientnet_lite::EfficientNetLite0;
pub use paper_net::PaperNet;
pub use registry::{load_model, parse_device, ModelKind};
pub use vgg16::Vgg16;

use crate::classes::ClassNames;
use crate::error::{ConvnetError, Result};
use crate::preprocess::Preprocessing;
use crate::rule::BackwardRule;
use candle_core::{Device, Tensor};
use std::collections::BTreeMap;

/// A named intermediate result of a model and its per-image shape at the model's input size.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LayerInfo {
    pub name: String,
    /// `[channels, height, width]` for feature maps, `[features]` for vectors.
    pub shape: Vec<usize>,
}

/// What a forward pass should do besides computing the logits.
#[derive(Clone, Debug, Default)]
pub struct ForwardOptions {
    /// How gradients cross ReLU-like units when this pass is differentiated.
    pub rule: BackwardRule,
    /// Names of intermediate layers to return (see [`ImageModel::layers`]).
    pub capture: Vec<String>,
}

impl ForwardOptions {
    pub fn with_rule(rule: BackwardRule) -> Self {
        ForwardOptions {
            rule,
            capture: Vec::new(),
        }
    }
}

/// Logits and the captured intermediate activations of a forward pass.
#[derive(Clone, Debug)]
pub struct ForwardOutput {
    /// Unnormalised class scores `[batch, classes]` (never softmax).
    pub logits: Tensor,
    pub activations: BTreeMap<String, Tensor>,
}

/// An image classifier that can be differentiated with respect to its input.
pub trait ImageModel: Send + Sync {
    /// The model's name, e.g. `efficientnet-lite0`.
    fn name(&self) -> &str;
    /// Input size and normalisation.
    fn preprocessing(&self) -> &Preprocessing;
    /// Class identities of the logits.
    fn classes(&self) -> &ClassNames;
    /// Every layer that can be captured, in forward order.
    fn layers(&self) -> &[LayerInfo];
    /// The device the model computes on.
    fn device(&self) -> &Device;
    /// Forward pass from a normalised `[batch, 3, h, w]` input.
    fn forward_with(&self, x: &Tensor, opts: &ForwardOptions) -> Result<ForwardOutput>;

    /// Logits of a normalised input batch.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_with(x, &ForwardOptions::default())?.logits)
    }

    /// The layer called `name`, or an error listing the layers that exist.
    fn layer(&self, name: &str) -> Result<&LayerInfo> {
        self.layers()
            .iter()
            .find(|l| l.name == name)
            .ok_or_else(|| ConvnetError::UnknownLayer {
                model: self.name().to_string(),
                name: name.to_string(),
                available: self
                    .layers()
                    .iter()
                    .map(|l| l.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}
