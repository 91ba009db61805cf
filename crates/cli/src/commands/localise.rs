//! `deepinside localise IMAGE... --out DIR`: boxes for the top-k classes of each image from
//! their saliency maps (the paper's Sect. 3.2). Per image: a JSON line (classes, scores,
//! boxes in the image's own pixels), `<stem>_boxes.png` (top-1 object mask tinted, top-1 box
//! green, the other guesses' boxes in yellow, ground truth in red when `--data` knows the
//! image), `<stem>_saliency.png` (the top-1 class's map) and `<stem>_steps.png` (the paper's
//! Fig. 3 for the top-1 class: image, saliency, seeds, GraphCut mask, largest component, box).
use crate::localise::{draw_box, localise, steps_figure, Preset};
use crate::model_args::ModelArgs;
use anyhow::Context;
use attribution::render::{heatmap, save_png};
use convnet::preprocess::load_rgb;
use convnet::ImageModel;
use ilsvrc::BoxF;
use image::Rgb;
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
    #[arg(long, default_value = "paper", help = crate::localise::PRESET_HELP)]
    pub preset: String,
    /// A dataset (wsolevaluation, devkit or Kaggle layout) whose ground-truth boxes are drawn
    /// for its images.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let model = args.model.load()?;
    let preset = Preset::by_name(&args.preset)?;
    let gt: HashMap<PathBuf, ilsvrc::Sample> = match &args.data {
        Some(d) => {
            let ds = ilsvrc::dataset::open(d, None)
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
    crate::progress::each_image(
        &args.images,
        1,
        |path| one(&args, &*model, &preset, &gt, path),
        |_| Ok(()),
    )
}

fn one(
    args: &Args,
    model: &dyn ImageModel,
    preset: &Preset,
    gt: &HashMap<PathBuf, ilsvrc::Sample>,
    path: &Path,
) -> anyhow::Result<String> {
    let rgb = load_rgb(path)?;
    let (shown, x) = model.preprocessing().prepare(&rgb, model.device())?;
    let boxes = localise(model, preset, &shown, &x, args.top.max(1), &[])?;
    let (sx, sy) = (
        rgb.width() as f64 / shown.width() as f64,
        rgb.height() as f64 / shown.height() as f64,
    );
    let to_image = |b: segment::BoundingBox| {
        crate::localise::to_image_box(b, shown.dimensions(), rgb.dimensions())
    };
    // Picture at the image's own size: the top-1 object tinted, boxes drawn over it.
    let mut pic = rgb.clone();
    let mask = &boxes[0].segmentation.object;
    for (x, y, p) in pic.enumerate_pixels_mut() {
        let (mx, my) = (
            ((x as f64 / sx) as usize).min(mask.ncols() - 1),
            ((y as f64 / sy) as usize).min(mask.nrows() - 1),
        );
        if mask[(my, mx)] {
            *p = Rgb([
                (p[0] as u16 / 2 + 60) as u8,
                (p[1] as u16 / 2 + 110) as u8,
                (p[2] as u16 / 2) as u8,
            ]);
        }
    }
    // Ground truth in the decoded image's pixels.
    let known: Option<Vec<BoxF>> = gt
        .get(&path.canonicalize().unwrap_or_else(|_| path.to_path_buf()))
        .map(|s| s.boxes_in(rgb.dimensions(), rgb.dimensions()));
    let known = known.as_ref();
    for b in known.into_iter().flatten() {
        draw_box(&mut pic, b, [230, 30, 30], 2);
    }
    for c in boxes.iter().skip(1) {
        if let Some(b) = c.bbox {
            draw_box(&mut pic, &to_image(b), [240, 220, 40], 1);
        }
    }
    if let Some(b) = boxes[0].bbox {
        draw_box(&mut pic, &to_image(b), [40, 220, 60], 3);
    }
    let stem = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let boxes_png = args.out.join(format!("{stem}_boxes.png"));
    save_png(&pic, &boxes_png)?;
    let sal_png = args.out.join(format!("{stem}_saliency.png"));
    save_png(&heatmap(&boxes[0].map), &sal_png)?;
    // The paper's Fig. 3 for the top-1 class, at the model's input size.
    let known_shown: Vec<BoxF> = known
        .into_iter()
        .flatten()
        .map(|b| BoxF::new(b.x0 / sx, b.y0 / sy, b.x1 / sx, b.y1 / sy))
        .collect();
    let steps_png = args.out.join(format!("{stem}_steps.png"));
    save_png(&steps_figure(&shown, &boxes[0], &known_shown), &steps_png)?;
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
        "files": {
            "boxes": boxes_png.display().to_string(),
            "saliency": sal_png.display().to_string(),
            "steps": steps_png.display().to_string(),
        },
    })
    .to_string())
}
