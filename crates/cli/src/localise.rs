//! The localisation pipeline of the paper (Sect. 3.2), composed from the crates:
//! an attribution map of each top-k class (attribution) → segmentation (segment) → box.
//! Presets: `paper` (input-gradient saliency → GraphCut, as written) and `best` (10-crop
//! Grad-CAM at the last feature map, short side 384 → CAM's 20 %-of-maximum threshold →
//! largest region).
use attribution::render::{grid, heatmap};
use attribution::{
    attribute, grad_cam, grad_cam_ten_crop, last_spatial_layer, upsample_bilinear, Method,
    Reduction, Target, TenCrop,
};
use convnet::ImageModel;
use ilsvrc::BoxF;
use image::{Rgb, RgbImage};
use ndarray::Array2;
use segment::{
    seed_fallback_box, BoundingBox, GraphCutSegmenter, Segmentation, Segmenter, ThresholdSegmenter,
};

/// Where a class's map comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum MapSource {
    /// The input gradient under a backward rule, reduced over colour (the paper).
    Saliency {
        method: Method,
        reduction: Reduction,
    },
    /// Grad-CAM at a layer (`None`: the model's last feature map), on the image alone
    /// (`crops` 1) or averaged over the paper's ten crops (`crops` 10) of the image resized
    /// to each short side in `scales` (each scale's map divided by its maximum, then
    /// averaged).
    GradCam {
        layer: Option<String>,
        crops: u8,
        scales: Vec<u32>,
        /// Sharpen with the input's guided-backprop map blurred by this σ (pixels): the
        /// map becomes √(CAM · blurred guided), both divided by their maxima — Grad-CAM says
        /// which region, the fine gradient where inside it (Guided Grad-CAM's rationale).
        guide: Option<f32>,
    },
}

/// A class's map at the input size, the class it is for, and that class's score.
type ClassMap = (Array2<f32>, Option<usize>, f32);

/// Settings of a localisation method.
pub struct Preset {
    pub maps: MapSource,
    pub segmenter: Box<dyn Segmenter>,
    /// Box of the largest seed component when the cut finds nothing (the Python peer's rule).
    pub seed_fallback: bool,
}

/// `--preset` of `localise` and `eval`.
pub const PRESET_HELP: &str = "Localisation method: `paper` (saliency → GraphCut), `best` \
    (10-crop Grad-CAM at short side 384 → 20 % threshold), or an ablation spec such as \
    `maps=gradcam,seg=graphcut` (keys: maps, layer, crops, scales, guide, seg, frac, regions, \
    fg, bg, gamma, hard, samples, init, fit; see docs/localisation.md)";

/// The `best` preset's 10-crop short side: the crops (224) then cover 58 % of each side,
/// so the network sees the image 1.7× larger than at the paper's 256 and the averaged map
/// is that much finer (7 × 7 cells of 19 instead of 28 image pixels) — small objects were
/// boxed too large at 256. Chosen on the 300 dev images from 256/320/384/448 (GT-known
/// 66.3/68.0/68.0/67.0 %, MaxBoxAccV2 64.3/65.0/68.2/67.4 %): the middle of the plateau,
/// not an edge of it; docs/localisation.md.
pub const BEST_SHORT_SIDE: u32 = 384;

/// The paper's GraphCut settings: 95 % / 30 % seeds, γ = 50, soft seeds, 5-component
/// full-covariance GMMs fitted as scikit-learn (and GrabCut) do — K-means start, every seed
/// pixel — which is what the PyTorch peer of the paper preset runs; the `segment` crate's
/// faster default (random start, 2048 samples) moved boxes enough to put top-1 localisation
/// error 5 points away from the peer's (docs/localisation.md).
fn paper_cut() -> segment::GraphCutParams {
    let mut cut = segment::GraphCutParams::default();
    cut.gmm.init = segment::gmm::GmmInit::KMeans;
    cut.gmm.max_samples = usize::MAX;
    cut
}

impl Preset {
    /// The paper's procedure as written: one backprop per class, max-abs map, 95 % / 30 %
    /// seeds, 5-component GMMs, GraphCut (γ = 50), largest component.
    pub fn paper() -> Self {
        Preset {
            maps: MapSource::Saliency {
                method: Method::Gradient,
                reduction: Reduction::MaxAbs,
            },
            segmenter: Box::new(GraphCutSegmenter {
                params: paper_cut(),
            }),
            seed_fallback: true,
        }
    }

    /// Grad-CAM of each class at the last feature map, averaged over the paper's ten crops
    /// of the image resized to short side [`BEST_SHORT_SIDE`], box around the largest region
    /// above 20 % of the map's maximum (CAM's rule, fixed beforehand, not tuned on dev).
    /// Ablation in docs/localisation.md.
    pub fn best() -> Self {
        Preset {
            maps: MapSource::GradCam {
                layer: None,
                crops: 10,
                scales: vec![BEST_SHORT_SIDE],
                guide: None,
            },
            segmenter: Box::new(ThresholdSegmenter::default()),
            seed_fallback: false,
        }
    }

    /// `paper`, `best`, or a spec for ablations: comma-separated `key=value` among
    /// `maps=saliency|deconvnet|guided|gradcam`, `layer=NAME` (Grad-CAM layer), `crops=1|10`, `scales=256+320` (10-crop short sides),
    /// `seg=graphcut|threshold`, `frac=F` (threshold fraction of the maximum),
    /// `regions=largest|all`, `fg=Q`, `bg=Q` (seed quantiles), `gamma=G`, `hard=true|false`
    /// (seeds fixed to their label), `samples=N|all`, `init=random|kmeans` and `fit=em|linfa` (GMM fit), starting
    /// from the paper's settings, e.g. `maps=gradcam,seg=graphcut`.
    pub fn by_name(name: &str) -> anyhow::Result<Self> {
        match name {
            "paper" => return Ok(Self::paper()),
            "best" => return Ok(Self::best()),
            _ => {}
        }
        if !name.contains('=') {
            anyhow::bail!(
                "unknown preset `{name}`; available: paper, best, or key=value,... (see --help)"
            );
        }
        let mut maps = MapSource::Saliency {
            method: Method::Gradient,
            reduction: Reduction::MaxAbs,
        };
        let mut threshold: Option<ThresholdSegmenter> = None;
        let mut cut = paper_cut();
        for kv in name.split(',') {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("preset spec `{kv}` is not key=value"))?;
            let num = |v: &str| -> anyhow::Result<f64> {
                v.parse::<f64>()
                    .map_err(|_| anyhow::anyhow!("preset spec {k}: `{v}` is not a number"))
            };
            match (k, v) {
                ("maps", "gradcam") => {
                    maps = MapSource::GradCam {
                        layer: None,
                        crops: 1,
                        scales: vec![TenCrop::default().short_side],
                        guide: None,
                    }
                }
                ("crops", c) => match &mut maps {
                    MapSource::GradCam { crops, .. } if c == "1" || c == "10" => {
                        *crops = if c == "1" { 1 } else { 10 }
                    }
                    _ => anyhow::bail!("crops=1|10 follows maps=gradcam or layer=NAME"),
                },
                ("scales", list) => match &mut maps {
                    MapSource::GradCam { scales, .. } => {
                        *scales = list
                            .split('+')
                            .map(|v| v.parse::<u32>().ok().filter(|&s| s >= 224))
                            .collect::<Option<Vec<_>>>()
                            .ok_or_else(|| {
                                anyhow::anyhow!(
                                    "scales=A+B+…: short sides of at least 224, got `{list}`"
                                )
                            })?
                    }
                    _ => anyhow::bail!("scales follows maps=gradcam or layer=NAME"),
                },
                ("guide", g) => match &mut maps {
                    MapSource::GradCam { guide, .. } => {
                        *guide = Some(num(g)? as f32).filter(|s| *s > 0.0);
                    }
                    _ => anyhow::bail!("guide follows maps=gradcam or layer=NAME"),
                },
                ("maps", m) => {
                    maps = MapSource::Saliency {
                        method: m.parse().map_err(anyhow::Error::msg)?,
                        reduction: Reduction::MaxAbs,
                    }
                }
                ("layer", l) => {
                    maps = MapSource::GradCam {
                        layer: Some(l.to_string()),
                        crops: 1,
                        scales: vec![TenCrop::default().short_side],
                        guide: None,
                    }
                }
                ("seg", "graphcut") => threshold = None,
                ("seg", "threshold") => threshold = Some(threshold.unwrap_or_default()),
                ("frac", f) => {
                    threshold.get_or_insert_with(Default::default).fraction = num(f)? as f32
                }
                ("regions", r) => {
                    threshold.get_or_insert_with(Default::default).largest = match r {
                        "largest" => true,
                        "all" => false,
                        _ => anyhow::bail!("regions is largest or all, got `{r}`"),
                    }
                }
                ("fg", q) => cut.fg_quantile = num(q)?,
                ("bg", q) => cut.bg_quantile = num(q)?,
                ("gamma", g) => cut.gamma = num(g)?,
                ("hard", h) => {
                    cut.hard_seeds = match h {
                        "true" => true,
                        "false" => false,
                        _ => anyhow::bail!("hard is true or false, got `{h}`"),
                    }
                }
                ("samples", "all") => cut.gmm.max_samples = usize::MAX,
                ("samples", n) => {
                    cut.gmm.max_samples = n.parse().map_err(|_| {
                        anyhow::anyhow!("preset spec samples: `{n}` is not a count or `all`")
                    })?
                }
                ("init", i) => cut.gmm.init = i.parse().map_err(anyhow::Error::msg)?,
                ("fit", f) => cut.gmm.engine = f.parse().map_err(anyhow::Error::msg)?,
                _ => anyhow::bail!("unknown preset spec `{kv}`"),
            }
        }
        Ok(match threshold {
            Some(t) => Preset {
                maps,
                segmenter: Box::new(t),
                seed_fallback: false,
            },
            None => Preset {
                maps,
                segmenter: Box::new(GraphCutSegmenter { params: cut }),
                seed_fallback: true,
            },
        })
    }

    /// The map of every target for the one image of `x`.
    fn maps(
        &self,
        model: &dyn ImageModel,
        image: &RgbImage,
        x: &candle_core::Tensor,
        targets: &[Target],
    ) -> anyhow::Result<Vec<ClassMap>> {
        Ok(match &self.maps {
            MapSource::Saliency { method, reduction } => attribute(model, x, targets, *method)?
                .remove(0)
                .into_iter()
                .map(|a| (a.map(*reduction), a.target.class, a.score))
                .collect(),
            MapSource::GradCam {
                layer,
                crops,
                scales,
                guide,
            } => {
                let mut maps = cam_maps(model, image, x, targets, layer, *crops, scales)?;
                if let Some(sigma) = guide {
                    let guided = attribute(model, x, targets, Method::GuidedBackprop)?.remove(0);
                    for (m, g) in maps.iter_mut().zip(guided) {
                        let fine = attribution::blurred(&g.map(Reduction::MaxAbs), *sigma);
                        let (c, f) = (unit_max(&m.0), unit_max(&fine));
                        m.0 = ndarray::Zip::from(&c)
                            .and(&f)
                            .map_collect(|a, b| (a * b).sqrt());
                    }
                }
                maps
            }
        })
    }
}

/// A non-negative map divided by its maximum (all zeros if it has none), so that maps of
/// different scales or sources can be averaged or multiplied.
fn unit_max(a: &Array2<f32>) -> Array2<f32> {
    let max = a.fold(0f32, |x, &v| x.max(v));
    a.mapv(|v| if max > 0.0 { v.max(0.0) / max } else { 0.0 })
}

/// Grad-CAM maps of `targets` at the input size: single crop, or 10-crop at each scale.
fn cam_maps(
    model: &dyn ImageModel,
    image: &RgbImage,
    x: &candle_core::Tensor,
    targets: &[Target],
    layer: &Option<String>,
    crops: u8,
    scales: &[u32],
) -> anyhow::Result<Vec<ClassMap>> {
    let layer = match layer {
        Some(l) => l.clone(),
        None => last_spatial_layer(model)
            .ok_or_else(|| anyhow::anyhow!("{} has no feature map for Grad-CAM", model.name()))?,
    };
    if crops == 1 {
        return Ok(grad_cam(model, x, targets, &layer)?
            .remove(0)
            .into_iter()
            .map(|c| (c.map, c.target.class, c.score))
            .collect());
    }
    // Ranks are decided on the image itself, as for the single-crop maps.
    let logits: Vec<f32> = model.forward(x)?.get(0)?.to_vec1()?;
    let fixed: Vec<Target> = targets.iter().map(|t| t.fixed_for(&logits)).collect();
    let (h, w) = (image.height() as usize, image.width() as usize);
    let mut sum: Vec<ClassMap> = Vec::new();
    for &short_side in scales {
        let maps = grad_cam_ten_crop(model, image, &fixed, &layer, TenCrop { short_side })?;
        for (i, c) in maps.into_iter().enumerate() {
            let mut m = upsample_bilinear(&c.map, h, w);
            if scales.len() > 1 {
                m = unit_max(&m);
            }
            match sum.get_mut(i) {
                Some(acc) => acc.0 += &m,
                None => {
                    let class = c.target.class;
                    let score = class.map_or(c.score, |k| logits[k]);
                    sum.push((m, class, score));
                }
            }
        }
    }
    Ok(sum)
}

/// An inclusive pixel box of a `from`-sized image (the model-size image or its map) in the
/// pixels of a `to`-sized one: pixel `x` covers `[x, x + 1)`, so the far edge scales as
/// `x1 + 1`. The result always lies inside the `to` image with `x0 ≤ x1` and `y0 ≤ y1`: an
/// image smaller than the model's input (1 × 1, say) gets the pixels its box covers, at
/// least one. For an image at least as large as `from` the clamps change nothing.
pub fn to_image_box(b: BoundingBox, from: (u32, u32), to: (u32, u32)) -> ilsvrc::BoxF {
    let axis = |lo: u32, hi: u32, n_from: u32, n_to: u32| {
        let s = n_to as f64 / n_from.max(1) as f64;
        let last = (n_to.max(1) - 1) as f64;
        let a = (lo as f64 * s).clamp(0.0, last);
        let b = ((hi + 1) as f64 * s - 1.0).clamp(a, last);
        (a, b)
    };
    let (x0, x1) = axis(b.x0, b.x1, from.0, to.0);
    let (y0, y1) = axis(b.y0, b.y1, from.1, to.1);
    ilsvrc::BoxF::new(x0, y0, x1, y1)
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

/// The image darkened to a third, with the pixels of each `(mask, colour)` layer painted in
/// its colour (the first layer that covers a pixel wins).
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
        let b = to_image_box(b, image.dimensions(), image.dimensions());
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

/// The two presets side by side for one class: the best preset's map and region, and the
/// image with both boxes (paper yellow, best green, truth red).
pub fn presets_figure(
    image: &RgbImage,
    paper: &ClassBox,
    best: &ClassBox,
    ground_truth: &[BoxF],
) -> RgbImage {
    let mut boxed = image.clone();
    for b in ground_truth {
        draw_box(&mut boxed, b, [230, 30, 30], 2);
    }
    for (c, colour) in [(paper, [240, 220, 40]), (best, [40, 220, 60])] {
        if let Some(b) = c.bbox {
            let b = to_image_box(b, image.dimensions(), image.dimensions());
            draw_box(&mut boxed, &b, colour, 2);
        }
    }
    let tiles = vec![
        (heatmap(&best.map), "10-crop Grad-CAM".to_string()),
        (
            paint(image, &[(&best.segmentation.object, [255, 255, 255])]),
            "region > 20 % of max".to_string(),
        ),
        (boxed, "paper (yellow), best (green)".to_string()),
    ];
    grid(&tiles, tiles.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_inside(b: &BoxF, (w, h): (u32, u32)) -> bool {
        0.0 <= b.x0
            && b.x0 <= b.x1
            && b.x1 <= (w - 1) as f64
            && 0.0 <= b.y0
            && b.y0 <= b.y1
            && b.y1 <= (h - 1) as f64
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
        let big = to_image_box(b, (224, 224), (448, 224));
        assert_eq!(
            (big.x0, big.x1, big.y0, big.y1),
            (48.0, 401.0, 128.0, 150.0)
        );
        // 1 × 1 (was x1 < x0, negative) and 1 × 5000 images: valid, inside, one pixel wide.
        for size in [(1, 1), (1, 5000), (5000, 1), (3, 7)] {
            let r = to_image_box(b, (224, 224), size);
            assert!(valid_inside(&r, size), "{size:?}: {r:?}");
        }
        let whole = BoundingBox {
            x0: 0,
            y0: 0,
            x1: 223,
            y1: 223,
        };
        let r = to_image_box(whole, (224, 224), (1, 5000));
        assert_eq!((r.x0, r.x1, r.y0, r.y1), (0.0, 0.0, 0.0, 4999.0));
    }
}
