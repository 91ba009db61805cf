//! `deepinside visualise`: class models (the paper's Sect. 2) and feature visualisations —
//! one PNG per target, a labelled grid, and a JSON file with scores, regulariser values,
//! robustness under re-framing and every setting.
use crate::model_args::ModelArgs;
use anyhow::{bail, Context};
use deepinside::attribution::render::{grid, save_png};
use deepinside::attribution::Target;
use deepinside::convnet::ImageModel;
use deepinside::synthesis::{
    augmentation_robustness, visualise, Augmentations, Optimiser, Settings,
};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;

/// The classes of the paper's Fig. 1 (washing machine, computer keyboard, kit fox, goose,
/// ostrich, limousine), by WNID.
pub const PAPER_CLASSES: [&str; 6] = [
    "n04554684",
    "n03085013",
    "n02119789",
    "n01855672",
    "n01518878",
    "n03670208",
];

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Classes, comma-separated indices (0-based, sorted-WNID order) or WNIDs. Default: the
    /// paper's Fig. 1 classes.
    #[arg(long, value_delimiter = ',')]
    pub class: Vec<String>,
    /// Visualise channels of this layer instead of classes (their mean activation).
    #[arg(long, requires = "channel", conflicts_with = "class")]
    pub layer: Option<String>,
    /// Channels of --layer, comma-separated.
    #[arg(long, value_delimiter = ',', requires = "layer")]
    pub channel: Vec<usize>,
    /// paper (S_c − λ‖I‖², plain ascent from the mean image), recommended (recognisable
    /// images: Fourier/colour parameterisation, Adam, random transforms) or posterior (the
    /// paper's softmax control).
    #[arg(long, default_value = "paper")]
    pub mode: String,
    /// Number of steps (default: the mode's).
    #[arg(long)]
    pub steps: Option<usize>,
    /// λ of the L2 penalty (default: the mode's).
    #[arg(long, allow_hyphen_values = true)]
    pub lambda: Option<f32>,
    /// Step size (plain ascent) or learning rate (Adam) (default: the mode's).
    #[arg(long, allow_hyphen_values = true)]
    pub step_size: Option<f32>,
    /// Total-variation weight (default: the mode's).
    #[arg(long, allow_hyphen_values = true)]
    pub tv: Option<f32>,
    /// Seed of the random start and transforms.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Targets optimised together in one batch.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Images per row of the grid.
    #[arg(long, default_value_t = 5)]
    pub columns: usize,
    /// Skip the re-framing robustness check of class images.
    #[arg(long)]
    pub no_robustness: bool,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
}

impl Args {
    fn settings(&self) -> anyhow::Result<Settings> {
        let mut s = Settings::preset(&self.mode)?;
        if let Some(n) = self.steps {
            s.steps = n;
        }
        if let Some(l) = self.lambda {
            s.penalties.l2 = l;
        }
        if let Some(t) = self.tv {
            s.penalties.tv = t;
        }
        if let Some(v) = self.step_size {
            s.optimiser = match s.optimiser {
                Optimiser::Ascent { .. } => Optimiser::Ascent { step: v },
                Optimiser::Adam { .. } => Optimiser::Adam { lr: v },
            };
        }
        s.seed = self.seed;
        s.validate()?;
        Ok(s)
    }

    /// The targets and the file stem of each.
    fn targets(&self, model: &dyn ImageModel) -> anyhow::Result<Vec<(Target, String)>> {
        if let Some(layer) = &self.layer {
            return Ok(self
                .channel
                .iter()
                .map(|&channel| {
                    (
                        Target::Channel {
                            layer: layer.clone(),
                            channel,
                        },
                        format!("{layer}-channel{channel}"),
                    )
                })
                .collect());
        }
        let specs: Vec<String> = if self.class.is_empty() {
            PAPER_CLASSES.iter().map(|s| s.to_string()).collect()
        } else {
            self.class.clone()
        };
        specs
            .iter()
            .map(|spec| {
                let info = model
                    .classes()
                    .resolve(spec.trim())
                    .map_err(|e| anyhow::anyhow!("--class {spec}: {e}"))?;
                Ok((Target::Class(info.index), info.index.to_string()))
            })
            .collect()
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = args.settings()?;
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let model = args.model.load()?;
    let targets = args.targets(&*model)?;
    let done = synthesise(
        &*model,
        &targets,
        &settings,
        &args.out,
        args.batch,
        !args.no_robustness,
    )?;
    let grid_file = args.out.join("grid.png");
    save_png(
        &grid(&done.tiles, args.columns.min(done.tiles.len())),
        &grid_file,
    )?;
    let history_file = args.out.join("history.png");
    done.save_history(&history_file)?;
    let json_file = args.out.join("visualise.json");
    let summary = serde_json::json!({
        "model": model.name(),
        "device": args.model.device,
        "settings": settings,
        "targets": done.records,
    });
    std::fs::write(&json_file, serde_json::to_string_pretty(&summary)?)
        .with_context(|| json_file.display().to_string())?;
    for r in &done.records {
        println!(
            "{}: value {:.4}, top-1 {}{}",
            r["file"].as_str().unwrap_or_default(),
            r["value"].as_f64().unwrap_or(f64::NAN),
            r["top5"][0]["name"].as_str().unwrap_or_default(),
            match r["robustness"]["top1"].as_u64() {
                Some(k) => format!(", top-1 under {k}/20 re-framings"),
                None => String::new(),
            }
        );
    }
    println!(
        "grid: {}\nvalue and penalty per step: {}\nsettings and scores: {}",
        grid_file.display(),
        history_file.display(),
        json_file.display()
    );
    if done.stopped.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} of {} targets stopped early: {}",
            done.stopped.len(),
            targets.len(),
            done.stopped.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}

/// What [`synthesise`] made: one JSON record and one captioned tile per target, and the
/// labels of targets whose run stopped early.
pub(crate) struct Synthesised {
    pub records: Vec<serde_json::Value>,
    pub tiles: Vec<(image::RgbImage, String)>,
    pub stopped: Vec<String>,
    /// Each target's label and its per-step record.
    pub histories: (Vec<String>, Vec<Vec<deepinside::synthesis::StepRecord>>),
}

impl Synthesised {
    /// Writes the value and penalty per step of every target as `file`.
    pub fn save_history(&self, file: &std::path::Path) -> anyhow::Result<()> {
        let (names, histories) = &self.histories;
        save_png(&deepinside::plots::ascent_history(names, histories)?, file)?;
        Ok(())
    }
}

/// Optimises `targets` in batches of `batch` under a progress bar, writes `<stem>.png` for
/// each into `out`, and checks class images' robustness to re-framing when asked.
pub(crate) fn synthesise(
    model: &dyn ImageModel,
    targets: &[(Target, String)],
    settings: &Settings,
    out: &std::path::Path,
    batch: usize,
    robustness: bool,
) -> anyhow::Result<Synthesised> {
    for (t, _) in targets {
        t.validate(model)?;
    }
    std::fs::create_dir_all(out).with_context(|| out.display().to_string())?;
    let bar = ProgressBar::new((targets.len() * settings.steps) as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps, {msg}, eta {eta}")
            .expect("valid template"),
    );
    let mut done = Synthesised {
        records: Vec::new(),
        tiles: Vec::new(),
        stopped: Vec::new(),
        histories: (Vec::new(), Vec::new()),
    };
    for chunk in targets.chunks(batch.max(1)) {
        let ts: Vec<Target> = chunk.iter().map(|(t, _)| t.clone()).collect();
        let results = visualise(model, &ts, settings, &mut |p| {
            let shown: Vec<String> = p.values.iter().map(|v| format!("{v:.3}")).collect();
            bar.set_message(format!("{} values {}", settings.mode, shown.join(" ")));
            bar.inc(chunk.len() as u64);
        })?;
        for ((target, stem), v) in chunk.iter().zip(results) {
            let file = out.join(format!("{stem}.png"));
            save_png(&v.image, &file)?;
            let robustness = match (target, robustness) {
                (Target::Class(c), true) => Some(augmentation_robustness(
                    model,
                    &v.image,
                    *c,
                    &Augmentations::default(),
                )?),
                _ => None,
            };
            if let Some(why) = &v.stopped {
                bar.suspend(|| eprintln!("warning: {}: {why}", v.target.label));
                done.stopped.push(v.target.label.clone());
            }
            let caption = match (&v.target.class, &robustness) {
                (Some(c), Some(r)) => format!(
                    "{c} {}\nS={:.1} P={:.2} aug {}/{}",
                    class_name(model, *c),
                    v.score.unwrap_or(f32::NAN),
                    v.probability.unwrap_or(f32::NAN),
                    r.top1,
                    r.trials
                ),
                (Some(c), None) => format!(
                    "{c} {}\nS={:.1}",
                    class_name(model, *c),
                    v.score.unwrap_or(f32::NAN)
                ),
                _ => format!("{}\n{:.3}", v.target.label, v.value),
            };
            done.tiles.push((v.image.clone(), caption));
            let short = match v.target.class {
                Some(c) => format!("{c} {}", class_name(model, c)),
                None => v.target.label.clone(),
            };
            done.histories.0.push(short);
            done.histories.1.push(v.history.clone());
            let top5: Vec<serde_json::Value> = v
                .top5
                .iter()
                .map(|&(c, s)| serde_json::json!({"class": c, "name": class_name(model, c), "logit": s}))
                .collect();
            done.records.push(serde_json::json!({
                "file": file.display().to_string(),
                "target": v.target,
                "value": v.value,
                "score": v.score,
                "probability": v.probability,
                "regulariser": v.regulariser,
                "l2_norm_squared": v.l2_norm_squared,
                "top5": top5,
                "robustness": robustness,
                "stopped": v.stopped,
                "history": {
                    "value": v.history.iter().map(|h| h.value).collect::<Vec<_>>(),
                    "objective": v.history.iter().map(|h| h.objective).collect::<Vec<_>>(),
                },
            }));
        }
    }
    bar.finish_and_clear();
    Ok(done)
}

/// The class's (short) name, or its index when the model has no name for it.
pub(crate) fn class_name(model: &dyn ImageModel, class: usize) -> String {
    model
        .classes()
        .get(class)
        .map_or_else(|| class.to_string(), |c| c.name.clone())
}
