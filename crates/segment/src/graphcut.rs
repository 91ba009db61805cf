//! The paper's segmentation (Sect. 3.2): saliency seeds → GMM colour models → GraphCut →
//! largest connected component → box.
use crate::components::{bounding_box, largest_component, BoundingBox};
use crate::error::{Result, SegmentError};
use crate::gmm::{ColourModel, GmmParams};
use crate::grabcut::{pairwise_graph, set_unaries};
use crate::maxflow::{Network, Side};
use crate::seeds::{quantile_seeds, Seeds};
use crate::{Segmentation, Segmenter};
use image::RgbImage;
use ndarray::Array2;

/// Parameters of [`GraphCutSegmenter`]; the defaults are the paper's procedure.
#[derive(Clone, Debug)]
pub struct GraphCutParams {
    /// Foreground seeds: saliency above this quantile.
    pub fg_quantile: f64,
    /// Background seeds: saliency below this quantile.
    pub bg_quantile: f64,
    /// Weight γ of the contrast-sensitive Potts term.
    pub gamma: f64,
    /// Tie seed pixels to their label.
    pub hard_seeds: bool,
    pub gmm: GmmParams,
}

impl Default for GraphCutParams {
    fn default() -> Self {
        GraphCutParams {
            fg_quantile: 0.95,
            bg_quantile: 0.30,
            gamma: 50.0,
            hard_seeds: false,
            gmm: GmmParams::default(),
        }
    }
}

/// Saliency-seeded GraphCut with GMM colour models and our Boykov–Kolmogorov max-flow.
#[derive(Clone, Debug, Default)]
pub struct GraphCutSegmenter {
    pub params: GraphCutParams,
}

fn colours(img: &RgbImage, mask: &Array2<bool>) -> Array2<f64> {
    let w = img.width() as usize;
    let pts: Vec<f64> = mask
        .iter()
        .enumerate()
        .filter(|(_, m)| **m)
        .flat_map(|(i, _)| {
            let p = img.get_pixel((i % w) as u32, (i / w) as u32);
            [p[0] as f64, p[1] as f64, p[2] as f64]
        })
        .collect();
    Array2::from_shape_vec((pts.len() / 3, 3), pts).expect("three values per pixel")
}

/// The unary terms of the cut: `−log p` of every pixel under the foreground and the
/// background colour model, and what the fits had to say.
#[derive(Clone, Debug)]
pub struct Unaries {
    pub cost_fg: Array2<f64>,
    pub cost_bg: Array2<f64>,
    pub notes: Vec<String>,
}

/// Fits a colour model to each kind of seed and scores every pixel under both. The two
/// models are independent, so each is fitted and scored on its own thread.
pub fn colour_unaries(image: &RgbImage, seeds: &Seeds, params: &GmmParams) -> Unaries {
    let model = |mask: &Array2<bool>| {
        let (m, report) = ColourModel::fit(&colours(image, mask), params);
        (m.neg_log_likelihoods(image), report)
    };
    let ((cost_fg, fg), (cost_bg, bg)) =
        rayon::join(|| model(&seeds.foreground), || model(&seeds.background));
    let notes = (fg
        .notes
        .into_iter()
        .map(|n| format!("foreground model: {n}")))
    .chain(
        bg.notes
            .into_iter()
            .map(|n| format!("background model: {n}")),
    )
    .collect();
    Unaries {
        cost_fg,
        cost_bg,
        notes,
    }
}

impl GraphCutSegmenter {
    pub fn new(params: GraphCutParams) -> Self {
        GraphCutSegmenter { params }
    }

    fn validate(&self, image: &RgbImage, saliency: &Array2<f32>) -> Result<()> {
        let p = &self.params;
        if !(0.0..=1.0).contains(&p.fg_quantile)
            || !(0.0..=1.0).contains(&p.bg_quantile)
            || p.bg_quantile > p.fg_quantile
        {
            return Err(SegmentError::Parameter(format!(
                "quantiles must satisfy 0 ≤ background ({}) ≤ foreground ({}) ≤ 1",
                p.bg_quantile, p.fg_quantile
            )));
        }
        if p.gamma.is_nan() || p.gamma < 0.0 || p.gmm.components == 0 || p.gmm.components > 16 {
            return Err(SegmentError::Parameter(
                "γ must be ≥ 0 and components in 1..=16".into(),
            ));
        }
        crate::check_inputs(image, saliency)
    }
}

impl Segmenter for GraphCutSegmenter {
    fn segment(&self, image: &RgbImage, saliency: &Array2<f32>) -> Result<Segmentation> {
        self.validate(image, saliency)?;
        let p = &self.params;
        let seeds = quantile_seeds(saliency, p.fg_quantile, p.bg_quantile);
        let (dim, mut notes) = (saliency.dim(), Vec::new());
        let (fg_n, bg_n) = (seeds.fg_count(), seeds.bg_count());
        if fg_n == 0 || bg_n == 0 {
            notes.push(format!(
                "no {} seeds: the saliency map is (nearly) constant",
                if fg_n == 0 {
                    "foreground"
                } else {
                    "background"
                }
            ));
            return Ok(Segmentation::nothing(dim, seeds, notes));
        }
        // The pairwise terms depend on the image alone: the graph is built while the
        // models fit.
        let (unaries, mut graph) = rayon::join(
            || colour_unaries(image, &seeds, &p.gmm),
            || pairwise_graph(image, p.gamma),
        );
        let Unaries {
            cost_fg,
            cost_bg,
            notes: fit_notes,
        } = unaries;
        notes.extend(fit_notes);
        let w = image.width() as usize;
        let hard = p
            .hard_seeds
            .then_some((&seeds.foreground, &seeds.background));
        set_unaries(&mut graph, &cost_fg, &cost_bg, hard);
        let flow = graph.maxflow();
        let foreground = Array2::from_shape_fn(dim, |(y, x)| graph.side(y * w + x) == Side::Source);
        let object = largest_component(&foreground);
        let bbox = bounding_box(&object);
        if bbox.is_none() {
            notes.push("the cut labelled no pixel foreground".into());
        }
        Ok(Segmentation {
            foreground,
            object,
            bbox,
            seeds,
            flow,
            notes,
        })
    }

    fn name(&self) -> &str {
        "graphcut"
    }
}

/// The box used when a segmentation finds no object: around the largest connected
/// component of the foreground seeds (what the paper's Python peer falls back to).
pub fn seed_fallback_box(seg: &Segmentation) -> Option<BoundingBox> {
    bounding_box(&largest_component(&seg.seeds.foreground))
}
