//! Typed errors of the convnet crate. Every variant names the input it is about,
//! so a CLI can print it as is.
use std::path::PathBuf;

/// Everything that can go wrong while loading models, weights or images, or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ConvnetError {
    /// An image file could not be opened, decoded or converted.
    #[error("image {path}: {reason}")]
    Image { path: PathBuf, reason: String },
    /// A weight file is unreadable, truncated, or not the expected model.
    #[error("weights {path}: {reason}")]
    Weights { path: PathBuf, reason: String },
    /// A tensor given to a model has the wrong shape.
    #[error("input of shape {got:?} does not fit {model}: expected {expected}")]
    Shape {
        model: String,
        got: Vec<usize>,
        expected: String,
    },
    /// A class, rank, neuron or channel that the model does not have.
    #[error("{0}")]
    Target(String),
    /// A layer name that the model does not have.
    #[error("model {model} has no layer `{name}`; its layers are: {available}")]
    UnknownLayer {
        model: String,
        name: String,
        available: String,
    },
    /// A model name that is not built in.
    #[error("unknown model `{0}`; built-in models are: efficientnet-lite0, vgg16, paper-net")]
    UnknownModel(String),
    /// Downloading or caching a model failed.
    #[error("fetching {model}: {reason}")]
    Fetch { model: String, reason: String },
    /// A device that is not available in this build or on this machine.
    #[error("device `{device}`: {reason}")]
    Device { device: String, reason: String },
    /// An ONNX file that cannot be read or run, with the node and op it is about.
    #[error("ONNX model {path}: {reason}")]
    Onnx { path: PathBuf, reason: String },
    /// A preprocessing file that cannot be used.
    #[error("preprocessing {path}: {reason}")]
    Preprocessing { path: PathBuf, reason: String },
    /// A class-name file that does not fit the model.
    #[error("labels {path}: {reason}")]
    Labels { path: PathBuf, reason: String },
    /// Something this model cannot do.
    #[error("{0}")]
    Unsupported(String),
    /// An error from the tensor library.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, ConvnetError>;
