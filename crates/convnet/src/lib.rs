//! # deepinside-convnet
//!
//! ImageNet classifiers on [candle](https://github.com/huggingface/candle) that the rest of
//! deepinside differentiates through: EfficientNet-Lite0 (loaded from the published PyTorch
//! checkpoint), torchvision's VGG16 and the network of Simonyan, Vedaldi & Zisserman (2013).
//!
//! What sets it apart from a plain candle model is the backward pass: every ReLU-like unit
//! goes through one switchable [`BackwardRule`] (gradient, DeconvNet, guided backprop),
//! max-pooling routes gradients through its switches, and convolutions compute input
//! gradients only — all matched to PyTorch to float32 precision.
//!
//! ```no_run
//! use convnet::{load_model, BackwardRule, ForwardOptions, ModelKind};
//! use candle_core::Device;
//! let model = load_model(ModelKind::EfficientNetLite0, None, &Device::Cpu)?;
//! let x = candle_core::Var::from_tensor(
//!     &model.preprocessing().load("cat.jpg".as_ref(), &Device::Cpu)?)?;
//! let out = model.forward_with(x.as_tensor(), &ForwardOptions::with_rule(BackwardRule::Gradient))?;
//! let score = out.logits.narrow(1, 281, 1)?.sum_all()?;
//! let grad = score.backward()?.get(x.as_tensor()).unwrap().clone();
//! # Ok::<(), convnet::ConvnetError>(())
//! ```
pub mod blur;
pub mod classes;
pub mod error;
pub mod layers;
pub mod models;
pub mod onnx;
pub mod ops;
pub mod preprocess;
pub mod rng;
pub mod rule;
pub mod target;
pub mod weights;

pub use classes::{ClassInfo, ClassNames};
pub use error::{ConvnetError, Result};
pub use models::{
    load_model, parse_device, Capture, EfficientNetLite0, ForwardOptions, ForwardOutput,
    ImageModel, LayerInfo, LinearPixelModel, ModelInfo, ModelKind, PaperNet, Vgg16, WeightGroup,
};
pub use onnx::{GraphSummary, OnnxModel, OnnxOptions};
pub use preprocess::{InputWindow, Preprocessing, Resize};
pub use rule::BackwardRule;
pub use target::{top_k, ResolvedTarget, Target};
