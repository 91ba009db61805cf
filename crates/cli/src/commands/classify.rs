//! `deepinside classify IMAGE...`: top-5 classes per image, as text or JSON lines.
//! A bad image is reported and skipped; the exit status says whether any failed.
use crate::model_args::ModelArgs;
use deepinside::convnet::preprocess::load_rgb;
use deepinside::convnet::ImageModel;
use indicatif::ProgressBar;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Images to classify (any format the `image` crate reads; JPEG via libjpeg-turbo).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// One JSON object per line per image instead of text.
    #[arg(long)]
    pub json: bool,
    /// Number of classes to show.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Images per forward pass.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
}

#[derive(Serialize)]
struct Guess<'a> {
    index: usize,
    wnid: &'a str,
    name: &'a str,
    score: f32,
}

pub use deepinside::attribution::top_k;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let model = args.model.load()?;
    let device = args.model.device.clone();
    let bar = crate::progress::bar(args.images.len(), 8);
    let mut failed = Vec::new();
    for chunk in args.images.chunks(args.batch.max(1)) {
        let mut loaded = Vec::new();
        for path in chunk {
            match load_rgb(path) {
                Ok(img) => loaded.push((path, img)),
                Err(e) => {
                    report_failure(&args, path, &e.to_string(), &bar);
                    failed.push(path.clone());
                }
            }
        }
        if loaded.is_empty() {
            bar.inc(chunk.len() as u64);
            continue;
        }
        let images: Vec<_> = loaded.iter().map(|(_, img)| img.clone()).collect();
        let x = model.preprocessing().batch(&images, model.device())?;
        let logits = model.forward(&x)?;
        for (i, (path, _)) in loaded.iter().enumerate() {
            let row: Vec<f32> = logits.get(i)?.to_vec1()?;
            print_result(&args, &*model, path, &row, &device, &bar)?;
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let failed: Vec<String> = failed.iter().map(|p| p.display().to_string()).collect();
    Ok(crate::progress::finish(&failed, args.images.len()))
}

fn report_failure(args: &Args, path: &std::path::Path, message: &str, bar: &ProgressBar) {
    bar.suspend(|| {
        eprintln!("error: {message}");
        if args.json {
            println!("{}", crate::progress::error_line(path, message));
        }
    });
}

fn print_result(
    args: &Args,
    model: &dyn ImageModel,
    path: &std::path::Path,
    row: &[f32],
    device: &str,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let classes = model.classes();
    let guesses: Vec<Guess> = top_k(row, args.top)
        .into_iter()
        .map(|i| {
            let c = classes.get(i);
            Guess {
                index: i,
                wnid: c.map_or("", |c| c.wnid.as_str()),
                name: c.map_or("", |c| c.name.as_str()),
                score: row[i],
            }
        })
        .collect();
    let line = if args.json {
        serde_json::json!({
            "image": path.display().to_string(),
            "model": model.name(),
            "device": device,
            "top5": guesses,
        })
        .to_string()
    } else {
        let mut s = format!("{}\n", path.display());
        for (rank, g) in guesses.iter().enumerate() {
            let class = classes
                .get(g.index)
                .map(|c| c.describe())
                .unwrap_or_default();
            s.push_str(&format!("  {}. {:>7.3}  {class}\n", rank + 1, g.score));
        }
        s.trim_end().to_string()
    };
    bar.suspend(|| println!("{line}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::top_k;

    #[test]
    fn top_k_orders_best_first_and_truncates() {
        assert_eq!(top_k(&[0.1, 3.0, -1.0, 2.0], 2), vec![1, 3]);
        assert_eq!(top_k(&[1.0], 5), vec![0]);
    }
}
