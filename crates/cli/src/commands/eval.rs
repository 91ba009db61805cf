//! `deepinside eval --data DIR --out DIR`: classification and weakly supervised localisation
//! over a dataset (wsolevaluation, devkit or Kaggle layout), with per-image JSON Lines
//! written as it goes (resumable: `--resume` skips images already done; a line is written
//! whole or not at all), and a summary table plus `summary.json` with the challenge's
//! metrics and the baselines on the same images. `--shard K/N` runs every N-th image from
//! the K-th; `deepinside eval merge` joins the shards' results into one summary.
use crate::model_args::ModelArgs;
use anyhow::{bail, Context};
use deepinside::attribution::render::save_png;
use deepinside::evaluate::{evaluate_image, ImageResult, Summary, Task};
use deepinside::localise::{Preset, PRESET_HELP};
use deepinside::plots::localisation_bars;
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
    /// `classify`, `localise` or `attribution` (score --methods; see its options below).
    #[arg(long, default_value = "localise")]
    pub task: String,
    #[arg(long, default_value = "paper", help = PRESET_HELP)]
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
    #[command(flatten)]
    pub attribution: super::eval_attribution::AttributionArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum EvalCommand {
    /// Join the results of several eval output folders (shards) into one summary.
    Merge(MergeArgs),
    /// Draw the localisation metrics of several eval output folders side by side.
    Plot(PlotArgs),
}

#[derive(clap::Args, Debug)]
pub struct PlotArgs {
    /// Output folders of `deepinside eval` runs (each labelled by its preset).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The PNG to write.
    #[arg(long)]
    pub out: PathBuf,
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
    match args.command {
        Some(EvalCommand::Merge(m)) => return merge(&m),
        Some(EvalCommand::Plot(p)) => return plot(&p),
        None => {}
    }
    let (Some(data_dir), Some(out)) = (args.data.as_ref(), args.out.as_ref()) else {
        bail!("eval needs --data DIR and --out DIR");
    };
    let format = match args.format.as_str() {
        "auto" => None,
        f => Some(
            f.parse::<deepinside::ilsvrc::Format>()
                .map_err(anyhow::Error::msg)?,
        ),
    };
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let attributing = args.task == "attribution";
    let task: Task = if attributing {
        Task::Classify
    } else {
        args.task
            .parse()
            .map_err(|e: String| anyhow::anyhow!("{e} or attribution"))?
    };
    let preset = Preset::by_name(&args.preset)?;
    let data = deepinside::ilsvrc::dataset::open(data_dir, format)
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
    let run = Run {
        preset: args.preset.clone(),
        task: args.task.clone(),
        format: data.format,
        shard: args.shard.clone(),
        device: args.model.device.clone(),
        seconds: 0.0,
        evaluated: 0,
    };
    if attributing {
        let todo = images
            .iter()
            .enumerate()
            .filter(|(_, s)| !done.contains(&s.id))
            .map(|(i, s)| (i, *s))
            .collect();
        let job = super::eval_attribution::Job {
            model: &*model,
            data: &data,
            todo,
            lines,
            file,
        };
        return super::eval_attribution::run(&args.attribution, job, out, run);
    }
    let todo: Vec<_> = images.iter().filter(|i| !done.contains(&i.id)).collect();
    let bar = crate::progress::bar(todo.len(), 0);
    let started = std::time::Instant::now();
    // Images evaluated side by side, each on one thread; lines written in input order.
    let evaluate =
        |img: &&&deepinside::ilsvrc::Sample| evaluate_image(&*model, &preset, &data, img, task);
    crate::progress::in_input_order(&todo, crate::progress::threads(), evaluate, |img, r| {
        let r = r
            .map_err(anyhow::Error::from)
            .and_then(|r| Ok(serde_json::to_value(r)?));
        record(&mut file, &mut lines, &bar, &img.id, r)
    })?;
    bar.finish_and_clear();
    let run = Run {
        seconds: started.elapsed().as_secs_f64(),
        evaluated: todo.len(),
        ..run
    };
    finish(&lines, &run, out)
}

/// Writes one image's result line (or its error line, also reported above the bar) whole
/// and keeps it for the summary.
pub fn record(
    file: &mut std::fs::File,
    lines: &mut Vec<Value>,
    bar: &indicatif::ProgressBar,
    id: &str,
    result: anyhow::Result<Value>,
) -> anyhow::Result<()> {
    let line = result.unwrap_or_else(|e| {
        bar.suspend(|| eprintln!("error: {id}: {e:#}"));
        json!({"image": id, "error": format!("{e:#}")})
    });
    file.write_all(format!("{line}\n").as_bytes())?;
    file.flush()?;
    lines.push(line);
    bar.inc(1);
    Ok(())
}

/// What a summary says about how it was made.
pub struct Run {
    pub preset: String,
    pub task: String,
    pub format: deepinside::ilsvrc::Format,
    pub shard: Option<String>,
    pub device: String,
    /// Wall time of the images evaluated now (not those resumed from an earlier run).
    pub seconds: f64,
    pub evaluated: usize,
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
    if run.task == "localise" {
        let typed: Summary = serde_json::from_value(summary.clone())?;
        let png = out.join("summary.png");
        save_png(&localisation_bars(&[(run.preset.clone(), &typed)])?, &png)?;
    }
    if !failures.is_empty() {
        eprintln!(
            "failures are recorded in {}",
            out.join("results.jsonl").display()
        );
    }
    Ok(crate::progress::finish(&failures, lines.len()))
}

/// `deepinside eval plot DIR... --out PNG`: the runs' localisation metrics as grouped bars.
fn plot(args: &PlotArgs) -> anyhow::Result<ExitCode> {
    let mut runs = Vec::new();
    for dir in &args.runs {
        let path = dir.join("summary.json");
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(&path).with_context(|| path.display().to_string())?,
        )
        .with_context(|| path.display().to_string())?;
        let label = v["preset"].as_str().unwrap_or("?").to_string();
        let s: Summary = serde_json::from_value(v).with_context(|| path.display().to_string())?;
        if s.localisation.is_none() {
            bail!("{}: not a localisation run", path.display());
        }
        runs.push((label, s));
    }
    let refs: Vec<(String, &Summary)> = runs.iter().map(|(l, s)| (l.clone(), s)).collect();
    save_png(&localisation_bars(&refs)?, &args.out)?;
    println!("{}", args.out.display());
    Ok(ExitCode::SUCCESS)
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
    if runs[0]["task"] == "attribution" {
        if let Some(r) = runs
            .iter()
            .find(|r| r["methods"] != runs[0]["methods"] || r["settings"] != runs[0]["settings"])
        {
            bail!(
                "shards differ in methods or settings: {} vs {}",
                runs[0]["methods"],
                r["methods"]
            );
        }
    }
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
        format: serde_json::from_value(runs[0]["format"].clone())
            .unwrap_or(deepinside::ilsvrc::Format::Wsol),
        shard: None,
        device: runs[0]["device"].as_str().unwrap_or("cpu").to_string(),
        seconds: runs.iter().filter_map(|r| r["seconds"].as_f64()).sum(),
        evaluated: runs
            .iter()
            .filter_map(|r| r["evaluated"].as_u64())
            .sum::<u64>() as usize,
    };
    if run.task == "attribution" {
        let mut extra = json!({});
        for key in ["methods", "settings", "curves", "cascade_layers"] {
            if let Some(v) = runs[0].get(key) {
                extra[key] = v.clone();
            }
        }
        // Each shard's gallery images are its own first images; the page shows shard 1's.
        return super::eval_attribution::finish(&lines, &run, &args.out, extra);
    }
    finish(&lines, &run, &args.out)
}

/// The summary of `lines` (results and error lines) as JSON, with how it was made.
fn summarise(lines: &[Value], preset: &str, localising: bool, rate: f64) -> Value {
    let ok: Vec<ImageResult> = lines
        .iter()
        .filter(|l| l.get("error").is_none())
        .filter_map(|l| serde_json::from_value(l.clone()).ok())
        .collect();
    let summary = deepinside::evaluate::summarise(&ok, lines.len() - ok.len(), localising);
    let mut s = serde_json::to_value(summary).expect("a summary is plain data");
    s["preset"] = json!(preset);
    s["images_per_second"] = json!(rate);
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
