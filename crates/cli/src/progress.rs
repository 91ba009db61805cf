//! What every command over many images shares: a progress bar (images/s, ETA) and the
//! closing summary of the images that failed, which sets the exit status.
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;

/// A progress bar for `len` images, drawn only when there are more than `min` of them.
pub fn bar(len: usize, min: usize) -> ProgressBar {
    if len <= min {
        return ProgressBar::hidden();
    }
    ProgressBar::new(len as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} images, {per_sec}, eta {eta}")
            .expect("valid template"),
    )
}

/// At most this many failed images are named; a long run says how many more there were.
const NAMED_FAILURES: usize = 10;

/// Says which images failed (on stderr, one per line, the first few) and returns exit
/// status 1 if any did, else 0.
pub fn finish(failed: &[String], total: usize) -> ExitCode {
    if failed.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!("{} of {total} images failed:", failed.len());
    for f in failed.iter().take(NAMED_FAILURES) {
        eprintln!("  {f}");
    }
    if failed.len() > NAMED_FAILURES {
        eprintln!("  … and {} more", failed.len() - NAMED_FAILURES);
    }
    ExitCode::from(1)
}

/// The JSON line of an image that failed: `{"image": PATH, "error": MESSAGE}`.
pub fn error_line(path: &std::path::Path, message: &str) -> String {
    serde_json::json!({ "image": path.display().to_string(), "error": message }).to_string()
}

/// Runs `work` on each image under a progress bar (shown above `min` images): a JSON line it
/// returns goes to stdout (and to `on_line`); an error is reported on stderr and as a JSON
/// line `{"image", "error"}`, and the batch goes on. Returns exit status 1 if any image failed.
pub fn each_image(
    images: &[PathBuf],
    min: usize,
    mut work: impl FnMut(&std::path::Path) -> anyhow::Result<String>,
    mut on_line: impl FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    let bar = bar(images.len(), min);
    let mut failed = Vec::new();
    for path in images {
        match work(path) {
            Ok(line) => {
                on_line(&line)?;
                bar.suspend(|| println!("{line}"));
            }
            Err(e) => {
                let message = format!("{e:#}");
                bar.suspend(|| eprintln!("error: {}: {message}", path.display()));
                let line = error_line(path, &message);
                on_line(&line)?;
                bar.suspend(|| println!("{line}"));
                failed.push(path.display().to_string());
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(finish(&failed, images.len()))
}
