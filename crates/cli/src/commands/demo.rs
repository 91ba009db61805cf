//! `deepinside demo`: the main job on built-in defaults, for a new user on a fresh machine.
//! Fetches the default model and a few sample photos, classifies them and writes the
//! results into `./deepinside-demo/`.
use crate::demo_images::demo_images;
use anyhow::Context;
use convnet::preprocess::load_rgb;
use convnet::{load_model, ModelKind};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output folder.
    #[arg(long, default_value = "deepinside-demo")]
    pub out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let model = load_model(
        ModelKind::EfficientNetLite0,
        None,
        &candle_core::Device::Cpu,
    )
    .context("loading EfficientNet-Lite0")?;
    let photos = demo_images()?;
    std::fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let jsonl = args.out.join("classification.jsonl");
    let mut file = std::fs::File::create(&jsonl).with_context(|| jsonl.display().to_string())?;
    for path in &photos {
        let img = load_rgb(path)?;
        let x = model
            .preprocessing()
            .batch(std::slice::from_ref(&img), model.device())?;
        let row: Vec<f32> = model.forward(&x)?.get(0)?.to_vec1()?;
        let top = crate::commands::classify::top_k(&row, 5);
        let classes = model.classes();
        println!("{}", path.file_name().unwrap_or_default().to_string_lossy());
        let mut entries = Vec::new();
        for (rank, &i) in top.iter().enumerate() {
            let c = classes.get(i).context("class index")?;
            println!("  {}. {:>7.3}  {} {}", rank + 1, row[i], c.wnid, c.name);
            entries.push(
                serde_json::json!({"index": i, "wnid": c.wnid, "name": c.name, "score": row[i]}),
            );
        }
        writeln!(
            file,
            "{}",
            serde_json::json!({"image": path.display().to_string(), "model": model.name(), "device": "cpu", "top5": entries})
        )?;
    }
    println!(
        "\nclassified {} photos with {} in {:.1} s; results in {}",
        photos.len(),
        model.name(),
        started.elapsed().as_secs_f64(),
        jsonl.display()
    );
    Ok(ExitCode::SUCCESS)
}
