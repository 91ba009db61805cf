//! `deepinside saliency IMAGE...`: per image a heat map PNG, an overlay PNG, the map (or with
//! `--reduce none` the raw attribution) as `.npy` and a JSON line, for any attribution
//! method. One bad image is reported and skipped; the exit status says so.
use crate::method_args::MethodArgs;
use crate::model_args::ModelArgs;
use anyhow::{bail, Context};
use deepinside::attribution::render::{heatmap, overlay, save_png};
use deepinside::attribution::{
    explain, explain_ten_crop, npy, AttributionMethod, MethodSettings, Reduction, Target, TenCrop,
};
use deepinside::convnet::preprocess::load_rgb;
use deepinside::convnet::ImageModel;
use ndarray::Array2;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `--reduce`: a reduction over colour channels, or none (the raw attribution).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReduceArg(pub Option<Reduction>);

impl std::str::FromStr for ReduceArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "none" {
            return Ok(ReduceArg(None));
        }
        s.parse::<Reduction>()
            .map(|r| ReduceArg(Some(r)))
            .map_err(|e| format!("{e}, or none"))
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Images to explain.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Class to explain: `top1`, an index (0-based, sorted-WNID order) or a WNID.
    #[arg(long, default_value = "top1")]
    pub class: String,
    /// Attribution method: gradient (the paper's saliency), guided, deconvnet,
    /// input-x-gradient, integrated-gradients, smoothgrad, smoothgrad-sq, vargrad, gradcam,
    /// gradcam++, guided-gradcam, occlusion or rise.
    #[arg(long, default_value = "gradient")]
    pub method: AttributionMethod,
    /// 1: one crop at the model's input size; 10: the paper's 10-crop average.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=10))]
    pub crops: u8,
    /// With --channel: explain a channel of this layer instead of a class. For the Grad-CAM
    /// methods: the layer the map is read at (default: the last layer with a spatial map).
    #[arg(long)]
    pub layer: Option<String>,
    /// Channel of --layer whose mean activation is explained.
    #[arg(long, requires = "layer")]
    pub channel: Option<usize>,
    /// How colour channels are reduced: max-abs (the paper), sum-abs, l2, or none to write
    /// the raw [3, h, w] attribution to the .npy (the pictures show max-abs).
    #[arg(long, default_value = "max-abs")]
    pub reduce: ReduceArg,
    #[command(flatten)]
    pub settings: MethodArgs,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let model = args.model.load()?;
    let cam_layer = if args.channel.is_none() {
        args.layer.clone()
    } else {
        None
    };
    if args.layer.is_some() && args.channel.is_none() && !args.method.uses_layer() {
        bail!(
            "--layer without --channel names the Grad-CAM layer; {} reads no layer \
             (add --channel N to explain a channel of {})",
            args.method,
            args.layer.as_deref().unwrap_or_default()
        );
    }
    let settings = args.settings.settings(cam_layer);
    settings.validate(args.method, &*model)?;
    let target = match (&args.layer, args.channel) {
        (Some(layer), Some(channel)) => Target::Channel {
            layer: layer.clone(),
            channel,
        },
        _ => Target::class(&args.class, &*model)?,
    };
    target.validate(&*model)?;
    if args.crops != 1 && args.crops != 10 {
        bail!("--crops is 1 or 10, got {}", args.crops);
    }
    if args.crops == 10 && args.channel.is_some() {
        bail!("--crops 10 averages class saliency maps; use --crops 1 with --layer/--channel");
    }
    if args.crops == 10 && args.reduce.0.is_none() {
        bail!("--crops 10 averages reduced maps; --reduce none needs --crops 1");
    }
    std::fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let jsonl = args.out.join("saliency.jsonl");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&jsonl)
        .with_context(|| jsonl.display().to_string())?;
    crate::progress::each_image(
        &args.images,
        3,
        |path| explain_file(&args, &*model, &settings, &target, path),
        |line| {
            use std::io::Write;
            Ok(writeln!(log, "{line}")?)
        },
    )
}

/// Writes the outputs for one image and returns its JSON line.
fn explain_file(
    args: &Args,
    model: &dyn ImageModel,
    settings: &MethodSettings,
    target: &Target,
    path: &Path,
) -> anyhow::Result<String> {
    let img = load_rgb(path)?;
    let shown_reduction = args.reduce.0.unwrap_or_default();
    let mut gap = None;
    let mut raw = None;
    let (map, shown, resolved, score) = if args.crops == 10 {
        let r = explain_ten_crop(
            model,
            &img,
            target,
            args.method,
            settings,
            shown_reduction,
            TenCrop::default(),
        )?;
        (r.map, r.resized, r.target, r.score)
    } else {
        let (shown, x) = model.preprocessing().prepare(&img, model.device())?;
        let e = explain(model, &x, target, args.method, settings)?.remove(0);
        gap = e.completeness_gap;
        if args.reduce.0.is_none() {
            raw = Some(e.raw());
        }
        (e.map(shown_reduction), shown, e.target, e.score)
    };
    let stem = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    // With --reduce none the .npy holds the unreduced attribution; the pictures stay the
    // max-abs map.
    let files = write_outputs(&args.out, &stem, &map, raw.as_ref(), &shown)?;
    let shape = raw.map_or_else(|| vec![map.nrows(), map.ncols()], |(dims, _)| dims);
    let mut line = serde_json::json!({
        "image": path.display().to_string(),
        "target": resolved,
        "score": score,
        "method": args.method.as_str(),
        "reduction": args.reduce.0.map(|r| r.as_str()).unwrap_or("none"),
        "crops": args.crops,
        "model": model.name(),
        "device": args.model.device,
        "map_shape": shape,
        "files": files,
    });
    if let Some(settings) = method_settings_json(args.method, settings, model) {
        line["settings"] = settings;
    }
    if let Some(gap) = gap {
        line["completeness_gap"] = gap.into();
    }
    // For a graph model: how many units the backward rule acted on, and what was chosen.
    if let Some(graph) = &model.info().graph {
        line["graph"] = serde_json::to_value(graph)?;
    }
    Ok(line.to_string())
}

/// The settings a method used, for the JSON line (none for the plain gradient rules).
fn method_settings_json(
    method: AttributionMethod,
    s: &MethodSettings,
    model: &dyn ImageModel,
) -> Option<serde_json::Value> {
    Some(match method {
        AttributionMethod::Rule(_) | AttributionMethod::InputXGradient => return None,
        AttributionMethod::IntegratedGradients => serde_json::json!(s.integrated),
        AttributionMethod::SmoothGrad(v) => serde_json::json!({
            "samples": s.smooth.samples, "noise": s.smooth.noise, "seed": s.smooth.seed,
            "variant": v.method_name(), "rule": s.smooth.rule.as_str(),
        }),
        AttributionMethod::Occlusion => serde_json::json!(s.occlusion),
        AttributionMethod::Rise => serde_json::json!(s.rise),
        AttributionMethod::GradCam(_) | AttributionMethod::GuidedGradCam => {
            serde_json::json!({ "layer": s.cam_layer(model).ok() })
        }
    })
}

/// `<stem>.npy` (the map, or `raw` = (shape, values) when given), the heat map and the
/// overlay of `map` on `shown`.
pub(crate) fn write_outputs(
    out: &Path,
    stem: &str,
    map: &Array2<f32>,
    raw: Option<&(Vec<usize>, Vec<f32>)>,
    shown: &image::RgbImage,
) -> anyhow::Result<serde_json::Value> {
    let npy_path = out.join(format!("{stem}.npy"));
    match raw {
        Some((dims, values)) => npy::write_f32(&npy_path, dims, values)?,
        None => npy::write_map(&npy_path, map)?,
    }
    let heat_path = out.join(format!("{stem}_heatmap.png"));
    save_png(&heatmap(map), &heat_path)?;
    let overlay_path = out.join(format!("{stem}_overlay.png"));
    save_png(&overlay(shown, map), &overlay_path)?;
    Ok(serde_json::json!({
        "npy": npy_path.display().to_string(),
        "heatmap": heat_path.display().to_string(),
        "overlay": overlay_path.display().to_string(),
    }))
}
