//! Any ONNX image classifier, read without protoc and run by deepinside's own interpreter,
//! so that its gradients are exact and every ReLU-like node obeys the [`BackwardRule`]
//! (docs/onnx.md).
//!
//! Loading normalises the graph (constants, identities, shape arithmetic and batch norm
//! folded, an output Softmax removed); running evaluates node by node on the custom ops of
//! [`crate::ops`] where a node is a convolution, a linear layer, a pooling or a ReLU-like
//! unit, and on candle's differentiable ops otherwise.
//!
//! [`BackwardRule`]: crate::BackwardRule
mod conv;
mod einsum;
mod graph;
mod host;
mod host_ops;
mod labels;
mod lower;
mod model;
mod preprocessor;
mod proto;
mod run;
#[cfg(test)]
mod tests;

pub use labels::load_labels;
pub use model::{GraphSummary, OnnxModel, OnnxOptions};
pub use preprocessor::{
    parse_preprocessor_config, preprocessing_beside, torchvision_default, torchvision_default_at,
    PREPROCESSOR_CONFIG,
};
pub use run::SUPPORTED_OPS;
