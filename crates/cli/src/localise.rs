//! The localisation pipeline of the paper (Sect. 3.2), composed from the crates:
//! saliency of each top-k class (attribution) → GraphCut segmentation (segment) → box.
use attribution::{attribute, Method, Reduction, Target};
use convnet::ImageModel;
use image::RgbImage;
use ndarray::Array2;
use segment::{seed_fallback_box, BoundingBox, GraphCutSegmenter, Segmenter};

/// Settings of a localisation method.
pub struct Preset {
    pub method: Method,
    pub reduction: Reduction,
    pub segmenter: Box<dyn Segmenter>,
    /// Box of the largest seed component when the cut finds nothing (the Python peer's rule).
    pub seed_fallback: bool,
}

impl Preset {
    /// The paper's procedure as written: one backprop per class, max-abs map, 95 % / 30 %
    /// seeds, 5-component GMMs, GraphCut (γ = 50), largest component.
    pub fn paper() -> Self {
        Preset {
            method: Method::Gradient,
            reduction: Reduction::MaxAbs,
            segmenter: Box::new(GraphCutSegmenter::default()),
            seed_fallback: true,
        }
    }

    pub fn by_name(name: &str) -> anyhow::Result<Self> {
        match name {
            "paper" => Ok(Self::paper()),
            other => anyhow::bail!("unknown preset `{other}`; available: paper"),
        }
    }
}

/// An inclusive pixel box of the model-size image, in the pixels of an image `sx` times
/// wider and `sy` times taller: pixel `x` covers `[x, x + 1)`, so the far edge scales as `x1 + 1`.
pub fn to_image_box(b: BoundingBox, sx: f64, sy: f64) -> ilsvrc::BoxF {
    ilsvrc::BoxF::new(
        b.x0 as f64 * sx,
        b.y0 as f64 * sy,
        (b.x1 + 1) as f64 * sx - 1.0,
        (b.y1 + 1) as f64 * sy - 1.0,
    )
}

/// A class, its score, its saliency map and the box made from it (input-size pixels).
pub struct ClassBox {
    pub class: usize,
    pub score: f32,
    pub map: Array2<f32>,
    /// The largest foreground component (all false when nothing was found).
    pub mask: Array2<bool>,
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
) -> anyhow::Result<Vec<ClassBox>> {
    let mut targets = Target::top_k(k);
    targets.extend(extra.iter().map(|&c| Target::Class(c)));
    let per_target = attribute(model, x, &targets, preset.method)?.remove(0);
    let mut out = Vec::with_capacity(per_target.len());
    for a in per_target {
        let map = a.map(preset.reduction);
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
            class: a.target.class.unwrap_or(usize::MAX),
            score: a.score,
            map,
            mask: seg.object.clone(),
            bbox,
            notes,
        });
    }
    Ok(out)
}
