//! `deepinside repro` (run by `cargo xtask repro`): regenerates the paper's figures and
//! tables on an ILSVRC folder — Fig. 1 class models (paper mode, posterior control,
//! recommended), Fig. 2 saliency (single-crop and 10-crop), Fig. 3 localisation steps,
//! Sect. 5 gradient vs DeconvNet vs guided backprop with the numerical equivalence check, and
//! the classification/localisation tables from `eval` — into a report (`REPORT.md`,
//! `index.html`) and a photo-free `REPRODUCTION.md` whose figures are only synthesised images.
use crate::commands::eval;
use crate::commands::visualise::{class_name, synthesise, PAPER_CLASSES};
use crate::gallery::{relative, Figure, Gallery, Section, Table};
use crate::model_args::ModelArgs;
use anyhow::Context;
use deepinside::attribution::render::{grid, heatmap, overlay, save_png};
use deepinside::attribution::{
    attribute, ten_crop, Attribution, Method, Reduction, Target, TenCrop,
};
use deepinside::convnet::preprocess::load_rgb;
use deepinside::convnet::InputWindow;
use deepinside::convnet::{ForwardOptions, ImageModel, PaperNet};
use deepinside::localise::{
    localise, steps_figure, to_image_box, to_input_box, Preset, BEST_SHORT_SIDE,
};
use deepinside::synthesis::Settings;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// ILSVRC folder in the wsolevaluation layout (images/, metadata/).
    #[arg(long, default_value = "../shared/data/ilsvrc-dev")]
    pub data: PathBuf,
    /// Output folder.
    #[arg(long, default_value = "repro-out")]
    pub out: PathBuf,
    /// Only the first N images in the tables (all by default).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Steps of every class model (default: each mode's own).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Images of the attribution-methods table (occlusion and RISE take ~70 s an image).
    #[arg(long, default_value_t = 16)]
    pub attribution_limit: usize,
    /// Of those, images that also run the randomisation check (for the gradient-based
    /// methods; occlusion and RISE would take ~20 min an image).
    #[arg(long, default_value_t = 8)]
    pub sanity_images: usize,
    /// Continue an interrupted evaluation instead of starting over.
    #[arg(long)]
    pub resume: bool,
    /// The speed chart of `cargo xtask bench` (target/bench/speed.png) to include; `cargo
    /// xtask repro` passes it when it exists.
    #[arg(long)]
    pub speed: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Our four classes beside the paper's Fig. 1 classes.
const OUR_CLASSES: [&str; 4] = ["130", "281", "949", "417"];
/// Images per figure (the first ones of the dataset, in id order).
const FIGURE_IMAGES: usize = 6;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let version = source_version();
    let model = args.model.load()?;
    let out = &args.out;
    std::fs::create_dir_all(out.join("figures")).with_context(|| out.display().to_string())?;
    let ds = deepinside::ilsvrc::dataset::open(&args.data, None)
        .with_context(|| format!("reading the dataset {}", args.data.display()))?;
    let mut images: Vec<&deepinside::ilsvrc::Sample> = ds.images.iter().collect();
    images.sort_by(|a, b| a.id.cmp(&b.id));
    let shown: Vec<(PathBuf, &deepinside::ilsvrc::Sample)> = images
        .iter()
        .take(FIGURE_IMAGES)
        .map(|i| (ds.path(i), *i))
        .collect();

    eprintln!("Fig. 1: class models");
    let (fig1, fig1_docs) = class_models(&*model, out, args.steps)?;
    eprintln!("Fig. 2: saliency maps");
    let fig2 = saliency_figure(&*model, out, &shown)?;
    eprintln!("Fig. 3: localisation steps");
    let fig3 = localisation_figure(&*model, out, &shown)?;
    eprintln!("Sect. 5: gradient, DeconvNet, guided backprop");
    let sect5 = methods_figure(&*model, out, &shown)?;
    eprintln!(
        "tables: eval on {} images",
        args.limit.unwrap_or(ds.images.len())
    );
    let (code, summary) = evaluate(&args, "paper", &out.join("eval"))?;
    eprintln!("tables: the best preset");
    let (best_code, best) = evaluate(&args, "best", &out.join("eval-best"))?;
    let code = if best_code == ExitCode::SUCCESS {
        code
    } else {
        best_code
    };
    let mut tables = tables_section(&summary, &best, started.elapsed().as_secs_f64());
    let typed = |v: &Value| -> anyhow::Result<deepinside::evaluate::Summary> {
        Ok(serde_json::from_value(v.clone())?)
    };
    let bars = deepinside::plots::localisation_bars(&[
        ("paper".into(), &typed(&summary)?),
        ("best".into(), &typed(&best)?),
    ])?;
    let png = out.join("figures").join("localisation-presets.png");
    save_png(&bars, &png)?;
    tables.figures.push(Figure {
        src: relative(&png, out),
        caption: "The two presets and two fixed-box baselines on the same images".into(),
    });
    eprintln!(
        "tables: attribution methods on {} images",
        args.attribution_limit
    );
    let (attribution_code, attribution) = attribution_section(&args, out)?;
    let code = if attribution_code == ExitCode::SUCCESS {
        code
    } else {
        attribution_code
    };
    let about = about_section(&args, &*model, &summary, &version);
    if let Some(chart) = &args.speed {
        let png = out.join("figures").join("speed.png");
        std::fs::copy(chart, &png).with_context(|| chart.display().to_string())?;
        tables.figures.push(Figure {
            src: relative(&png, out),
            caption: "Speed beside PyTorch, measured in one `cargo xtask bench` run on this \
                      machine (docs/performance.md)"
                .into(),
        });
    }

    let intro = "Simonyan, Vedaldi & Zisserman (2013), Deep Inside Convolutional Networks, \
                 regenerated by `cargo xtask repro` with EfficientNet-Lite0 (ImageNet-pretrained, \
                 the published PyTorch weights) on the ILSVRC2012 validation images given.";
    let report = Gallery {
        title: "Deep Inside Convolutional Networks — reproduction".into(),
        intro: intro.into(),
        sections: vec![
            tables.clone(),
            attribution.clone(),
            fig1,
            fig2,
            fig3,
            sect5.clone(),
            about.clone(),
        ],
    };
    report.write_html(out)?;
    std::fs::write(out.join("REPORT.md"), report.markdown())?;
    // The committed version: no dataset photo, only synthesised images.
    let docs = Gallery {
        title: "Reproduction".into(),
        intro: format!(
            "{intro} Figures showing ILSVRC photos stay in the run's output folder \
             (`index.html`); only synthesised class models are shown here."
        ),
        sections: vec![
            tables,
            attribution,
            fig1_docs,
            Section {
                figures: Vec::new(),
                ..sect5
            },
            about,
        ],
    };
    std::fs::write(out.join("REPRODUCTION.md"), docs.markdown())?;
    println!(
        "repro done in {:.1} min:\n  report: {}\n  gallery: {}\n  for docs/: {} (figures in {})",
        started.elapsed().as_secs_f64() / 60.0,
        out.join("REPORT.md").display(),
        out.join("index.html").display(),
        out.join("REPRODUCTION.md").display(),
        out.join("figures").display()
    );
    Ok(code)
}

/// `deepinside eval --task localise --preset PRESET` over the run's data into `dir`: its exit
/// status and `summary.json`.
fn evaluate(args: &Args, preset: &str, dir: &Path) -> anyhow::Result<(ExitCode, Value)> {
    let code = eval::run(eval::Args {
        command: None,
        data: Some(args.data.clone()),
        format: "auto".into(),
        task: "localise".into(),
        preset: preset.into(),
        limit: args.limit,
        resume: args.resume,
        shard: None,
        out: Some(dir.to_path_buf()),
        model: args.model.clone(),
        attribution: Default::default(),
    })?;
    let summary = serde_json::from_str(
        &std::fs::read_to_string(dir.join("summary.json"))
            .with_context(|| format!("eval summary ({preset})"))?,
    )?;
    Ok((code, summary))
}

/// The attribution methods scored (`eval --task attribution`): the gradient-based methods
/// with the randomisation check on the first `sanity_images`, occlusion and RISE without it;
/// one table, the mean curves and the cascade.
fn attribution_section(args: &Args, out: &Path) -> anyhow::Result<(ExitCode, Section)> {
    use super::eval_attribution::{plots, table, AttributionArgs};
    use deepinside::attribution::AttributionMethod;
    use deepinside::attribution_eval::MethodSummary;
    let runs = [
        (
            "attribution",
            "gradient,guided,deconvnet,input-x-gradient,integrated-gradients,smoothgrad,gradcam,gradcam++",
            args.sanity_images,
        ),
        ("attribution-perturbation", "occlusion,rise", 0),
    ];
    let mut code = ExitCode::SUCCESS;
    let mut methods = std::collections::BTreeMap::<String, MethodSummary>::new();
    let mut layers = Vec::new();
    for (dir, list, sanity) in runs {
        let dir = out.join(dir);
        let attribution = AttributionArgs {
            methods: list
                .split(',')
                .map(|m| m.parse::<AttributionMethod>().map_err(anyhow::Error::msg))
                .collect::<anyhow::Result<_>>()?,
            sanity_images: Some(sanity),
            ..AttributionArgs::default()
        };
        let c = eval::run(eval::Args {
            command: None,
            data: Some(args.data.clone()),
            format: "auto".into(),
            task: "attribution".into(),
            preset: "paper".into(),
            limit: Some(args.attribution_limit),
            resume: args.resume,
            shard: None,
            out: Some(dir.clone()),
            model: args.model.clone(),
            attribution,
        })?;
        if c != ExitCode::SUCCESS {
            code = c;
        }
        let s: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("summary.json")).context("attribution summary")?,
        )?;
        let m: std::collections::BTreeMap<String, MethodSummary> =
            serde_json::from_value(s["attribution"].clone())?;
        methods.extend(m);
        if let Some(l) = s["cascade_layers"].as_array() {
            layers = l
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
        }
    }
    let fig_dir = out.join("figures").join("attribution");
    std::fs::create_dir_all(&fig_dir)?;
    let figures = plots(&methods, &layers, &fig_dir)?
        .into_iter()
        .map(|f| Figure {
            src: format!("figures/attribution/{}", f.src),
            ..f
        })
        .collect();
    Ok((
        code,
        Section {
            title: "Attribution methods scored (docs/attribution.md)".into(),
            text: format!(
                "The ground-truth class's map of each method on the first {} images: pointing \
                 game (15 px), MaxBoxAccV2, deletion/insertion AUC (class probability, 50 \
                 steps) and the Spearman ρ of the map after re-drawing the top weight layer \
                 and all of them (the gradient-based methods on the first {} images; \
                 occlusion and RISE without the check).",
                args.attribution_limit, args.sanity_images
            ),
            tables: vec![table(&methods)],
            figures,
        },
    ))
}

/// Fig. 1: paper mode on the paper's and our classes, the posterior control, the recommended
/// preset. Returns the report section and its photo-free twin (same figures; class models
/// contain no photo) with `figures/` paths for docs/.
fn class_models(
    model: &dyn ImageModel,
    out: &Path,
    steps: Option<usize>,
) -> anyhow::Result<(Section, Section)> {
    let classes: Vec<(Target, String)> = PAPER_CLASSES
        .iter()
        .chain(OUR_CLASSES.iter())
        .map(|s| {
            let c = model.classes().resolve(s).map_err(anyhow::Error::msg)?;
            Ok((Target::Class(c.index), c.index.to_string()))
        })
        .collect::<anyhow::Result<_>>()?;
    let ours = &classes[PAPER_CLASSES.len()..];
    let mut table = Table {
        header: [
            "mode",
            "class",
            "S_c",
            "P_c",
            "top-1",
            "top-1 in 20 re-framings",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    let mut figures = Vec::new();
    let runs = [
        (
            "paper",
            &classes[..],
            "paper mode: S_c − λ‖I‖², plain ascent from the mean image",
        ),
        (
            "posterior",
            ours,
            "posterior control: the same on the softmax P_c",
        ),
        (
            "recommended",
            &classes[..],
            "recommended: Fourier/colour parameterisation, Adam, random re-framing",
        ),
    ];
    for (mode, targets, what) in runs {
        let mut settings = Settings::preset(mode)?;
        if let Some(n) = steps {
            settings.steps = n;
        }
        let dir = out.join("class-models").join(mode);
        let done = synthesise(model, targets, &settings, &dir, 5, true)?;
        for r in &done.records {
            table.rows.push(vec![
                mode.to_string(),
                format!(
                    "{} {}",
                    r["target"]["class"],
                    class_name(model, r["target"]["class"].as_u64().unwrap_or(0) as usize)
                ),
                format!("{:.2}", r["score"].as_f64().unwrap_or(f64::NAN)),
                format!("{:.3}", r["probability"].as_f64().unwrap_or(f64::NAN)),
                r["top5"][0]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                format!("{}", r["robustness"]["top1"]),
            ]);
        }
        let png = out
            .join("figures")
            .join(format!("fig1-class-models-{mode}.png"));
        save_png(&grid(&done.tiles, 5), &png)?;
        figures.push(Figure {
            src: relative(&png, out),
            caption: format!("Fig. 1, {what} ({} steps)", settings.steps),
        });
        let history = out.join("figures").join(format!("fig1-history-{mode}.png"));
        done.save_history(&history)?;
        figures.push(Figure {
            src: relative(&history, out),
            caption: format!("{mode} mode: each class's score and penalty per step"),
        });
    }
    let section = Section {
        title: "Fig. 1 — class model visualisation".into(),
        text: "Each image maximises one class score of EfficientNet-Lite0. Re-framing: crop \
               80–100 % of the side, mirror with probability ½, rotate ±10°, resize back; the \
               count says how often the class stays top-1 (a picture survives it, an \
               adversarial pattern does not)."
            .into(),
        tables: vec![table],
        figures,
    };
    let docs = section.clone();
    Ok((section, docs))
}

/// Fig. 2: image, single-crop saliency, 10-crop saliency of the top-1 class.
fn saliency_figure(
    model: &dyn ImageModel,
    out: &Path,
    images: &[(PathBuf, &deepinside::ilsvrc::Sample)],
) -> anyhow::Result<Section> {
    let mut tiles = Vec::new();
    for (path, info) in images {
        let rgb = load_rgb(path)?;
        let (shown, x) = model.preprocessing().prepare(&rgb, model.device())?;
        let a = attribute(model, &x, &[Target::Top1], Method::Gradient)?
            .remove(0)
            .remove(0);
        let map = a.map(Reduction::MaxAbs);
        let ten = ten_crop(
            model,
            &rgb,
            &Target::Top1,
            Method::Gradient,
            Reduction::MaxAbs,
            TenCrop::default(),
        )?;
        let name = a.target.label.clone();
        tiles.push((shown.clone(), format!("{}\n{name}", stem(&info.id))));
        tiles.push((overlay(&shown, &map), "1 crop".to_string()));
        tiles.push((heatmap(&ten.map), "10 crops".to_string()));
    }
    let png = out.join("figures").join("fig2-saliency.png");
    save_png(&grid(&tiles, 3), &png)?;
    Ok(Section {
        title: "Fig. 2 — image-specific class saliency".into(),
        text: "Top-1 class, M_ij = max_c |∂S_c/∂I_ij,c|, one backward pass; right: the 10-crop \
               average (short side 256, four corners + centre and their mirrors)."
            .into(),
        tables: Vec::new(),
        figures: vec![Figure {
            src: relative(&png, out),
            caption: "Fig. 2: image, single-crop saliency over the image, 10-crop saliency".into(),
        }],
    })
}

/// Fig. 3: the localisation steps of the top-1 class, with ground truth.
fn localisation_figure(
    model: &dyn ImageModel,
    out: &Path,
    images: &[(PathBuf, &deepinside::ilsvrc::Sample)],
) -> anyhow::Result<Section> {
    let preset = Preset::paper();
    let mut figures = Vec::new();
    for (path, info) in images {
        let rgb = load_rgb(path)?;
        let (shown, x) = model.preprocessing().prepare(&rgb, model.device())?;
        let boxes = localise(model, &preset, &shown, &x, 1, &[])?;
        let window = model.preprocessing().window(rgb.width(), rgb.height());
        let gt: Vec<_> = info
            .boxes_in(rgb.dimensions(), rgb.dimensions())
            .iter()
            .map(|b| to_input_box(b, &window))
            .collect();
        let png = out
            .join("figures")
            .join(format!("fig3-{}.png", stem(&info.id)));
        save_png(&steps_figure(&shown, &boxes[0], &gt), &png)?;
        let iou = boxes[0]
            .bbox
            .map(|b| {
                let size = shown.dimensions();
                to_image_box(b, &InputWindow::stretch(size, size), size).best_iou(&gt)
            })
            .unwrap_or(0.0);
        let class = class_name(model, boxes[0].class);
        figures.push(Figure {
            src: relative(&png, out),
            caption: format!(
                "{}: top-1 {class} (true class {}), IoU with ground truth {iou:.2}",
                stem(&info.id),
                class_name(model, info.label)
            ),
        });
    }
    Ok(Section {
        title: "Fig. 3 — weakly supervised localisation".into(),
        text: "Image; saliency; foreground seeds (red, > 95 % quantile) and background seeds \
               (blue, < 30 % quantile); GraphCut foreground from 5-component GMM colour models; \
               its largest connected component; the box (green) and ground truth (red)."
            .into(),
        tables: Vec::new(),
        figures,
    })
}

/// Sect. 5: the three backward rules on the same images, and the equivalence check on the
/// paper's network through conv and max-pool layers.
fn methods_figure(
    model: &dyn ImageModel,
    out: &Path,
    images: &[(PathBuf, &deepinside::ilsvrc::Sample)],
) -> anyhow::Result<Section> {
    let methods = [Method::Gradient, Method::DeconvNet, Method::GuidedBackprop];
    let mut tiles = Vec::new();
    for (path, info) in images.iter().take(4) {
        let (shown, x) = model
            .preprocessing()
            .prepare(&load_rgb(path)?, model.device())?;
        tiles.push((shown, stem(&info.id)));
        for m in methods {
            let a = attribute(model, &x, &[Target::Top1], m)?
                .remove(0)
                .remove(0);
            tiles.push((heatmap(&a.map(Reduction::MaxAbs)), m.as_str().to_string()));
        }
    }
    let png = out.join("figures").join("sect5-methods.png");
    save_png(&grid(&tiles, 4), &png)?;
    Ok(Section {
        title: "Sect. 5 — gradient, DeconvNet and guided backprop".into(),
        text: "DeconvNet reconstruction = gradient through convolution and max-pooling (the \
               switches are the gradient's arg-max); the rules differ only at ReLU. Checked \
               numerically on the paper's network (random weights, seed 3): relative L2 \
               difference to the gradient of the same target."
            .into(),
        tables: vec![equivalence_table()?],
        figures: vec![Figure {
            src: relative(&png, out),
            caption: "Top-1 class of EfficientNet-Lite0: gradient, DeconvNet, guided backprop (max-abs over colour)".into(),
        }],
    })
}

/// ‖rule − gradient‖ / ‖gradient‖ on the paper's network for a unit of conv1 (no ReLU on the
/// way back), the strongest unit of pool1 (one ReLU and one max-pool) and a class score.
fn equivalence_table() -> anyhow::Result<Table> {
    let net = PaperNet::random(3)?;
    let v: Vec<f32> = (0..3 * 224 * 224)
        .map(|i| ((i as f32) * 0.0071).sin() * 1.7 + ((i % 224) as f32 * 0.05).cos())
        .collect();
    let x = candle_core::Tensor::from_vec(v, (1, 3, 224, 224), &candle_core::Device::Cpu)?;
    let pool = net.forward_with(
        &x,
        &ForwardOptions {
            capture: vec!["pool1".into()],
            ..Default::default()
        },
    )?;
    let act = pool.activations["pool1"].get(0)?.get(5)?;
    let w = act.dim(1)?;
    let vals: Vec<f32> = act.flatten_all()?.to_vec1()?;
    let best = vals
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0);
    let targets = [
        (
            "conv1 unit [3, 20, 30]",
            Target::Neuron {
                layer: "conv1".into(),
                index: vec![3, 20, 30],
            },
        ),
        (
            "pool1 strongest unit of channel 5",
            Target::Neuron {
                layer: "pool1".into(),
                index: vec![5, best / w, best % w],
            },
        ),
        ("class score 1", Target::Class(1)),
    ];
    let mut table = Table {
        header: ["target", "DeconvNet vs gradient", "guided vs gradient"]
            .map(String::from)
            .to_vec(),
        rows: Vec::new(),
    };
    for (label, t) in targets {
        let r: Vec<Attribution> = [Method::Gradient, Method::DeconvNet, Method::GuidedBackprop]
            .into_iter()
            .map(|m| {
                Ok(attribute(&net, &x, std::slice::from_ref(&t), m)?
                    .remove(0)
                    .remove(0))
            })
            .collect::<anyhow::Result<_>>()?;
        table.rows.push(vec![
            label.into(),
            format!("{:.3e}", r[1].relative_difference(&r[0])),
            format!("{:.3e}", r[2].relative_difference(&r[0])),
        ]);
    }
    Ok(table)
}

/// The file stem of an image id such as `images/ILSVRC2012_val_00000560.JPEG`.
fn stem(id: &str) -> String {
    Path::new(id)
        .file_stem()
        .map_or_else(|| id.to_string(), |s| s.to_string_lossy().to_string())
}

fn pct(v: &Value) -> String {
    v.as_f64()
        .map_or("—".into(), |f| format!("{:.1} %", 100.0 * f))
}

/// The tables: ours from `eval`, the PyTorch peer's and the paper's numbers beside them.
fn tables_section(s: &Value, best: &Value, wall_s: f64) -> Section {
    let n = s["images"].as_u64().unwrap_or(0);
    let classification = Table {
        header: ["", "top-1 error", "top-5 error"]
            .map(String::from)
            .to_vec(),
        rows: vec![
            vec![
                format!("ours, {n} images"),
                pct(&s["classification"]["top1_error"]),
                pct(&s["classification"]["top5_error"]),
            ],
            vec![
                "PyTorch peer, same 300 dev images (PEERS.md)".into(),
                "17.7 %".into(),
                "4.3 %".into(),
            ],
            vec![
                "PyTorch peer, 1300-image subset (PEERS.md)".into(),
                "18.5 %".into(),
                "5.2 %".into(),
            ],
        ],
    };
    let l = &s["localisation"];
    let b = &s["baselines"];
    // One row of the localisation table from a summary's metrics (MaxBoxAccV2 only for maps).
    let metrics_row = |label: String, m: &Value, maps: Option<&Value>| -> Vec<String> {
        vec![
            label,
            pct(&m["top1_error"]),
            pct(&m["top5_error"]),
            pct(&m["gt_known_accuracy"]),
            maps.map_or("—".into(), |m| pct(&m["maxboxacc_v2"])),
        ]
    };
    let fixed_row = |label: &str, v: [&str; 3]| -> Vec<String> {
        vec![
            label.into(),
            v[0].into(),
            v[1].into(),
            v[2].into(),
            "—".into(),
        ]
    };
    let localisation = Table {
        header: [
            "method",
            "top-1 loc. error",
            "top-5 loc. error",
            "GT-known accuracy",
            "MaxBoxAccV2",
        ]
        .map(String::from)
        .to_vec(),
        rows: vec![
            metrics_row(format!("ours, paper preset, {n} images"), l, Some(l)),
            metrics_row(
                format!(
                    "ours, best preset (10-crop Grad-CAM, 20 % threshold), {} images",
                    best["images"]
                ),
                &best["localisation"],
                Some(&best["localisation"]),
            ),
            fixed_row(
                "PyTorch peer, paper procedure, 300 dev images (PEERS.md)",
                ["71.3 %", "—", "34.3 % (top-1 class map)"],
            ),
            fixed_row(
                "paper (ILSVRC-2013 test, their network)",
                ["—", "46.4 %", "—"],
            ),
            metrics_row("baseline: whole image".into(), &b["full_image"], None),
            metrics_row(
                "baseline: centred box, 50 % area".into(),
                &b["centre_50"],
                None,
            ),
            metrics_row(
                "baseline: centred box, 75 % area".into(),
                &b["centre_75"],
                None,
            ),
        ],
    };
    Section {
        title: "Tables — classification and localisation".into(),
        text: format!(
            "From `deepinside eval --task localise --preset paper` (eval/summary.json): {n} images, \
             {} failed, {:.2} images/s; `--preset best` (eval-best/summary.json): {:.2} images/s. \
             Whole reproduction: {:.1} min wall time on this machine.",
            s["failed"],
            s["images_per_second"].as_f64().unwrap_or(0.0),
            best["images_per_second"].as_f64().unwrap_or(0.0),
            wall_s / 60.0
        ),
        tables: vec![classification, localisation],
        figures: Vec::new(),
    }
}

/// The commit the run started from, marked when tracked files had local changes.
fn source_version() -> String {
    let git = |a: &[&str]| {
        std::process::Command::new("git")
            .args(a)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(s) if !s.is_empty() => " (with local changes)",
        _ => "",
    };
    format!("{} at commit {commit}{dirty}", env!("CARGO_PKG_VERSION"))
}

/// Settings, versions and the commit, so the run can be repeated.
fn about_section(args: &Args, model: &dyn ImageModel, s: &Value, version: &str) -> Section {
    let p = Settings::paper();
    let r = Settings::recommended();
    Section {
        title: "Settings and versions".into(),
        text: String::new(),
        tables: vec![Table {
            header: vec!["".into(), "".into()],
            rows: vec![
                vec!["deepinside".into(), version.to_string()],
                vec!["model".into(), format!("{} on {}", model.name(), args.model.device)],
                vec!["data".into(), format!("{} ({} images evaluated)", args.data.display(), s["images"])],
                vec!["class models, paper".into(), format!("{} steps, step {:?}, λ {}", p.steps, p.optimiser, p.penalties.l2)],
                vec!["class models, recommended".into(), serde_json::to_string(&r).unwrap_or_default()],
                vec!["saliency".into(), "gradient of the unnormalised top-1 class score, max-abs over colour".into()],
                vec!["localisation (paper preset)".into(), "seeds > 95 % / < 30 % quantile, 5-component full-covariance GMMs (K-means start, every seed pixel, as scikit-learn fits them), contrast-sensitive Potts γ = 50, 8-connected, Boykov–Kolmogorov max-flow, largest 8-connected component; top-5 classes; IoU ≥ 0.5 with the devkit's +1 convention".into()],
                vec!["localisation (best preset)".into(), format!("Grad-CAM of each class at the last feature map, averaged over the ten crops (short side {BEST_SHORT_SIDE}), box around the largest 8-connected region above 20 % of the maximum")],
                vec!["threads".into(), format!("{} (rayon)", crate::progress::threads())],
            ],
        }],
        figures: Vec::new(),
    }
}
