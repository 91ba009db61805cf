//! The localisation pipeline of the paper (Sect. 3.2), composed from the crates:
//! saliency of each top-k class (attribution) → GraphCut segmentation (segment) → box.
use attribution::render::{grid, heatmap};
use attribution::{attribute, Method, Reduction, Target};
use convnet::ImageModel;
use ilsvrc::BoxF;
use image::{Rgb, RgbImage};
use ndarray::Array2;
use segment::{seed_fallback_box, BoundingBox, GraphCutSegmenter, Segmentation, Segmenter};

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
            segmentation: seg,
            bbox,
            notes,
        });
    }
    Ok(out)
}

/// Draws the outline of `b` (inclusive pixel box) `thickness` pixels wide, clipped to `img`.
pub fn draw_box(img: &mut RgbImage, b: &BoxF, colour: [u8; 3], thickness: u32) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let clamp = |v: f64, hi: i64| (v.round() as i64).clamp(0, hi - 1) as u32;
    let (x0, y0, x1, y1) = (
        clamp(b.x0, w),
        clamp(b.y0, h),
        clamp(b.x1, w),
        clamp(b.y1, h),
    );
    for t in 0..thickness {
        for x in x0..=x1 {
            for y in [y0.saturating_add(t).min(y1), y1.saturating_sub(t).max(y0)] {
                img.put_pixel(x, y, Rgb(colour));
            }
        }
        for y in y0..=y1 {
            for x in [x0.saturating_add(t).min(x1), x1.saturating_sub(t).max(x0)] {
                img.put_pixel(x, y, Rgb(colour));
            }
        }
    }
}

/// The image darkened, with `mask` pixels painted `colour` (and `mask2` pixels `colour2`).
fn paint(image: &RgbImage, layers: &[(&Array2<bool>, [u8; 3])]) -> RgbImage {
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let at = (y as usize, x as usize);
        for (m, c) in layers {
            if m.get(at).copied().unwrap_or(false) {
                return Rgb(*c);
            }
        }
        let p = image.get_pixel(x, y);
        Rgb(p.0.map(|v| v / 3))
    })
}

/// The paper's Fig. 3 for one class of one model-size image, as one labelled strip: the
/// image, its saliency map, the foreground (red) and background (blue) seeds, the GraphCut
/// foreground, its largest component, and the box (green) with ground truth (red) if known.
pub fn steps_figure(image: &RgbImage, c: &ClassBox, ground_truth: &[BoxF]) -> RgbImage {
    let seg = &c.segmentation;
    let white = [255, 255, 255];
    let mut boxed = image.clone();
    for b in ground_truth {
        draw_box(&mut boxed, b, [230, 30, 30], 2);
    }
    if let Some(b) = c.bbox {
        let b = to_image_box(b, 1.0, 1.0);
        draw_box(&mut boxed, &b, [40, 220, 60], 2);
    }
    let tiles = vec![
        (image.clone(), "image".to_string()),
        (heatmap(&c.map), "saliency".to_string()),
        (
            paint(
                image,
                &[
                    (&seg.seeds.foreground, [255, 40, 40]),
                    (&seg.seeds.background, [40, 80, 255]),
                ],
            ),
            format!("seeds {}/{}", seg.seeds.fg_count(), seg.seeds.bg_count()),
        ),
        (
            paint(image, &[(&seg.foreground, white)]),
            "GraphCut".to_string(),
        ),
        (
            paint(image, &[(&seg.object, white)]),
            "largest component".to_string(),
        ),
        (boxed, "box (green), truth (red)".to_string()),
    ];
    grid(&tiles, tiles.len())
}
