//! Typed errors of the composed pipelines: each names what it is about, and the crates'
//! own errors pass through unchanged.

/// What can go wrong when localising or evaluating.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A preset name or ablation spec that does not parse.
    #[error("preset `{spec}`: {reason}")]
    Preset { spec: String, reason: String },
    /// An image whose annotation cannot be scored (no box, a class the model lacks, ...).
    #[error("{0}")]
    Annotation(String),
    /// A model with no layer that the map source needs.
    #[error("{0}")]
    Layer(String),
    /// A plot that could not be drawn.
    #[error("plot `{title}`: {reason}")]
    Plot { title: String, reason: String },
    /// From the model or the image loader.
    #[error(transparent)]
    Model(#[from] convnet::ConvnetError),
    /// From an attribution method.
    #[error(transparent)]
    Attribution(#[from] attribution::AttributionError),
    /// From a segmenter.
    #[error(transparent)]
    Segment(#[from] segment::SegmentError),
    /// From the tensor library.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result type of the composed pipelines.
pub type Result<T> = std::result::Result<T, Error>;
