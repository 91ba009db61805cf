//! The per-image evaluation of classification and weakly supervised localisation on an
//! ILSVRC-style dataset, and the summary over many images: the challenge's top-1/top-5
//! localisation errors (IoU ≥ 0.5), GT-known accuracy, wsolevaluation's MaxBoxAccV2, and
//! three fixed-box baselines on the same images.
//!
//! [`ImageResult`] is one image's record, serialisable as the JSON line that
//! `deepinside eval` writes (and resumes from); [`summarise`] turns records back into the
//! metrics, so that shards evaluated on different machines can be joined.
use crate::error::{Error, Result};
use crate::localise::{localise, to_image_box, Preset};
use convnet::preprocess::load_rgb;
use convnet::{top_k, ImageModel, InputWindow};
use ilsvrc::metrics::{Guess, MaxBoxAcc, Tally};
use ilsvrc::{BoxF, Dataset, Sample};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Thresholds of MaxBoxAccV2 (τ = 0, 0.01, …, 0.99), as wsolevaluation.
pub const THRESHOLDS: usize = 100;

/// The IoU levels δ of MaxBoxAccV2.
pub const IOU_LEVELS: [f64; 3] = [0.3, 0.5, 0.7];

/// What `evaluate_image` computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Top-5 classes only.
    Classify,
    /// Top-5 classes, a box for each and for the true class, and the map's box hits.
    Localise,
}

impl std::str::FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "classify" => Ok(Task::Classify),
            "localise" => Ok(Task::Localise),
            t => Err(format!("unknown task `{t}`; expected classify or localise")),
        }
    }
}

/// One image's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageResult {
    /// The sample's id (its path relative to the dataset root).
    pub image: String,
    /// The true class, as the model's class index.
    pub label: usize,
    /// The model's top-5 classes, best first.
    pub top5: Vec<usize>,
    /// Present for [`Task::Localise`].
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub localisation: Option<Localisation>,
}

/// The localisation part of an image's record; boxes are in the annotation's pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Localisation {
    /// The top-5 classes' scores (logits).
    pub scores: Vec<f32>,
    /// The top-5 classes' boxes (`None`: the segmenter found nothing).
    pub boxes: Vec<Option<BoxF>>,
    /// The true class's box, for GT-known accuracy.
    pub label_box: Option<BoxF>,
    /// Its best IoU with a ground-truth box.
    pub label_box_iou: Option<f64>,
    /// The ground-truth boxes.
    pub gt: Vec<BoxF>,
    /// The fixed boxes scored beside ours.
    pub baselines: Baselines,
    /// MaxBoxAccV2 hits of the true class's map: one string per δ in [`IOU_LEVELS`], one
    /// character (`0`/`1`) per threshold, so that the metric can be summed over shards.
    pub maxbox_hits: Vec<String>,
    /// The top-5 classes' notes on a fallback box (the cut found no object).
    pub notes: Vec<String>,
}

/// Boxes that need no model: the whole image and centred boxes of half and three quarters
/// of its area.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baselines {
    pub full_image: BoxF,
    pub centre_50: BoxF,
    pub centre_75: BoxF,
}

impl Baselines {
    /// The baselines of a `w × h` image.
    pub fn of(w: f64, h: f64) -> Self {
        Baselines {
            full_image: BoxF::new(0.0, 0.0, w - 1.0, h - 1.0),
            centre_50: centred(w, h, 0.5),
            centre_75: centred(w, h, 0.75),
        }
    }

    /// The baselines' names, in the order of [`Baselines::named`].
    pub const NAMES: [&'static str; 3] = ["full_image", "centre_50", "centre_75"];

    /// Each baseline with its name.
    pub fn named(&self) -> [(&'static str, BoxF); 3] {
        let [a, b, c] = Self::NAMES;
        [
            (a, self.full_image),
            (b, self.centre_50),
            (c, self.centre_75),
        ]
    }
}

/// A centred box covering `area` of a `w × h` image.
fn centred(w: f64, h: f64, area: f64) -> BoxF {
    let (bw, bh) = (w * area.sqrt(), h * area.sqrt());
    BoxF::new(
        (w - bw) / 2.0,
        (h - bh) / 2.0,
        (w + bw) / 2.0 - 1.0,
        (h + bh) / 2.0 - 1.0,
    )
}

/// Where a model input made from a `decoded`-size image lies in the pixels its annotation
/// refers to (`size`): the preprocessing's window, rescaled.
pub fn annotation_window(
    model: &dyn ImageModel,
    decoded: (u32, u32),
    size: (u32, u32),
) -> InputWindow {
    model
        .preprocessing()
        .window(decoded.0, decoded.1)
        .rescaled(decoded, size)
}

/// MaxBoxAccV2 hits of one map covering the model input: min-max normalised to 0..255,
/// thresholded at each τ, a box around every connected region (mapped through `window`
/// into the pixels of a `size` image), a hit if any box reaches IoU δ with a ground-truth
/// box. One row per δ in [`IOU_LEVELS`].
pub fn maxbox_hits(
    map: &Array2<f32>,
    gt: &[BoxF],
    window: &InputWindow,
    size: (u32, u32),
) -> Vec<Vec<bool>> {
    let (lo, hi) = map
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let scaled = map.mapv(|v| {
        if hi > lo {
            (((v - lo) / (hi - lo)) * 255.0).floor()
        } else {
            0.0
        }
    });
    // Best IoU of any region box at each threshold τ = t / THRESHOLDS.
    let best: Vec<f64> = (0..THRESHOLDS)
        .map(|t| {
            let cut = (t as f32 / THRESHOLDS as f32 * 255.0).floor();
            segment::component_boxes(&scaled.mapv(|v| v > cut))
                .iter()
                .map(|b| to_image_box(*b, window, size).best_iou(gt))
                .fold(0.0, f64::max)
        })
        .collect();
    IOU_LEVELS
        .iter()
        .map(|delta| best.iter().map(|b| b >= delta).collect())
        .collect()
}

/// The sample's true class as the model's class index, matched by WNID so that the
/// dataset's class order need not be the model's.
pub fn label_index(model: &dyn ImageModel, sample: &Sample) -> Result<usize> {
    Ok(model
        .classes()
        .by_wnid(&sample.wnid)
        .ok_or_else(|| {
            Error::Annotation(format!(
                "class {} is not one of {}'s",
                sample.wnid,
                model.name()
            ))
        })?
        .index)
}

/// Checks that the sample's boxes can be scored: a readable annotation with at least one box.
pub fn check_boxes(sample: &Sample) -> Result<()> {
    if let Some(problem) = &sample.problem {
        return Err(Error::Annotation(format!("annotation: {problem}")));
    }
    if sample.boxes.is_empty() {
        return Err(Error::Annotation(format!(
            "no ground-truth box for {}",
            sample.id
        )));
    }
    Ok(())
}

/// A hit table as the JSON lines store it: one string per δ, one `0`/`1` per threshold, so
/// that MaxBoxAccV2 can be summed over shards.
pub fn hit_strings(hits: &[Vec<bool>]) -> Vec<String> {
    hits.iter()
        .map(|h| h.iter().map(|&b| if b { '1' } else { '0' }).collect())
        .collect()
}

/// The hit table back from [`hit_strings`].
pub fn parse_hit_strings(strings: &[String]) -> Vec<Vec<bool>> {
    strings
        .iter()
        .map(|s| s.chars().map(|c| c == '1').collect())
        .collect()
}

/// Evaluates one sample of `data`: its top-5 classes, and for [`Task::Localise`] the
/// boxes of the top-5 classes and of the true class under `preset`. The true class is
/// matched by WNID, so the dataset's class order need not be the model's.
pub fn evaluate_image(
    model: &dyn ImageModel,
    preset: &Preset,
    data: &Dataset,
    sample: &Sample,
    task: Task,
) -> Result<ImageResult> {
    let localising = task == Task::Localise;
    if localising {
        check_boxes(sample)?;
    }
    let label = label_index(model, sample)?;
    let rgb = load_rgb(&data.path(sample))?;
    let (shown, x) = model.preprocessing().prepare(&rgb, model.device())?;
    if !localising {
        let row: Vec<f32> = model.forward(&x)?.get(0)?.to_vec1()?;
        return Ok(ImageResult {
            image: sample.id.clone(),
            label,
            top5: top_k(&row, 5),
            localisation: None,
        });
    }
    let size = sample.size.unwrap_or(rgb.dimensions());
    let window = annotation_window(model, rgb.dimensions(), size);
    let boxes = localise(model, preset, &shown, &x, 5, &[label])?;
    let (top, label_box) = boxes.split_at(5);
    let label_box = &label_box[0];
    let to = |b: &Option<segment::BoundingBox>| b.map(|b| to_image_box(b, &window, size));
    let label_bbox = to(&label_box.bbox);
    Ok(ImageResult {
        image: sample.id.clone(),
        label,
        top5: top.iter().map(|c| c.class).collect(),
        localisation: Some(Localisation {
            scores: top.iter().map(|c| c.score).collect(),
            boxes: top.iter().map(|c| to(&c.bbox)).collect(),
            label_box: label_bbox,
            label_box_iou: label_bbox.map(|b| b.best_iou(&sample.boxes)),
            gt: sample.boxes.clone(),
            baselines: Baselines::of(size.0 as f64, size.1 as f64),
            maxbox_hits: hit_strings(&maxbox_hits(&label_box.map, &sample.boxes, &window, size)),
            notes: top
                .iter()
                .flat_map(|c| c.notes.iter().filter(|n| n.starts_with("no object")))
                .cloned()
                .collect(),
        }),
    })
}

/// The metrics over many images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Images evaluated without error.
    pub images: usize,
    /// Images that failed (not in the metrics).
    pub failed: usize,
    pub classification: ClassificationSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localisation: Option<LocalisationSummary>,
    /// The fixed-box baselines by name (`full_image`, `centre_50`, `centre_75`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baselines: Option<BTreeMap<String, BaselineSummary>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationSummary {
    pub top1_error: f64,
    pub top5_error: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalisationSummary {
    pub top1_error: f64,
    pub top5_error: f64,
    pub gt_known_accuracy: f64,
    pub maxboxacc_v2: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineSummary {
    pub top1_error: f64,
    pub top5_error: f64,
    pub gt_known_accuracy: f64,
}

/// The metrics of `results` (the images that did not fail; `failed` more did). With
/// `localising`, records without a localisation part count as images with no boxes.
pub fn summarise(results: &[ImageResult], failed: usize, localising: bool) -> Summary {
    let mut tally = Tally::default();
    let mut maxbox = MaxBoxAcc::v2(THRESHOLDS);
    let mut baselines: BTreeMap<&str, Tally> = BTreeMap::new();
    for r in results {
        let loc = r.localisation.as_ref();
        let boxes: Vec<Option<BoxF>> = match loc {
            Some(l) => l.boxes.clone(),
            None => vec![None; r.top5.len()],
        };
        let gt: &[BoxF] = loc.map_or(&[], |l| &l.gt);
        let guesses: Vec<Guess> = r
            .top5
            .iter()
            .zip(&boxes)
            .map(|(&class, &bbox)| Guess { class, bbox })
            .collect();
        tally.add(&guesses, r.label, gt, loc.and_then(|l| l.label_box));
        if !localising {
            continue;
        }
        let hits = loc.map_or(Vec::new(), |l| parse_hit_strings(&l.maxbox_hits));
        maxbox.add(&hits);
        let fixed: [Option<BoxF>; 3] = match loc {
            Some(l) => l.baselines.named().map(|(_, b)| Some(b)),
            None => [None; 3],
        };
        for (name, bbox) in Baselines::NAMES.iter().zip(fixed) {
            let guesses: Vec<Guess> = r.top5.iter().map(|&class| Guess { class, bbox }).collect();
            baselines
                .entry(name)
                .or_default()
                .add(&guesses, r.label, gt, bbox);
        }
    }
    Summary {
        images: results.len(),
        failed,
        classification: ClassificationSummary {
            top1_error: tally.top1_error(),
            top5_error: tally.top5_error(),
        },
        localisation: localising.then(|| LocalisationSummary {
            top1_error: tally.loc_top1_error(),
            top5_error: tally.loc_top5_error(),
            gt_known_accuracy: tally.gt_known_accuracy(),
            maxboxacc_v2: maxbox.value(),
        }),
        baselines: localising.then(|| {
            baselines
                .iter()
                .map(|(n, b)| {
                    (
                        n.to_string(),
                        BaselineSummary {
                            top1_error: b.loc_top1_error(),
                            top5_error: b.loc_top5_error(),
                            gt_known_accuracy: b.gt_known_accuracy(),
                        },
                    )
                })
                .collect()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_as_the_json_lines_eval_writes() {
        let b = BoxF::new(1.0, 2.0, 30.0, 40.0);
        let r = ImageResult {
            image: "a.jpg".into(),
            label: 3,
            top5: vec![3, 1, 2, 0, 4],
            localisation: Some(Localisation {
                scores: vec![5.0, 4.0, 3.0, 2.0, 1.0],
                boxes: vec![Some(b), None, Some(b), None, None],
                label_box: Some(b),
                label_box_iou: Some(1.0),
                gt: vec![b],
                baselines: Baselines::of(50.0, 60.0),
                maxbox_hits: vec!["10".into(), "10".into(), "00".into()],
                notes: vec![],
            }),
        };
        let line = serde_json::to_string(&r).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(v["boxes"].is_array() && v["baselines"]["centre_50"].is_object());
        assert_eq!(serde_json::from_str::<ImageResult>(&line).unwrap(), r);
        let classify = r#"{"image":"b.jpg","label":1,"top5":[1,2,3,4,5]}"#;
        let c: ImageResult = serde_json::from_str(classify).unwrap();
        assert_eq!(c.localisation, None);
        assert_eq!(serde_json::to_string(&c).unwrap(), classify);
    }

    #[test]
    fn summary_scores_a_hit_a_wrong_class_and_the_baselines() {
        let gt = BoxF::new(0.0, 0.0, 49.0, 59.0);
        let record = |label: usize, bbox: BoxF| ImageResult {
            image: format!("{label}.jpg"),
            label,
            top5: vec![7, 1, 2, 3, 4],
            localisation: Some(Localisation {
                scores: vec![0.0; 5],
                boxes: vec![Some(bbox); 5],
                label_box: Some(bbox),
                label_box_iou: Some(bbox.best_iou(&[gt])),
                gt: vec![gt],
                baselines: Baselines::of(50.0, 60.0),
                maxbox_hits: vec!["1".repeat(THRESHOLDS); 3],
                notes: vec![],
            }),
        };
        // Right class, right box; then a class outside the top-5.
        let s = summarise(&[record(7, gt), record(9, gt)], 1, true);
        assert_eq!((s.images, s.failed), (2, 1));
        assert_eq!(s.classification.top1_error, 0.5);
        let l = s.localisation.unwrap();
        assert_eq!(
            (l.top1_error, l.top5_error, l.gt_known_accuracy),
            (0.5, 0.5, 1.0)
        );
        assert_eq!(l.maxboxacc_v2, 1.0);
        // The full image is the ground truth here, so that baseline localises every image
        // whose class was guessed.
        assert_eq!(s.baselines.unwrap()["full_image"].top5_error, 0.5);
    }
}
