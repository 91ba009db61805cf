//! `deepinside eval --data DIR --out DIR`: classification and weakly supervised localisation
//! over a dataset, with per-image JSON Lines written as it goes (resumable: `--resume`
//! skips images already done; a line is written whole or not at all), and a summary table
//! plus `summary.json` with the challenge's metrics and the baselines on the same images.
use crate::localise::{localise, to_image_box, Preset};
use crate::model_args::ModelArgs;
use anyhow::{bail, Context};
use convnet::preprocess::load_rgb;
use ilsvrc::metrics::{Guess, MaxBoxAcc, Tally};
use ilsvrc::{wsol, BoxF};
use ndarray::Array2;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Dataset root (wsolevaluation layout: images + metadata/).
    #[arg(long)]
    pub data: PathBuf,
    /// Annotation layout; only `wsol` (= `auto`) is read so far.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// `classify` or `localise`.
    #[arg(long, default_value = "localise")]
    pub task: String,
    /// Localisation method: `paper` (saliency → GraphCut), `best` (10-crop Grad-CAM →
    /// 20 % threshold), or an ablation spec such as `maps=gradcam,seg=graphcut` (keys: maps,
    /// layer, crops, seg, frac, regions, fg, bg, gamma; see docs/localisation.md).
    #[arg(long, default_value = "paper")]
    pub preset: String,
    /// Only the first N images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Skip images already in OUT/results.jsonl.
    #[arg(long)]
    pub resume: bool,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
}

const THRESHOLDS: usize = 100;

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

/// MaxBoxAccV2 hits of one map: min-max normalised to 0..255, thresholded at each τ, a box
/// around every connected region, hit if any box reaches IoU δ with a ground-truth box.
fn box_hits(map: &Array2<f32>, gt: &[BoxF], sx: f64, sy: f64) -> Vec<Vec<bool>> {
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
                .map(|b| to_image_box(*b, sx, sy).best_iou(gt))
                .fold(0.0, f64::max)
        })
        .collect();
    [0.3, 0.5, 0.7]
        .iter()
        .map(|delta| best.iter().map(|b| b >= delta).collect())
        .collect()
}

fn read_done(path: &Path) -> anyhow::Result<(Vec<Value>, u64)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e).context(path.display().to_string()),
    };
    // Only complete lines count; a partial last line (interrupted write) is cut off.
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    let lines = text[..complete]
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    Ok((lines, complete as u64))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !matches!(args.format.as_str(), "auto" | "wsol") {
        bail!(
            "--format {}: only the wsolevaluation layout (metadata/*.txt) is read so far",
            args.format
        );
    }
    let localising = match args.task.as_str() {
        "classify" => false,
        "localise" => true,
        t => bail!("unknown task `{t}`; expected classify or localise"),
    };
    let preset = Preset::by_name(&args.preset)?;
    let data =
        wsol::read(&args.data).with_context(|| format!("reading {}", args.data.display()))?;
    let model = args.model.load()?;
    let images: Vec<_> = data
        .images
        .iter()
        .take(args.limit.unwrap_or(usize::MAX))
        .collect();
    std::fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let results_path = args.out.join("results.jsonl");
    let (mut lines, complete) = if args.resume {
        read_done(&results_path)?
    } else {
        (Vec::new(), 0)
    };
    let done: HashSet<String> = lines
        .iter()
        .filter_map(|l| l["image"].as_str().map(String::from))
        .collect();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(!args.resume)
        .open(&results_path)?;
    file.set_len(complete)?;
    use std::io::Seek;
    file.seek(std::io::SeekFrom::End(0))?;
    let todo: Vec<_> = images.iter().filter(|i| !done.contains(&i.id)).collect();
    let bar = crate::progress::bar(todo.len(), 0);
    let started = std::time::Instant::now();
    for img in &todo {
        let line = match evaluate(&*model, &preset, &data, img, localising) {
            Ok(v) => v,
            Err(e) => {
                bar.suspend(|| eprintln!("error: {}: {e:#}", img.id));
                json!({"image": img.id, "error": format!("{e:#}")})
            }
        };
        let mut text = line.to_string();
        text.push('\n');
        file.write_all(text.as_bytes())?;
        file.flush()?;
        lines.push(line);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let summary = summarise(
        &lines,
        &args.preset,
        localising,
        todo.len() as f64 / elapsed.max(1e-9),
    );
    std::fs::write(
        args.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    print_table(&summary);
    Ok(if summary["failed"].as_u64().unwrap_or(0) > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn evaluate(
    model: &dyn convnet::ImageModel,
    preset: &Preset,
    data: &wsol::WsolDataset,
    img: &wsol::WsolImage,
    localising: bool,
) -> anyhow::Result<Value> {
    let rgb = load_rgb(&data.path(img))?;
    let (shown, x) = model.preprocessing().prepare(&rgb, model.device())?;
    let (sx, sy) = (
        img.size.0 as f64 / shown.width() as f64,
        img.size.1 as f64 / shown.height() as f64,
    );
    if !localising {
        let row: Vec<f32> = model.forward(&x)?.get(0)?.to_vec1()?;
        let top = crate::commands::classify::top_k(&row, 5);
        return Ok(json!({"image": img.id, "label": img.label, "top5": top}));
    }
    if img.boxes.is_empty() {
        bail!("no ground-truth box for {}", img.id);
    }
    let boxes = localise(model, preset, &shown, &x, 5, &[img.label])?;
    let (top, label_box) = boxes.split_at(5);
    let label_box = &label_box[0];
    let to = |b: &Option<segment::BoundingBox>| b.map(|b| to_image_box(b, sx, sy));
    let (w, h) = (img.size.0 as f64, img.size.1 as f64);
    let iou = |b: &BoxF| b.best_iou(&img.boxes);
    Ok(json!({
        "image": img.id,
        "label": img.label,
        "top5": top.iter().map(|c| c.class).collect::<Vec<_>>(),
        "scores": top.iter().map(|c| c.score).collect::<Vec<_>>(),
        "boxes": top.iter().map(|c| to(&c.bbox)).collect::<Vec<_>>(),
        "label_box": to(&label_box.bbox),
        "label_box_iou": to(&label_box.bbox).map(|b| iou(&b)),
        "gt": img.boxes,
        "baselines": {
            "full_image": BoxF::new(0.0, 0.0, w - 1.0, h - 1.0),
            "centre_50": centred(w, h, 0.5),
            "centre_75": centred(w, h, 0.75),
        },
        "maxbox_hits": box_hits(&label_box.map, &img.boxes, sx, sy)
            .iter()
            .map(|h| h.iter().map(|&b| if b { '1' } else { '0' }).collect::<String>())
            .collect::<Vec<_>>(),
        "notes": top.iter().flat_map(|c| c.notes.iter().filter(|n| n.starts_with("no object"))).collect::<Vec<_>>(),
    }))
}

fn summarise(lines: &[Value], preset: &str, localising: bool, rate: f64) -> Value {
    let ok: Vec<&Value> = lines.iter().filter(|l| l.get("error").is_none()).collect();
    let parse_box = |v: &Value| serde_json::from_value::<BoxF>(v.clone()).ok();
    let mut tally = Tally::default();
    let mut maxbox = MaxBoxAcc::v2(THRESHOLDS);
    let names = ["full_image", "centre_50", "centre_75"];
    let mut baselines: Vec<Tally> = vec![Tally::default(); names.len()];
    for l in &ok {
        let label = l["label"].as_u64().unwrap_or(u64::MAX) as usize;
        let top: Vec<usize> = l["top5"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_u64().map(|c| c as usize))
                    .collect()
            })
            .unwrap_or_default();
        let boxes: Vec<Option<BoxF>> = match l["boxes"].as_array() {
            Some(a) => a.iter().map(parse_box).collect(),
            None => vec![None; top.len()],
        };
        let gt: Vec<BoxF> = l["gt"]
            .as_array()
            .map(|a| a.iter().filter_map(parse_box).collect())
            .unwrap_or_default();
        let guesses: Vec<Guess> = top
            .iter()
            .zip(&boxes)
            .map(|(&class, &bbox)| Guess { class, bbox })
            .collect();
        tally.add(&guesses, label, &gt, parse_box(&l["label_box"]));
        if localising {
            let hits: Vec<Vec<bool>> = l["maxbox_hits"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| s.as_str().unwrap_or("").chars().map(|c| c == '1').collect())
                        .collect()
                })
                .unwrap_or_default();
            maxbox.add(&hits);
            for (name, b) in names.iter().zip(baselines.iter_mut()) {
                let fixed = parse_box(&l["baselines"][*name]);
                let guesses: Vec<Guess> = top
                    .iter()
                    .map(|&class| Guess { class, bbox: fixed })
                    .collect();
                b.add(&guesses, label, &gt, fixed);
            }
        }
    }
    let mut s = json!({
        "preset": preset,
        "images": ok.len(),
        "failed": lines.len() - ok.len(),
        "images_per_second": rate,
        "classification": {"top1_error": tally.top1_error(), "top5_error": tally.top5_error()},
    });
    if localising {
        s["localisation"] = json!({
            "top1_error": tally.loc_top1_error(),
            "top5_error": tally.loc_top5_error(),
            "gt_known_accuracy": tally.gt_known_accuracy(),
            "maxboxacc_v2": maxbox.value(),
        });
        s["baselines"] = names
            .iter()
            .zip(&baselines)
            .map(|(n, b)| (n.to_string(), json!({"top1_error": b.loc_top1_error(), "top5_error": b.loc_top5_error(), "gt_known_accuracy": b.gt_known_accuracy()})))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    s
}

fn print_table(s: &Value) {
    let pct = |v: &Value| {
        v.as_f64()
            .map_or("-".to_string(), |x| format!("{:.1} %", 100.0 * x))
    };
    println!(
        "images {} (failed {}), preset {}, {:.2} images/s",
        s["images"],
        s["failed"],
        s["preset"],
        s["images_per_second"].as_f64().unwrap_or(0.0)
    );
    println!("| metric | value |\n|---|---|");
    println!(
        "| classification top-1 error | {} |",
        pct(&s["classification"]["top1_error"])
    );
    println!(
        "| classification top-5 error | {} |",
        pct(&s["classification"]["top5_error"])
    );
    if s.get("localisation").is_some() {
        for (k, label) in [
            ("top1_error", "localisation top-1 error"),
            ("top5_error", "localisation top-5 error"),
            ("gt_known_accuracy", "GT-known accuracy"),
            ("maxboxacc_v2", "MaxBoxAccV2"),
        ] {
            println!("| {label} | {} |", pct(&s["localisation"][k]));
        }
        for b in ["full_image", "centre_50", "centre_75"] {
            println!(
                "| baseline {b}: top-1 loc error / GT-known | {} / {} |",
                pct(&s["baselines"][b]["top1_error"]),
                pct(&s["baselines"][b]["gt_known_accuracy"])
            );
        }
    }
}
