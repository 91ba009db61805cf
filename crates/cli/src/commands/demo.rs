//! `deepinside demo`: the main job on built-in defaults, for a new user on a fresh machine.
//! Fetches the default model and a few sample photos (or takes `--images`), then writes into
//! `./deepinside-demo/`: classification, saliency maps, localisation steps and boxes, one
//! class model, and an `index.html` that shows them all.
use crate::commands::classify::top_k;
use crate::commands::saliency::write_outputs;
use crate::commands::visualise::class_name;
use crate::demo_images::demo_images;
use crate::gallery::{relative, Figure, Gallery, Section, Table};
use crate::model_args::ModelArgs;
use anyhow::Context;
use deepinside::attribution::render::save_png;
use deepinside::attribution::Target;
use deepinside::convnet::preprocess::load_rgb;
use deepinside::localise::{localise, presets_figure, steps_figure, Preset};
use deepinside::synthesis::{augmentation_robustness, visualise, Augmentations, Settings};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output folder.
    #[arg(long, default_value = "deepinside-demo")]
    pub out: PathBuf,
    /// Use these images instead of the sample photos.
    #[arg(long, num_args = 1..)]
    pub images: Vec<PathBuf>,
    /// Steps of the class model (recommended preset).
    #[arg(long, default_value_t = Settings::recommended().steps)]
    pub class_model_steps: usize,
    /// The model (default: EfficientNet-Lite0, fetched on first use), an ONNX file included,
    /// and the device (`cpu`, `cuda` or `cuda:N`; CUDA needs a build with `--features cuda`).
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let model = args.model.load()?;
    let photos = if args.images.is_empty() {
        demo_images()?
    } else {
        args.images.clone()
    };
    std::fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let jsonl = args.out.join("classification.jsonl");
    let mut file = std::fs::File::create(&jsonl).with_context(|| jsonl.display().to_string())?;
    let preset = Preset::paper();
    let best = Preset::best();
    let mut table = Table {
        header: ["image", "1st", "2nd", "3rd", "4th", "5th"]
            .map(String::from)
            .to_vec(),
        rows: Vec::new(),
    };
    let mut saliency = Section {
        title: "Image-specific class saliency (top-1 class, one backward pass)".into(),
        text: "The paper's M_ij = max_c |∂S_c/∂I|: bright pixels are those whose change most \
               changes the top class's score."
            .into(),
        ..Section::default()
    };
    let mut steps = Section {
        title: "Weakly supervised localisation (paper preset, top-1 class)".into(),
        text: "Seeds from the 95 % / 30 % saliency quantiles, GMM colour models, GraphCut, \
               largest connected component, its box."
            .into(),
        ..Section::default()
    };
    let mut better = Section {
        title: "Localisation, best preset (top-1 class)".into(),
        text: "Grad-CAM at the last feature map averaged over the paper's ten crops, the largest \
               region above 20 % of its maximum, its box — on the 300 dev images GT-known \
               accuracy 66 % against the paper preset's 36 % (docs/localisation.md)."
            .into(),
        ..Section::default()
    };
    let mut failed = Vec::new();
    let mut first_class = None;
    for path in &photos {
        let stem = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let mut one = || -> anyhow::Result<()> {
            let img = load_rgb(path)?;
            let (shown, x) = model.preprocessing().prepare(&img, model.device())?;
            let row: Vec<f32> = model.forward(&x)?.get(0)?.to_vec1()?;
            let top = top_k(&row, 5);
            let classes = model.classes();
            println!("{stem}");
            let mut entries = Vec::new();
            let mut cells = vec![stem.clone()];
            for (rank, &i) in top.iter().enumerate() {
                let c = classes.get(i).context("class index")?;
                println!("  {}. {:>7.3}  {}", rank + 1, row[i], c.describe());
                entries.push(serde_json::json!({"index": i, "wnid": c.wnid, "name": c.name, "score": row[i]}));
                cells.push(format!("{} ({:.1})", c.name, row[i]));
            }
            table.rows.push(cells);
            writeln!(
                file,
                "{}",
                serde_json::json!({"image": path.display().to_string(), "model": model.name(), "device": args.model.device, "top5": entries})
            )?;
            first_class.get_or_insert(top[0]);
            let boxes = localise(&*model, &preset, &shown, &x, 1, &[])?;
            let files = write_outputs(&args.out, &stem, &boxes[0].map, None, &shown)?;
            let name = class_name(&*model, top[0]);
            for key in ["overlay", "heatmap"] {
                let f = PathBuf::from(files[key].as_str().unwrap_or_default());
                saliency.figures.push(Figure {
                    src: relative(&f, &args.out),
                    caption: format!("{stem}: {key}, class {name}"),
                });
            }
            let steps_png = args.out.join(format!("{stem}_steps.png"));
            save_png(&steps_figure(&shown, &boxes[0], &[]), &steps_png)?;
            steps.figures.push(Figure {
                src: relative(&steps_png, &args.out),
                caption: format!("{stem}: {name}; {}", boxes[0].notes.join("; ")),
            });
            let best_boxes = localise(&*model, &best, &shown, &x, 1, &[])?;
            let best_png = args.out.join(format!("{stem}_presets.png"));
            save_png(
                &presets_figure(&shown, &boxes[0], &best_boxes[0], &[]),
                &best_png,
            )?;
            better.figures.push(Figure {
                src: relative(&best_png, &args.out),
                caption: format!("{stem}: {name}"),
            });
            Ok(())
        };
        if let Err(e) = one() {
            eprintln!("error: {}: {e:#}", path.display());
            failed.push(path.display().to_string());
        }
    }

    // One class model: the first photo's top class, recommended preset.
    let mut class_model = Section {
        title: "Class model visualisation".into(),
        ..Section::default()
    };
    if let Some(c) = first_class {
        let settings = Settings {
            steps: args.class_model_steps,
            ..Settings::recommended()
        };
        eprintln!("class model of class {c} ({} steps) ...", settings.steps);
        let v = visualise(&*model, &[Target::Class(c)], &settings, &mut |_| {})?.remove(0);
        let png = args.out.join(format!("class_model_{c}.png"));
        save_png(&v.image, &png)?;
        let r = augmentation_robustness(&*model, &v.image, c, &Augmentations::default())?;
        class_model.text = format!(
            "An image the network scores as {} (S_c = {:.1}, P_c = {:.2}), synthesised from noise by \
             gradient ascent ({} steps, recommended preset: Fourier/colour parameterisation, Adam, \
             random crops, flips and rotations). It stays top-1 under {} of {} random re-framings.",
            v.target.label,
            v.score.unwrap_or(f32::NAN),
            v.probability.unwrap_or(f32::NAN),
            settings.steps,
            r.top1,
            r.trials
        );
        class_model.figures.push(Figure {
            src: relative(&png, &args.out),
            caption: v.target.label.clone(),
        });
    }
    let gallery = Gallery {
        title: "deepinside demo".into(),
        intro: format!(
            "EfficientNet-Lite0 on {} images: classification, saliency, localisation and a class \
             model, after Simonyan, Vedaldi & Zisserman (2013).",
            photos.len()
        ),
        sections: vec![
            Section {
                title: "Classification (top-5, logits)".into(),
                tables: vec![table],
                ..Section::default()
            },
            saliency,
            steps,
            better,
            class_model,
        ],
    };
    let index = gallery.write_html(&args.out)?;
    println!(
        "\ndemo done in {:.1} s with {}:\n  classification: {}\n  saliency, localisation and class model pictures: {}\n  open {}",
        started.elapsed().as_secs_f64(),
        model.name(),
        jsonl.display(),
        args.out.display(),
        index.display()
    );
    Ok(crate::progress::finish(&failed, photos.len()))
}
