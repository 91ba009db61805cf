//! `deepinside eval --task attribution --methods M1,M2,...`: the attribution methods scored on
//! a dataset (pointing game, MaxBoxAccV2, deletion/insertion AUC, the randomisation check),
//! one JSON line per image as it goes (resumable, shardable like the localisation task),
//! then `summary.json`, a table, the curves and the sanity cascade as plots, and a page
//! with one row of maps per method. `--save-maps` keeps each map as a 2-D `.npy`.
use super::eval::Run;
use crate::gallery::{Figure, Gallery, Section, Table};
use crate::method_args::MethodArgs;
use anyhow::Context;
use deepinside::attribution::faithfulness::PixelCurves;
use deepinside::attribution::render::{grid, overlay, save_png};
use deepinside::attribution::{npy, AttributionMethod};
use deepinside::attribution_eval::{
    evaluate_attribution, summarise_attribution, AttributionEval, AttributionResult, Cascade,
    MethodSummary,
};
use deepinside::convnet::ImageModel;
use deepinside::ilsvrc::{Dataset, Sample};
use deepinside::plots::{line_charts, LineChart, Series};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// How many images of a run get their maps drawn on the page.
pub const GALLERY_IMAGES: usize = 4;

/// The attribution task's own options.
#[derive(clap::Args, Debug, Clone)]
pub struct AttributionArgs {
    /// Methods to score (comma-separated), e.g. gradient,guided,gradcam,integrated-gradients.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "gradient,guided,gradcam,integrated-gradients"
    )]
    pub methods: Vec<AttributionMethod>,
    /// Steps of the deletion and insertion curves.
    #[arg(long, default_value_t = 50)]
    pub auc_steps: usize,
    /// Run the randomisation check on the first N images of the run (default: all; 0: none).
    #[arg(long)]
    pub sanity_images: Option<usize>,
    /// Write each image's ground-truth-class map as OUT/maps/<method>/<stem>.npy.
    #[arg(long)]
    pub save_maps: bool,
    /// The Grad-CAM layer (default: the last layer with a spatial map).
    #[arg(long)]
    pub layer: Option<String>,
    #[command(flatten)]
    pub settings: MethodArgs,
}

impl Default for AttributionArgs {
    /// The command line's defaults.
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            args: AttributionArgs,
        }
        <Defaults as clap::Parser>::parse_from(["eval"]).args
    }
}

/// Everything `eval` hands over: the model, the data, the images to do now (with their
/// index in the run) and the result lines already there.
pub struct Job<'a> {
    pub model: &'a dyn ImageModel,
    pub data: &'a Dataset,
    pub todo: Vec<(usize, &'a Sample)>,
    pub lines: Vec<Value>,
    pub file: std::fs::File,
}

pub fn run(
    args: &AttributionArgs,
    job: Job,
    out: &Path,
    run: Run,
) -> anyhow::Result<std::process::ExitCode> {
    let Job {
        model,
        data,
        todo,
        mut lines,
        mut file,
    } = job;
    let settings = args.settings.settings(args.layer.clone());
    for &m in &args.methods {
        settings.validate(m, model)?;
    }
    let curves = PixelCurves {
        steps: args.auc_steps,
        ..PixelCurves::default()
    };
    curves.validate()?;
    let sanity_images = args.sanity_images.unwrap_or(usize::MAX);
    // The cascade's models are built only when an image still to do runs the check (a
    // resumed run may have done them all).
    let cascade = if todo.iter().any(|(i, _)| *i < sanity_images) {
        eprintln!("building the randomisation cascade of {}…", model.name());
        Some(Cascade::new(model, args.settings.seed)?)
    } else {
        None
    };
    let eval = AttributionEval {
        methods: args.methods.clone(),
        settings,
        curves,
        cascade,
    };
    let bar = crate::progress::bar(todo.len(), 0);
    let started = std::time::Instant::now();
    let work = |(i, s): &(usize, &Sample)| -> anyhow::Result<Value> {
        let (record, maps) = evaluate_attribution(model, &eval, data, s, *i < sanity_images)?;
        let stem = Path::new(&s.id)
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for (method, map) in &maps.maps {
            if args.save_maps {
                let dir = out.join("maps").join(method);
                std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
                npy::write_map(&dir.join(format!("{stem}.npy")), map)?;
            }
            if *i < GALLERY_IMAGES {
                let dir = out.join("gallery").join(method);
                std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
                save_png(
                    &overlay(&maps.shown, map),
                    &dir.join(format!("{i:02}_{stem}.png")),
                )?;
            }
        }
        Ok(serde_json::to_value(record)?)
    };
    crate::progress::in_input_order(&todo, crate::progress::threads(), work, |(_, s), r| {
        super::eval::record(&mut file, &mut lines, &bar, &s.id, r)
    })?;
    bar.finish_and_clear();
    let run = Run {
        seconds: started.elapsed().as_secs_f64(),
        evaluated: todo.len(),
        ..run
    };
    let mut extra = json!({
        "methods": args.methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "settings": eval.settings,
        "curves": eval.curves,
    });
    if let Some(c) = &eval.cascade {
        extra["cascade_layers"] = json!(c.layers);
    }
    finish(&lines, &run, out, extra)
}

/// `summary.json`, the table, the plots and the page of an attribution run (also after a
/// merge of shards); exit status 1 if any image failed.
pub fn finish(
    lines: &[Value],
    run: &Run,
    out: &Path,
    extra: Value,
) -> anyhow::Result<std::process::ExitCode> {
    let ok: Vec<AttributionResult> = lines
        .iter()
        .filter(|l| l.get("error").is_none())
        .filter_map(|l| serde_json::from_value(l.clone()).ok())
        .collect();
    let failures: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            Some(format!(
                "{}: {}",
                l["image"].as_str().unwrap_or("?"),
                l.get("error")?.as_str().unwrap_or("")
            ))
        })
        .collect();
    let methods = summarise_attribution(&ok);
    let mut summary = json!({
        "task": "attribution",
        "images": ok.len(),
        "failed": lines.len() - ok.len(),
        "attribution": methods,
        "format": run.format,
        "shard": run.shard,
        "device": run.device,
        "seconds": run.seconds,
        "evaluated": run.evaluated,
        "images_per_second": run.evaluated as f64 / run.seconds.max(1e-9),
    });
    if let (Value::Object(s), Value::Object(e)) = (&mut summary, extra) {
        s.extend(e);
    }
    let path = out.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)?)
        .with_context(|| path.display().to_string())?;
    let table = table(&methods);
    println!("images {} (failed {})", ok.len(), lines.len() - ok.len());
    println!(
        "| {} |\n|{}",
        table.header.join(" | "),
        "---|".repeat(table.header.len())
    );
    for r in &table.rows {
        println!("| {} |", r.join(" | "));
    }
    let layers: Vec<String> = summary["cascade_layers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let figures = plots(&methods, &layers, out)?;
    page(&methods, table, figures, &layers, out)?;
    if !failures.is_empty() {
        eprintln!(
            "failures are recorded in {}",
            out.join("results.jsonl").display()
        );
    }
    Ok(crate::progress::finish(&failures, lines.len()))
}

/// The metrics as a table, one row per method.
pub fn table(methods: &BTreeMap<String, MethodSummary>) -> Table {
    let pct = |v: f64| format!("{:.1} %", 100.0 * v);
    Table {
        header: [
            "method",
            "images",
            "pointing game",
            "MaxBoxAccV2",
            "deletion AUC ↓",
            "insertion AUC ↑",
            "sanity ρ (top layer)",
            "sanity ρ (all layers)",
            "s / map",
        ]
        .map(String::from)
        .to_vec(),
        rows: ordered(methods)
            .map(|(name, s)| {
                vec![
                    name.clone(),
                    s.images.to_string(),
                    pct(s.pointing_game),
                    pct(s.maxboxacc_v2),
                    format!("{:.3}", s.deletion_auc),
                    format!("{:.3}", s.insertion_auc),
                    s.sanity_spearman
                        .first()
                        .map_or("-".into(), |v| format!("{v:.3}")),
                    s.sanity_spearman_full
                        .map_or("-".into(), |v| format!("{v:.3}")),
                    format!("{:.2}", s.seconds_per_map),
                ]
            })
            .collect(),
    }
}

/// Methods in the order of [`AttributionMethod::ALL`].
fn ordered(
    methods: &BTreeMap<String, MethodSummary>,
) -> impl Iterator<Item = (&String, &MethodSummary)> {
    let rank = |n: &str| {
        AttributionMethod::ALL
            .iter()
            .position(|m| m.as_str() == n)
            .unwrap_or(usize::MAX)
    };
    let mut v: Vec<_> = methods.iter().collect();
    v.sort_by_key(|(n, _)| rank(n));
    v.into_iter()
}

/// `out/curves.png` (mean deletion and insertion curves) and `out/sanity.png` (the cascade),
/// as figures with paths relative to `out`.
pub fn plots(
    methods: &BTreeMap<String, MethodSummary>,
    layers: &[String],
    out: &Path,
) -> anyhow::Result<Vec<Figure>> {
    let series = |f: fn(&MethodSummary) -> &Vec<f64>| -> Vec<Series> {
        ordered(methods)
            .map(|(name, s)| {
                let v = f(s);
                let n = v.len().saturating_sub(1).max(1) as f64;
                Series {
                    name: name.clone(),
                    points: v
                        .iter()
                        .enumerate()
                        .map(|(i, &y)| (i as f64 / n, y))
                        .collect(),
                }
            })
            .collect()
    };
    let charts = [
        LineChart {
            title: "Deletion: most salient pixels replaced by the baseline first (lower is better)".into(),
            x_label: "fraction of pixels deleted".into(),
            y_label: "class probability".into(),
            series: series(|s| &s.deletion_curve),
        },
        LineChart {
            title: "Insertion: most salient pixels put back into the blurred image first (higher is better)".into(),
            x_label: "fraction of pixels inserted".into(),
            y_label: "class probability".into(),
            series: series(|s| &s.insertion_curve),
        },
    ];
    let mut figures = Vec::new();
    let curves = out.join("curves.png");
    save_png(&line_charts(&charts, 900, 380)?, &curves)?;
    figures.push(Figure {
        src: "curves.png".into(),
        caption: "Mean deletion and insertion curves per method (Petsiuk et al. 2018)".into(),
    });
    let sane: Vec<Series> = ordered(methods)
        .filter(|(_, s)| !s.sanity_spearman.is_empty())
        .map(|(name, s)| Series {
            name: name.clone(),
            points: std::iter::once((0.0, 1.0))
                .chain(
                    s.sanity_spearman
                        .iter()
                        .enumerate()
                        .map(|(i, &r)| ((i + 1) as f64, r)),
                )
                .collect(),
        })
        .collect();
    if !sane.is_empty() {
        let chart = LineChart {
            title: format!(
                "Cascading randomisation: Spearman ρ with the trained model's map ({} … {})",
                layers.first().map_or("", String::as_str),
                layers.last().map_or("", String::as_str)
            ),
            x_label: "weight layers re-drawn, from the logits down".into(),
            y_label: "Spearman rank correlation".into(),
            series: sane,
        };
        save_png(&line_charts(&[chart], 900, 420)?, &out.join("sanity.png"))?;
        figures.push(Figure {
            src: "sanity.png".into(),
            caption: "Model-randomisation sanity check (Adebayo et al. 2018): a faithful map decorrelates as the weights are destroyed".into(),
        });
    }
    Ok(figures)
}

/// `index.html`: the table, the plots and one row of maps per method.
fn page(
    methods: &BTreeMap<String, MethodSummary>,
    table: Table,
    figures: Vec<Figure>,
    layers: &[String],
    out: &Path,
) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for (name, s) in ordered(methods) {
        let dir = out.join("gallery").join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "png"))
            .collect();
        files.sort();
        let tiles: Vec<(image::RgbImage, String)> = files
            .iter()
            .take(GALLERY_IMAGES)
            .filter_map(|p| {
                let img = image::open(p).ok()?.to_rgb8();
                let stem = p.file_stem()?.to_string_lossy().to_string();
                Some((
                    img,
                    stem.split_once('_')
                        .map_or(stem.clone(), |(_, s)| s.to_string()),
                ))
            })
            .collect();
        if tiles.is_empty() {
            continue;
        }
        let file = format!("gallery/{name}.png");
        save_png(&grid(&tiles, GALLERY_IMAGES), &out.join(&file))?;
        rows.push(Figure {
            src: file,
            caption: format!(
                "{name}: pointing game {:.1} %, MaxBoxAccV2 {:.1} %, deletion {:.3}, insertion {:.3}",
                100.0 * s.pointing_game,
                100.0 * s.maxboxacc_v2,
                s.deletion_auc,
                s.insertion_auc
            ),
        });
    }
    let g = Gallery {
        title: "Attribution methods scored".into(),
        intro: format!(
            "Each method's map of the ground-truth class. Pointing game: the map's maximum within 15 pixels of a box. MaxBoxAccV2 as wsolevaluation. Deletion/insertion: normalised area under the class-probability curve. Sanity: Spearman ρ of the map with the map of the same method after re-drawing weight layers from the top ({} layers).",
            layers.len()
        ),
        sections: vec![
            Section { title: "Metrics".into(), text: String::new(), tables: vec![table], figures },
            Section { title: "Maps, one row per method".into(), text: "The first images of the run, the ground-truth class's map over the image.".into(), tables: vec![], figures: rows },
        ],
    };
    g.write_html(out)?;
    Ok(())
}
