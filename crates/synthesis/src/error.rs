//! Typed errors of the synthesis crate.

/// What can go wrong when synthesising an image.
#[derive(Debug, thiserror::Error)]
pub enum SynthesisError {
    /// A setting outside its domain (steps, λ, step size, sizes...).
    #[error("invalid setting: {0}")]
    Setting(String),
    /// A target the model does not have, or one that cannot be optimised.
    #[error("{0}")]
    Target(String),
    /// An error from the model.
    #[error(transparent)]
    Model(#[from] convnet::ConvnetError),
    /// An error from the tensor library.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, SynthesisError>;
