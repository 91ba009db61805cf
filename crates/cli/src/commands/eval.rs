//! `deepinside eval --data DIR --out DIR`: classification and weakly supervised localisation
//! over a dataset (wsolevaluation, devkit or Kaggle layout), with per-image JSON Lines
//! written as it goes (resumable: `--resume` skips images already done; a line is written
//! whole or not at all), and a summary table plus `summary.json` with the challenge's
//! metrics and the baselines on the same images. `--shard K/N` runs every N-th image from
//! the K-th; `deepinside eval merge` joins the shards' results into one summary.
use crate::localise::{localise, to_image_box, Preset};
use crate::model_args::ModelArgs;
use anyhow::{bail, Context};
use convnet::preprocess::load_rgb;
use ilsvrc::metrics::{Guess, MaxBoxAcc, Tally};
use ilsvrc::{BoxF, Dataset, Sample};
use ndarray::Array2;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<EvalCommand>,
    /// Dataset root: wsolevaluation (images + metadata/*.txt), devkit
    /// (ILSVRC2012_validation_ground_truth.txt + meta_wnids.txt, optional VOC XML boxes) or
    /// Kaggle (LOC_val_solution.csv + LOC_synset_mapping.txt).
    #[arg(long, required = true)]
    pub data: Option<PathBuf>,
    /// Annotation layout: `auto` (detected from the files), `wsol`, `devkit` or `kaggle`.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// `classify` or `localise`.
    #[arg(long, default_value = "localise")]
    pub task: String,
    #[arg(long, default_value = "paper", help = crate::localise::PRESET_HELP)]
    pub preset: String,
    /// Only the first N images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Skip images already in OUT/results.jsonl.
    #[arg(long)]
    pub resume: bool,
    /// Only shard K of N (1 ≤ K ≤ N): images K, K+N, K+2N, … of the (limited) list, for
    /// running on several machines; join with `deepinside eval merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Output folder.
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum EvalCommand {
    /// Join the results of several eval output folders (shards) into one summary.
    Merge(MergeArgs),
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Output folders of `deepinside eval --shard K/N` runs.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Folder for the joined results.jsonl and summary.json.
    #[arg(long)]
    pub out: PathBuf,
}

/// `K/N` → the 0-based residue `K − 1` and `N`.
fn parse_shard(spec: &str) -> anyhow::Result<(usize, usize)> {
    let bad = || anyhow::anyhow!("--shard {spec}: expected K/N with 1 ≤ K ≤ N, e.g. 2/4");
    let (k, n) = spec.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok((k - 1, n))
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
fn box_hits(map: &Array2<f32>, gt: &[BoxF], size: (u32, u32)) -> Vec<Vec<bool>> {
    let from = (map.ncols() as u32, map.nrows() as u32);
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
                .map(|b| to_image_box(*b, from, size).best_iou(gt))
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
    if let Some(EvalCommand::Merge(m)) = args.command {
        return merge(&m);
    }
    let (Some(data_dir), Some(out)) = (args.data.as_ref(), args.out.as_ref()) else {
        bail!("eval needs --data DIR and --out DIR");
    };
    let format = match args.format.as_str() {
        "auto" => None,
        f => Some(f.parse::<ilsvrc::Format>().map_err(anyhow::Error::msg)?),
    };
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let localising = match args.task.as_str() {
        "classify" => false,
        "localise" => true,
        t => bail!("unknown task `{t}`; expected classify or localise"),
    };
    let preset = Preset::by_name(&args.preset)?;
    let data = ilsvrc::dataset::open(data_dir, format)
        .with_context(|| format!("reading {}", data_dir.display()))?;
    for note in &data.notes {
        eprintln!("note: {note}");
    }
    let model = args.model.load()?;
    let images: Vec<_> = data
        .images
        .iter()
        .take(args.limit.unwrap_or(usize::MAX))
        .enumerate()
        .filter(|(i, _)| shard.is_none_or(|(k, n)| i % n == k))
        .map(|(_, s)| s)
        .collect();
    std::fs::create_dir_all(out).with_context(|| out.display().to_string())?;
    let results_path = out.join("results.jsonl");
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
    let run = Run {
        preset: args.preset.clone(),
        task: args.task.clone(),
        format: data.format,
        shard: args.shard.clone(),
        device: args.model.device.clone(),
        seconds: elapsed,
        evaluated: todo.len(),
    };
    finish(&lines, &run, out)
}

/// What a summary says about how it was made.
struct Run {
    preset: String,
    task: String,
    format: ilsvrc::Format,
    shard: Option<String>,
    device: String,
    /// Wall time of the images evaluated now (not those resumed from an earlier run).
    seconds: f64,
    evaluated: usize,
}

/// Summary of `lines` into `out/summary.json` and the table; exit status 1 if any failed.
fn finish(lines: &[Value], run: &Run, out: &Path) -> anyhow::Result<ExitCode> {
    let mut summary = summarise(
        lines,
        &run.preset,
        run.task == "localise",
        run.evaluated as f64 / run.seconds.max(1e-9),
    );
    summary["task"] = json!(run.task);
    summary["format"] = json!(run.format);
    summary["shard"] = json!(run.shard);
    summary["device"] = json!(run.device);
    summary["seconds"] = json!(run.seconds);
    summary["evaluated"] = json!(run.evaluated);
    let failures: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            let e = l.get("error")?;
            Some(format!(
                "{}: {}",
                l["image"].as_str().unwrap_or("?"),
                e.as_str().unwrap_or("")
            ))
        })
        .collect();
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )
    .with_context(|| out.join("summary.json").display().to_string())?;
    print_table(&summary);
    if !failures.is_empty() {
        eprintln!(
            "failures are recorded in {}",
            out.join("results.jsonl").display()
        );
    }
    Ok(crate::progress::finish(&failures, lines.len()))
}

/// `deepinside eval merge DIR... --out DIR`: the shards' complete result lines joined (an
/// image in two shards is an error), one summary over all of them. images/s is the total
/// images over the shards' summed wall time, i.e. the rate of one worker.
fn merge(args: &MergeArgs) -> anyhow::Result<ExitCode> {
    let mut lines = Vec::new();
    let mut seen: std::collections::HashMap<String, PathBuf> = Default::default();
    let mut runs: Vec<Value> = Vec::new();
    for dir in &args.shards {
        let summary_path = dir.join("summary.json");
        let summary: Value = serde_json::from_str(
            &std::fs::read_to_string(&summary_path)
                .with_context(|| format!("{} (did that eval finish?)", summary_path.display()))?,
        )
        .with_context(|| summary_path.display().to_string())?;
        let (shard_lines, _) = read_done(&dir.join("results.jsonl"))?;
        for l in &shard_lines {
            let id = l["image"].as_str().unwrap_or("").to_string();
            if let Some(other) = seen.insert(id.clone(), dir.clone()) {
                bail!(
                    "{id} is in both {} and {}: shards must not overlap",
                    other.display(),
                    dir.display()
                );
            }
        }
        lines.extend(shard_lines);
        runs.push(summary);
    }
    for key in ["preset", "task", "format"] {
        if let Some(r) = runs.iter().find(|r| r[key] != runs[0][key]) {
            bail!(
                "shards differ in {key}: {} vs {}; merge only runs of one eval",
                runs[0][key],
                r[key]
            );
        }
    }
    std::fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let mut text = String::new();
    for l in &lines {
        text.push_str(&l.to_string());
        text.push('\n');
    }
    std::fs::write(args.out.join("results.jsonl"), text)
        .with_context(|| args.out.join("results.jsonl").display().to_string())?;
    let run = Run {
        preset: runs[0]["preset"].as_str().unwrap_or("").to_string(),
        task: runs[0]["task"].as_str().unwrap_or("localise").to_string(),
        format: serde_json::from_value(runs[0]["format"].clone()).unwrap_or(ilsvrc::Format::Wsol),
        shard: None,
        device: runs[0]["device"].as_str().unwrap_or("cpu").to_string(),
        seconds: runs.iter().filter_map(|r| r["seconds"].as_f64()).sum(),
        evaluated: runs
            .iter()
            .filter_map(|r| r["evaluated"].as_u64())
            .sum::<u64>() as usize,
    };
    finish(&lines, &run, &args.out)
}

fn evaluate(
    model: &dyn convnet::ImageModel,
    preset: &Preset,
    data: &Dataset,
    img: &Sample,
    localising: bool,
) -> anyhow::Result<Value> {
    if let Some(problem) = &img.problem {
        if localising {
            bail!("annotation: {problem}");
        }
    }
    // Keyed on WNID: the dataset's class index need not be the model's.
    let label = model
        .classes()
        .by_wnid(&img.wnid)
        .ok_or_else(|| anyhow::anyhow!("class {} is not one of {}'s", img.wnid, model.name()))?
        .index;
    let rgb = load_rgb(&data.path(img))?;
    let (shown, x) = model.preprocessing().prepare(&rgb, model.device())?;
    let size = img.size.unwrap_or(rgb.dimensions());
    if !localising {
        let row: Vec<f32> = model.forward(&x)?.get(0)?.to_vec1()?;
        let top = crate::commands::classify::top_k(&row, 5);
        return Ok(json!({"image": img.id, "label": label, "top5": top}));
    }
    if img.boxes.is_empty() {
        bail!("no ground-truth box for {}", img.id);
    }
    let boxes = localise(model, preset, &shown, &x, 5, &[label])?;
    let (top, label_box) = boxes.split_at(5);
    let label_box = &label_box[0];
    let to =
        |b: &Option<segment::BoundingBox>| b.map(|b| to_image_box(b, shown.dimensions(), size));
    let (w, h) = (size.0 as f64, size.1 as f64);
    let iou = |b: &BoxF| b.best_iou(&img.boxes);
    Ok(json!({
        "image": img.id,
        "label": label,
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
        "maxbox_hits": box_hits(&label_box.map, &img.boxes, size)
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
