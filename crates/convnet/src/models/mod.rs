//! The model abstraction that attribution and synthesis differentiate through, and the
//! built-in models.
mod capture;
pub mod efficientnet_lite;
mod linear_pixels;
pub mod paper_net;
pub mod randomise;
mod registry;
pub mod vgg16;

pub use capture::Capture;
pub(crate) use capture::LayerTable;
pub use efficientnet_lite::EfficientNetLite0;
pub use linear_pixels::LinearPixelModel;
pub use paper_net::PaperNet;
pub use randomise::{randomise_state_dict, WeightGroup};
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
    /// Layers whose output gradient is wanted: each gets a zero-valued variable added, which
    /// [`ForwardOutput::probes`] returns (the gradient of a score with respect to it is the
    /// gradient with respect to the layer's output, e.g. for Grad-CAM).
    pub probe: Vec<String>,
}

impl ForwardOptions {
    pub fn with_rule(rule: BackwardRule) -> Self {
        ForwardOptions {
            rule,
            ..ForwardOptions::default()
        }
    }
}

/// Logits and the captured intermediate activations of a forward pass.
#[derive(Clone, Debug)]
pub struct ForwardOutput {
    /// Unnormalised class scores `[batch, classes]` (never softmax).
    pub logits: Tensor,
    pub activations: BTreeMap<String, Tensor>,
    /// The probe variable of each layer named in [`ForwardOptions::probe`].
    pub probes: BTreeMap<String, candle_core::Var>,
}

/// What every model knows about itself besides its weights.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    /// The model's name, e.g. `efficientnet-lite0`.
    pub name: String,
    /// Input size and normalisation.
    pub preprocessing: Preprocessing,
    /// Class identities of the logits.
    pub classes: ClassNames,
    /// Every layer that can be captured, in forward order.
    pub layers: Vec<LayerInfo>,
    /// The device the model computes on.
    pub device: Device,
    /// For a model loaded from a graph file: what the loader found and chose.
    pub graph: Option<crate::onnx::GraphSummary>,
}

/// An image classifier that can be differentiated with respect to its input.
pub trait ImageModel: Send + Sync {
    /// Name, preprocessing, classes, layers and device.
    fn info(&self) -> &ModelInfo;
    /// Forward pass from a normalised `[batch, 3, h, w]` input.
    fn forward_with(&self, x: &Tensor, opts: &ForwardOptions) -> Result<ForwardOutput>;

    fn name(&self) -> &str {
        &self.info().name
    }
    fn preprocessing(&self) -> &Preprocessing {
        &self.info().preprocessing
    }
    fn classes(&self) -> &ClassNames {
        &self.info().classes
    }
    fn layers(&self) -> &[LayerInfo] {
        &self.info().layers
    }
    fn device(&self) -> &Device {
        &self.info().device
    }

    /// The model's weight layers from the output down, the steps of the cascading
    /// randomisation test (empty when the model cannot randomise its weights).
    fn weight_groups(&self) -> Vec<WeightGroup> {
        Vec::new()
    }

    /// A copy of the model with the weights of its first `depth` [`weight_groups`](Self::weight_groups)
    /// re-drawn at random (see [`randomise`]).
    fn randomised(&self, depth: usize, seed: u64) -> Result<Box<dyn ImageModel>> {
        let _ = (depth, seed);
        Err(ConvnetError::Unsupported(format!(
            "{} cannot re-draw its weights for the randomisation test",
            self.name()
        )))
    }

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
