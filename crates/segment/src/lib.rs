//! # deepinside-segment
//!
//! From an RGB image and a saliency map to an object mask and its box, as in Simonyan,
//! Vedaldi & Zisserman (2013), Sect. 3.2: foreground/background seeds from saliency
//! quantiles, Gaussian-mixture colour models, a GrabCut-style graph and a minimum cut,
//! the largest connected component, its bounding box.
//!
//! Knows nothing of neural networks: inputs are `image::RgbImage` and an `ndarray` map.
//! The [`Segmenter`] trait is what callers depend on, so another segmentation method can be
//! swapped in. The Boykov–Kolmogorov max-flow ([`maxflow`]) is usable on its own for any
//! graph.
//!
//! ```
//! use segment::{GraphCutSegmenter, Segmenter};
//! let img = image::RgbImage::from_fn(32, 32, |x, y| {
//!     if (8..24).contains(&x) && (8..24).contains(&y) { image::Rgb([220, 40, 40]) } else { image::Rgb([30, 90, 30]) }
//! });
//! let saliency = ndarray::Array2::from_shape_fn((32, 32), |(y, x)| {
//!     if (10..22).contains(&x) && (10..22).contains(&y) { 1.0 + (x * y) as f32 * 1e-3 } else { (x + y) as f32 * 1e-4 }
//! });
//! let seg = GraphCutSegmenter::default().segment(&img, &saliency)?;
//! let b = seg.bbox.unwrap();
//! assert_eq!((b.x0, b.y0, b.x1, b.y1), (8, 8, 23, 23));
//! # Ok::<(), segment::SegmentError>(())
//! ```
mod components;
mod error;
pub mod gmm;
mod grabcut;
mod graphcut;
pub mod maxflow;
mod seeds;
mod threshold;

pub use components::{bounding_box, component_boxes, largest_component, BoundingBox};
pub use error::{Result, SegmentError};
pub use grabcut::{build_graph, contrast_beta, contrast_weights, pairwise_graph, set_unaries};
pub use graphcut::{colour_unaries, seed_fallback_box, GraphCutParams, GraphCutSegmenter, Unaries};
pub use seeds::{quantile, quantile_seeds, Seeds};
pub use threshold::ThresholdSegmenter;

use image::RgbImage;
use ndarray::Array2;

/// What a segmentation found.
#[derive(Clone, Debug)]
pub struct Segmentation {
    /// Every pixel labelled foreground.
    pub foreground: Array2<bool>,
    /// The largest 8-connected foreground component.
    pub object: Array2<bool>,
    /// Tight box around `object`; `None` means "no object".
    pub bbox: Option<BoundingBox>,
    pub seeds: Seeds,
    /// Value of the minimum cut (0 when no cut was made).
    pub flow: f64,
    /// Fallbacks taken and other remarks, for the user.
    pub notes: Vec<String>,
}

impl Segmentation {
    /// An explicit "no object" result.
    pub fn nothing(dim: (usize, usize), seeds: Seeds, notes: Vec<String>) -> Self {
        Segmentation {
            foreground: Array2::from_elem(dim, false),
            object: Array2::from_elem(dim, false),
            bbox: None,
            seeds,
            flow: 0.0,
            notes,
        }
    }
}

/// The checks every segmenter makes: map and image of the same non-empty size, every map
/// value finite.
pub fn check_inputs(image: &RgbImage, saliency: &Array2<f32>) -> Result<()> {
    let (h, w) = saliency.dim();
    if image.width() as usize != w || image.height() as usize != h {
        return Err(SegmentError::SizeMismatch {
            map_h: h,
            map_w: w,
            img_h: image.height() as usize,
            img_w: image.width() as usize,
        });
    }
    if h == 0 || w == 0 {
        return Err(SegmentError::Empty);
    }
    if let Some(((row, col), &value)) = saliency.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(SegmentError::NonFinite { row, col, value });
    }
    Ok(())
}

/// A method that turns an image and its saliency map into an object segmentation.
pub trait Segmenter: Send + Sync {
    /// Segments `image` guided by `saliency` (same height and width).
    fn segment(&self, image: &RgbImage, saliency: &Array2<f32>) -> Result<Segmentation>;
    /// A short name for reports.
    fn name(&self) -> &str;
}
