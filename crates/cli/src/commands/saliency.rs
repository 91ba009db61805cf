//! `deepinside saliency IMAGE...`: per image a heat map PNG, an overlay PNG, the raw map as
//! `.npy` and a JSON line. One bad image is reported and skipped; the exit status says so.
use crate::model_args::ModelArgs;
use anyhow::{bail, Context};
use deepinside::attribution::render::{heatmap, overlay, save_png};
use deepinside::attribution::{attribute, npy, ten_crop, Method, Reduction, Target, TenCrop};
use deepinside::convnet::preprocess::load_rgb;
use deepinside::convnet::ImageModel;
use ndarray::Array2;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Images to explain.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Class to explain: `top1`, an index (0-based, sorted-WNID order) or a WNID.
    #[arg(long, default_value = "top1")]
    pub class: String,
    /// Backward rule: gradient (the paper's saliency), deconvnet or guided.
    #[arg(long, default_value = "gradient")]
    pub method: Method,
    /// 1: one crop at the model's input size; 10: the paper's 10-crop average.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=10))]
    pub crops: u8,
    /// Explain a channel of this layer instead of a class (with --channel).
    #[arg(long, requires = "channel")]
    pub layer: Option<String>,
    /// Channel of --layer whose mean activation is explained.
    #[arg(long, requires = "layer")]
    pub channel: Option<usize>,
    /// How colour channels are reduced: max-abs (the paper), sum-abs or l2.
    #[arg(long, default_value = "max-abs")]
    pub reduce: Reduction,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let model = args.model.load()?;
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
    if args.crops == 10 && args.layer.is_some() {
        bail!("--crops 10 averages class saliency maps; use --crops 1 with --layer");
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
        |path| explain(&args, &*model, &target, path),
        |line| {
            use std::io::Write;
            Ok(writeln!(log, "{line}")?)
        },
    )
}

/// Writes the outputs for one image and returns its JSON line.
fn explain(
    args: &Args,
    model: &dyn ImageModel,
    target: &Target,
    path: &Path,
) -> anyhow::Result<String> {
    let img = load_rgb(path)?;
    let (map, shown, resolved, score) = if args.crops == 10 {
        let r = ten_crop(
            model,
            &img,
            target,
            args.method,
            args.reduce,
            TenCrop::default(),
        )?;
        (r.map, r.resized, r.target, r.score)
    } else {
        let (shown, x) = model.preprocessing().prepare(&img, model.device())?;
        let a = attribute(model, &x, std::slice::from_ref(target), args.method)?
            .remove(0)
            .remove(0);
        (a.map(args.reduce), shown, a.target, a.score)
    };
    let stem = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let files = write_outputs(&args.out, &stem, &map, &shown)?;
    Ok(serde_json::json!({
        "image": path.display().to_string(),
        "target": resolved,
        "score": score,
        "method": args.method.as_str(),
        "reduction": args.reduce.as_str(),
        "crops": args.crops,
        "model": model.name(),
        "device": args.model.device,
        "map_shape": [map.nrows(), map.ncols()],
        "files": files,
    })
    .to_string())
}

pub(crate) fn write_outputs(
    out: &Path,
    stem: &str,
    map: &Array2<f32>,
    shown: &image::RgbImage,
) -> anyhow::Result<serde_json::Value> {
    let npy_path = out.join(format!("{stem}.npy"));
    let standard = map.as_standard_layout();
    npy::write_f32(
        &npy_path,
        &[map.nrows(), map.ncols()],
        standard.as_slice().expect("standard layout"),
    )?;
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
