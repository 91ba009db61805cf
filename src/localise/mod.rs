//! The paper's weakly supervised localisation (Sect. 3.2), composed from the crates: an
//! attribution map of each class (`attribution`) → a segmentation (`segment`) → its box.
//!
//! A [`Preset`] says where the maps come from and which [`Segmenter`] cuts them; any type
//! implementing `Segmenter` can be put in, e.g. a segmenter of one's own
//! (`examples/custom_segmenter.rs`).
//!
//! ```
//! use deepinside::{convnet, localise::{localise, Preset}};
//! # let cat = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/samples/chelsea.png");
//! let model = convnet::load_model(convnet::ModelKind::EfficientNetLite0, None, &candle_core::Device::Cpu)?;
//! let (shown, x) = model.preprocessing().prepare(&convnet::preprocess::load_rgb(cat.as_ref())?, model.device())?;
//! let boxes = localise(&*model, &Preset::paper(), &shown, &x, 5, &[])?; // the top-5 classes
//! let (class, bbox) = (boxes[0].class, boxes[0].bbox.unwrap()); // in `shown`'s 224 × 224 pixels
//! # assert!((281..=285).contains(&class) && bbox.width() > 10, "{class} {bbox:?}");
//! # Ok::<(), deepinside::Error>(())
//! ```
mod figures;
mod maps;
mod preset;

pub use figures::{boxes_picture, draw_box, presets_figure, steps_figure};
pub use preset::{MapSource, Preset, BEST_SHORT_SIDE, PRESET_HELP};

use crate::error::Result;
use convnet::{ImageModel, InputWindow, Target};
use image::RgbImage;
use ndarray::Array2;
use segment::{seed_fallback_box, BoundingBox, Segmentation};

/// An inclusive pixel box of the model input (or of a map covering it) in the pixels of a
/// `to`-sized image, through the [`InputWindow`] the preprocessing made the input from
/// (the whole image when squashed, the centre crop's rectangle when cropped): pixel `x`
/// covers `[x, x + 1)`, so the far edge maps as `x1 + 1`. The result always lies inside the
/// `to` image with `x0 ≤ x1` and `y0 ≤ y1`: an image smaller than the model's input (1 × 1,
/// say) gets the pixels its box covers, at least one. For a squashed image at least as
/// large as the input the clamps change nothing.
pub fn to_image_box(b: BoundingBox, window: &InputWindow, to: (u32, u32)) -> ilsvrc::BoxF {
    let axis = |lo: u32, hi: u32, offset: f64, s: f64, n_to: u32| {
        let last = (n_to.max(1) - 1) as f64;
        let a = (offset + lo as f64 * s).clamp(0.0, last);
        let b = (offset + (hi + 1) as f64 * s - 1.0).clamp(a, last);
        (a, b)
    };
    let (x0, x1) = axis(b.x0, b.x1, window.left, window.scale_x, to.0);
    let (y0, y1) = axis(b.y0, b.y1, window.top, window.scale_y, to.1);
    ilsvrc::BoxF::new(x0, y0, x1, y1)
}

/// The inverse of [`to_image_box`] for an image box (ground truth, say): its rectangle in
/// the model input's pixels, unclamped (part of it may lie outside a centre crop).
pub fn to_input_box(b: &ilsvrc::BoxF, window: &InputWindow) -> ilsvrc::BoxF {
    let (x0, y0) = window.to_input(b.x0, b.y0);
    let (x1, y1) = window.to_input(b.x1 + 1.0, b.y1 + 1.0);
    ilsvrc::BoxF::new(x0, y0, x1 - 1.0, y1 - 1.0)
}

/// A class, its score, its saliency map and the box made from it (input-size pixels).
pub struct ClassBox {
    pub class: usize,
    pub score: f32,
    pub map: Array2<f32>,
    /// Seeds, GraphCut foreground and its largest component (`object`).
    pub segmentation: Segmentation,
    /// The box: the segmentation's, or the seed fallback's when the cut found nothing.
    pub bbox: Option<BoundingBox>,
    pub notes: Vec<String>,
}

/// Boxes for the top-`k` classes of one image, and for `extra` classes (e.g. the true
/// class, for GT-known accuracy). `image` is the model-size image, `x` its normalised tensor.
pub fn localise(
    model: &dyn ImageModel,
    preset: &Preset,
    image: &RgbImage,
    x: &candle_core::Tensor,
    k: usize,
    extra: &[usize],
) -> Result<Vec<ClassBox>> {
    let mut targets = Target::top_k(k);
    targets.extend(extra.iter().map(|&c| Target::Class(c)));
    let per_target = preset.maps(model, image, x, &targets)?;
    let mut out = Vec::with_capacity(per_target.len());
    for (map, class, score) in per_target {
        let seg = preset.segmenter.segment(image, &map)?;
        let mut notes = seg.notes.clone();
        let bbox = match seg.bbox {
            Some(b) => Some(b),
            None if preset.seed_fallback => {
                notes.push("no object: box of the largest foreground-seed component".into());
                seed_fallback_box(&seg)
            }
            None => None,
        };
        out.push(ClassBox {
            class: class.unwrap_or(usize::MAX),
            score,
            map,
            segmentation: seg,
            bbox,
            notes,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ilsvrc::BoxF;

    fn valid_inside(b: &BoxF, (w, h): (u32, u32)) -> bool {
        0.0 <= b.x0
            && b.x0 <= b.x1
            && b.x1 <= (w - 1) as f64
            && 0.0 <= b.y0
            && b.y0 <= b.y1
            && b.y1 <= (h - 1) as f64
    }

    #[test]
    fn boxes_of_a_centre_crop_map_into_the_image_and_back() {
        // torchvision's Resize(256) + CenterCrop(224) of a 500 × 375 image: the input covers
        // x from 58 · 500/341 ≈ 85.0 to (58 + 224) · 500/341 ≈ 413.5 of the image.
        let mut p = convnet::Preprocessing::torchvision_imagenet();
        p.resize = convnet::Resize::ShorterSideThenCrop(256);
        let window = p.window(500, 375);
        let whole = BoundingBox {
            x0: 0,
            y0: 0,
            x1: 223,
            y1: 223,
        };
        let r = to_image_box(whole, &window, (500, 375));
        assert!((r.x0 - 58.0 * 500.0 / 341.0).abs() < 1e-9, "{r:?}");
        assert!((r.x1 - (282.0 * 500.0 / 341.0 - 1.0)).abs() < 1e-9, "{r:?}");
        assert!((r.y1 - (240.0 * 375.0 / 256.0 - 1.0)).abs() < 1e-9, "{r:?}");
        let b = BoundingBox {
            x0: 20,
            y0: 30,
            x1: 120,
            y1: 200,
        };
        let back = to_input_box(&to_image_box(b, &window, (500, 375)), &window);
        for (got, want) in [
            (back.x0, 20.0),
            (back.y0, 30.0),
            (back.x1, 120.0),
            (back.y1, 200.0),
        ] {
            assert!((got - want).abs() < 1e-9, "{back:?}");
        }
    }

    #[test]
    fn boxes_map_into_any_image_size_and_stay_inside_it() {
        let b = BoundingBox {
            x0: 24,
            y0: 128,
            x1: 200,
            y1: 150,
        };
        // An image larger than the input: the far edge scales as x1 + 1, nothing is clamped.
        let stretch = |to| InputWindow::stretch((224, 224), to);
        let big = to_image_box(b, &stretch((448, 224)), (448, 224));
        assert_eq!(
            (big.x0, big.x1, big.y0, big.y1),
            (48.0, 401.0, 128.0, 150.0)
        );
        // 1 × 1 (was x1 < x0, negative) and 1 × 5000 images: valid, inside, one pixel wide.
        for size in [(1, 1), (1, 5000), (5000, 1), (3, 7)] {
            let r = to_image_box(b, &stretch(size), size);
            assert!(valid_inside(&r, size), "{size:?}: {r:?}");
        }
        let whole = BoundingBox {
            x0: 0,
            y0: 0,
            x1: 223,
            y1: 223,
        };
        let r = to_image_box(whole, &stretch((1, 5000)), (1, 5000));
        assert_eq!((r.x0, r.x1, r.y0, r.y1), (0.0, 0.0, 0.0, 4999.0));
    }
}
