//! Which map to trust: the attribution methods scored on an ILSVRC-style dataset, per image
//! and over many, on the ground-truth class's map (reduced as `saliency` reduces it:
//! max-abs over colour, spatial maps as they are).
//!
//! - the pointing game (Zhang et al. 2016): the map's maximum within 15 pixels of a box;
//! - MaxBoxAccV2 (Choe et al. 2020), as the localisation task computes it;
//! - deletion and insertion AUC (Petsiuk et al. 2018): [`attribution::faithfulness`];
//! - the cascading model-randomisation check (Adebayo et al. 2018): the map's Spearman rank
//!   correlation and SSIM with the map of the same method on copies of the model whose top
//!   weight layers are re-drawn, one more layer at each depth.
//!
//! [`AttributionResult`] is one image's record, serialisable as the JSON line `eval` writes
//! and resumes from; [`summarise_attribution`] turns records back into the metrics.
use crate::error::{Error, Result};
use crate::evaluate::{
    annotation_window, check_boxes, hit_strings, label_index, maxbox_hits, parse_hit_strings,
    IOU_LEVELS, THRESHOLDS,
};
use attribution::faithfulness::{pixel_curves, Curves, PixelCurves};
use attribution::host::HostImage;
use attribution::similarity::{spearman, ssim};
use attribution::{explain, AttributionMethod, MethodSettings, Reduction};
use convnet::preprocess::load_rgb;
use convnet::{top_k, ImageModel, InputWindow, Target};
use ilsvrc::metrics::{pointing_hit, MaxBoxAcc, POINTING_TOLERANCE};
use ilsvrc::{Dataset, Sample};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The copies of the model for the randomisation check, built once for a whole run.
pub struct Cascade {
    /// The weight layer re-drawn last at each depth (`logits` first).
    pub layers: Vec<String>,
    /// `models[d]` has the top `d + 1` weight layers re-drawn.
    pub models: Vec<Box<dyn ImageModel>>,
}

impl Cascade {
    /// Every depth of `model`'s cascade, seeded.
    pub fn new(model: &dyn ImageModel, seed: u64) -> Result<Self> {
        let groups = model.weight_groups();
        if groups.is_empty() {
            return Err(Error::Layer(format!(
                "{} cannot re-draw its weights, so the randomisation check cannot run on it",
                model.name()
            )));
        }
        let models = (1..=groups.len())
            .map(|d| model.randomised(d, seed))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Cascade {
            layers: groups.into_iter().map(|g| g.layer).collect(),
            models,
        })
    }
}

/// How the methods are run and scored.
pub struct AttributionEval {
    pub methods: Vec<AttributionMethod>,
    pub settings: MethodSettings,
    pub curves: PixelCurves,
    /// The randomisation check's models, when it runs.
    pub cascade: Option<Cascade>,
}

/// One method's scores on one image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodRecord {
    /// The map's maximum, in the annotation's pixels.
    pub peak: (f64, f64),
    pub pointing_hit: bool,
    /// One string per δ of [`IOU_LEVELS`], one `0`/`1` per threshold.
    pub maxbox_hits: Vec<String>,
    pub curves: Curves,
    pub deletion_auc: f64,
    pub insertion_auc: f64,
    /// Spearman ρ with the map at each depth of the cascade (empty when it did not run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sanity_spearman: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sanity_ssim: Vec<f64>,
    /// Seconds the method took to make the map, on the one thread its image had (`eval`
    /// runs one image per core), so a machine of N cores makes maps N times as fast.
    pub seconds: f64,
}

/// One image's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttributionResult {
    pub image: String,
    pub label: usize,
    pub top5: Vec<usize>,
    /// Scores by method name.
    pub methods: BTreeMap<String, MethodRecord>,
}

/// A method's ground-truth-class map of one image, reduced as `saliency` shows it.
pub fn reduced_map(
    model: &dyn ImageModel,
    x: &candle_core::Tensor,
    label: usize,
    method: AttributionMethod,
    settings: &MethodSettings,
) -> Result<Array2<f32>> {
    Ok(explain(model, x, &Target::Class(label), method, settings)?
        .remove(0)
        .map(Reduction::MaxAbs))
}

/// The map's maximum (first in row-major order), mapped from map pixels (the map covers
/// the model input pixel for pixel) through `window` to the centre of the corresponding
/// region of the image, in that image's pixel coordinates.
pub fn peak(map: &Array2<f32>, window: &InputWindow) -> (f64, f64) {
    let w = map.ncols();
    let best = map
        .iter()
        .enumerate()
        .fold((0usize, f32::NEG_INFINITY), |b, (i, &v)| {
            if v > b.1 {
                (i, v)
            } else {
                b
            }
        });
    let (y, x) = (best.0 / w, best.0 % w);
    let (cx, cy) = window.to_image(x as f64 + 0.5, y as f64 + 0.5);
    (cx - 0.5, cy - 0.5)
}

/// An image as the model saw it and each method's map of it, by method name.
pub struct ImageMaps {
    pub shown: image::RgbImage,
    pub maps: BTreeMap<String, Array2<f32>>,
}

/// Scores every method of `eval` on one sample; the maps are returned beside the record
/// for `--save-maps` and pictures. `sanity`: whether this image runs the cascade.
pub fn evaluate_attribution(
    model: &dyn ImageModel,
    eval: &AttributionEval,
    data: &Dataset,
    sample: &Sample,
    sanity: bool,
) -> Result<(AttributionResult, ImageMaps)> {
    check_boxes(sample)?;
    let label = label_index(model, sample)?;
    let rgb = load_rgb(&data.path(sample))?;
    let size = sample.size.unwrap_or(rgb.dimensions());
    let window = annotation_window(model, rgb.dimensions(), size);
    let (shown, x) = model.preprocessing().prepare(&rgb, model.device())?;
    let row: Vec<f32> = model.forward(&x)?.get(0)?.to_vec1()?;
    let image = HostImage::from_batch(&x, 0)?;
    let mut methods = BTreeMap::new();
    let mut maps = BTreeMap::new();
    for &method in &eval.methods {
        let started = std::time::Instant::now();
        let map = reduced_map(model, &x, label, method, &eval.settings)?;
        let seconds = started.elapsed().as_secs_f64();
        let p = peak(&map, &window);
        let curves = pixel_curves(model, &image, &map, &Target::Class(label), &eval.curves)?;
        let (mut rho, mut sim) = (Vec::new(), Vec::new());
        if let (true, Some(cascade)) = (sanity, &eval.cascade) {
            for m in &cascade.models {
                let r = reduced_map(&**m, &x, label, method, &eval.settings)?;
                rho.push(spearman(&map, &r));
                sim.push(ssim(&map, &r));
            }
        }
        methods.insert(
            method.as_str().to_string(),
            MethodRecord {
                peak: p,
                pointing_hit: pointing_hit(p.0, p.1, &sample.boxes, POINTING_TOLERANCE),
                maxbox_hits: hit_strings(&maxbox_hits(&map, &sample.boxes, &window, size)),
                deletion_auc: curves.deletion_auc(),
                insertion_auc: curves.insertion_auc(),
                curves,
                sanity_spearman: rho,
                sanity_ssim: sim,
                seconds,
            },
        );
        maps.insert(method.as_str().to_string(), map);
    }
    Ok((
        AttributionResult {
            image: sample.id.clone(),
            label,
            top5: top_k(&row, 5),
            methods,
        },
        ImageMaps { shown, maps },
    ))
}

/// One method's metrics over many images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodSummary {
    pub images: usize,
    pub pointing_game: f64,
    pub maxboxacc_v2: f64,
    pub deletion_auc: f64,
    pub insertion_auc: f64,
    /// Mean Spearman ρ at each depth of the cascade, over the images that ran it.
    pub sanity_spearman: Vec<f64>,
    /// The last depth: every weight layer re-drawn.
    pub sanity_spearman_full: Option<f64>,
    pub sanity_ssim: Vec<f64>,
    pub sanity_images: usize,
    /// Mean deletion and insertion curves.
    pub deletion_curve: Vec<f64>,
    pub insertion_curve: Vec<f64>,
    /// Mean seconds per map, on one thread (see [`MethodRecord::seconds`]).
    pub seconds_per_map: f64,
}

fn mean_columns<'a>(rows: impl Iterator<Item = &'a [f64]>) -> Vec<f64> {
    let mut sum: Vec<f64> = Vec::new();
    let mut n = 0usize;
    for r in rows {
        if sum.is_empty() {
            sum = vec![0.0; r.len()];
        }
        for (s, v) in sum.iter_mut().zip(r) {
            *s += v;
        }
        n += 1;
    }
    sum.iter().map(|s| s / n.max(1) as f64).collect()
}

/// The metrics of every method over `results`, by method name.
pub fn summarise_attribution(results: &[AttributionResult]) -> BTreeMap<String, MethodSummary> {
    let mut names: Vec<&String> = results.iter().flat_map(|r| r.methods.keys()).collect();
    names.sort();
    names.dedup();
    let mut out = BTreeMap::new();
    for name in names {
        let recs: Vec<&MethodRecord> = results.iter().filter_map(|r| r.methods.get(name)).collect();
        let n = recs.len().max(1) as f64;
        let mut maxbox = MaxBoxAcc::v2(THRESHOLDS);
        for r in &recs {
            let hits = parse_hit_strings(&r.maxbox_hits);
            if hits.len() == IOU_LEVELS.len() {
                maxbox.add(&hits);
            }
        }
        let sane: Vec<&&MethodRecord> = recs
            .iter()
            .filter(|r| !r.sanity_spearman.is_empty())
            .collect();
        let rho = mean_columns(sane.iter().map(|r| r.sanity_spearman.as_slice()));
        let curve = |f: fn(&Curves) -> &Vec<f32>| {
            let rows: Vec<Vec<f64>> = recs
                .iter()
                .map(|r| f(&r.curves).iter().map(|&v| v as f64).collect())
                .collect();
            mean_columns(rows.iter().map(|r| r.as_slice()))
        };
        out.insert(
            name.clone(),
            MethodSummary {
                images: recs.len(),
                pointing_game: recs.iter().filter(|r| r.pointing_hit).count() as f64 / n,
                maxboxacc_v2: maxbox.value(),
                deletion_auc: recs.iter().map(|r| r.deletion_auc).sum::<f64>() / n,
                insertion_auc: recs.iter().map(|r| r.insertion_auc).sum::<f64>() / n,
                sanity_spearman_full: rho.last().copied(),
                sanity_spearman: rho,
                sanity_ssim: mean_columns(sane.iter().map(|r| r.sanity_ssim.as_slice())),
                sanity_images: sane.len(),
                deletion_curve: curve(|c| &c.deletion),
                insertion_curve: curve(|c| &c.insertion),
                seconds_per_map: recs.iter().map(|r| r.seconds).sum::<f64>() / n,
            },
        );
    }
    out
}
