//! `deepinside localise IMAGE... --out DIR`: boxes for the top-k classes of each image from
//! their saliency maps (the paper's Sect. 3.2). Per image: a JSON line (classes, scores,
//! boxes in the image's own pixels), `<stem>_boxes.png` (top-1 object mask tinted, top-1 box
//! green, the other guesses' boxes in yellow, ground truth in red when `--data` knows the
//! image), `<stem>_saliency.png` (the top-1 class's map) and `<stem>_steps.png` (the paper's
//! Fig. 3 for the top-1 class: image, saliency, seeds, GraphCut mask, largest component, box).
//! The figures are encoded on a thread of their own while the next image is localised;
//! `--no-figures` skips them.
use crate::model_args::ModelArgs;
use crate::png_queue::PngQueue;
use anyhow::Context;
use deepinside::attribution::render::heatmap;
use deepinside::convnet::preprocess::load_rgb;
use deepinside::convnet::ImageModel;
use deepinside::ilsvrc::BoxF;
use deepinside::localise::{
    boxes_picture, localise, steps_figure, to_image_box, to_input_box, Preset, PRESET_HELP,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Images to localise objects in.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Number of classes (best first) to make boxes for.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    #[arg(long, default_value = "paper", help = PRESET_HELP)]
    pub preset: String,
    /// A dataset (wsolevaluation, devkit or Kaggle layout) whose ground-truth boxes are drawn
    /// for its images.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Write the JSON lines only, no figures.
    #[arg(long)]
    pub no_figures: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let model = args.model.load()?;
    let preset = Preset::by_name(&args.preset)?;
    let gt: HashMap<PathBuf, deepinside::ilsvrc::Sample> = match &args.data {
        Some(d) => {
            let ds = deepinside::ilsvrc::dataset::open(d, None)
                .with_context(|| format!("reading {}", d.display()))?;
            ds.images
                .iter()
                .map(|i| {
                    (
                        ds.path(i).canonicalize().unwrap_or_else(|_| ds.path(i)),
                        i.clone(),
                    )
                })
                .collect()
        }
        None => HashMap::new(),
    };
    std::fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let figures = (!args.no_figures).then(PngQueue::new);
    // Two images in flight per core-pair: one image's max-flow (sequential) runs beside
    // the other's network pass and colour-model fits (parallel).
    let status = crate::progress::each_image_parallel(
        &args.images,
        1,
        crate::progress::threads(),
        |path| one(&args, &*model, &preset, &gt, figures.as_ref(), path),
        |_| Ok(()),
    )?;
    let unwritten = figures.map(PngQueue::finish).unwrap_or_default();
    for e in &unwritten {
        eprintln!("error: {e}");
    }
    Ok(if unwritten.is_empty() {
        status
    } else {
        ExitCode::from(1)
    })
}

fn one(
    args: &Args,
    model: &dyn ImageModel,
    preset: &Preset,
    gt: &HashMap<PathBuf, deepinside::ilsvrc::Sample>,
    figures: Option<&PngQueue>,
    path: &Path,
) -> anyhow::Result<String> {
    let rgb = load_rgb(path)?;
    let (shown, x) = model.preprocessing().prepare(&rgb, model.device())?;
    let boxes = localise(model, preset, &shown, &x, args.top.max(1), &[])?;
    let window = model.preprocessing().window(rgb.width(), rgb.height());
    let to_image = |b| to_image_box(b, &window, rgb.dimensions());
    // Ground truth in the decoded image's pixels.
    let known: Option<Vec<BoxF>> = gt
        .get(&path.canonicalize().unwrap_or_else(|_| path.to_path_buf()))
        .map(|s| s.boxes_in(rgb.dimensions(), rgb.dimensions()));
    let known = known.as_ref();
    let stem = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let files = figures.map(|queue| {
        let file = |kind: &str| args.out.join(format!("{stem}_{kind}.png"));
        let known_rgb = known.map_or(&[][..], |k| k.as_slice());
        let pic = boxes_picture(&rgb, &window, &boxes, known_rgb);
        queue.save(pic, file("boxes"));
        queue.save(heatmap(&boxes[0].map), file("saliency"));
        // The paper's Fig. 3 for the top-1 class, at the model's input size.
        let known_shown: Vec<BoxF> = known_rgb.iter().map(|b| to_input_box(b, &window)).collect();
        queue.save(steps_figure(&shown, &boxes[0], &known_shown), file("steps"));
        serde_json::json!({
            "boxes": file("boxes").display().to_string(),
            "saliency": file("saliency").display().to_string(),
            "steps": file("steps").display().to_string(),
        })
    });
    let classes = model.classes();
    let entries: Vec<_> = boxes
        .iter()
        .map(|c| {
            let info = classes.get(c.class);
            let bbox = c.bbox.map(to_image);
            serde_json::json!({
                "index": c.class,
                "wnid": info.map(|i| i.wnid.as_str()),
                "name": info.map(|i| i.name.as_str()),
                "score": c.score,
                "box": bbox,
                "iou_with_ground_truth": known.and_then(|g| bbox.map(|b| b.best_iou(g))),
                "notes": c.notes,
            })
        })
        .collect();
    Ok(serde_json::json!({
        "image": path.display().to_string(),
        "preset": args.preset,
        "model": model.name(),
        "device": args.model.device,
        "classes": entries,
        "ground_truth": known,
        "files": files,
    })
    .to_string())
}
