//! Typed errors of the attribution crate.

/// What can go wrong when attributing.
#[derive(Debug, thiserror::Error)]
pub enum AttributionError {
    /// A class, layer, channel or neuron that the model does not have.
    #[error("{0}")]
    Target(String),
    /// An input the method cannot take (an image over a size limit, say).
    #[error("unsupported input: {0}")]
    Input(String),
    /// A map with nothing to show (all zero or not finite).
    #[error("degenerate attribution: {0}")]
    Degenerate(String),
    /// An error from the model.
    #[error(transparent)]
    Model(#[from] convnet::ConvnetError),
    /// An error from the tensor library.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// Writing an output file failed.
    #[error("writing {path}: {reason}")]
    Write { path: String, reason: String },
}

pub type Result<T> = std::result::Result<T, AttributionError>;
