//! Typed errors of the segment crate.

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// The saliency map and the image differ in size.
    #[error("saliency map is {map_h}×{map_w} but the image is {img_h}×{img_w}")]
    SizeMismatch {
        map_h: usize,
        map_w: usize,
        img_h: usize,
        img_w: usize,
    },
    /// The saliency map contains NaN or infinite values.
    #[error("saliency map has a non-finite value ({value}) at row {row}, column {col}")]
    NonFinite { row: usize, col: usize, value: f32 },
    /// The image has no pixels.
    #[error("image is empty")]
    Empty,
    /// A parameter outside its range.
    #[error("invalid parameter: {0}")]
    Parameter(String),
}

pub type Result<T> = std::result::Result<T, SegmentError>;
