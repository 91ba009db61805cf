//! What every command over many images shares: a progress bar (images/s, ETA) and the
//! closing summary of the images that failed, which sets the exit status.
use indicatif::{ProgressBar, ProgressStyle};
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

/// Says which images failed (on stderr) and returns exit status 1 if any did, else 0.
pub fn finish(failed: &[String], total: usize) -> ExitCode {
    if failed.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "{} of {total} images failed: {}",
        failed.len(),
        failed.join(", ")
    );
    ExitCode::from(1)
}
