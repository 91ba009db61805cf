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

/// The size of the compute pool: RAYON_NUM_THREADS, else the cores (rayon's own rule).
pub fn threads() -> usize {
    rayon::current_num_threads()
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
    on_line: impl FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    let mut report = Report::new(images.len(), min, on_line);
    for path in images {
        let result = work(path);
        report.add(path, result)?;
    }
    Ok(report.finish())
}

/// As [`each_image`], with `workers` images in flight at once (see [`in_input_order`]).
pub fn each_image_parallel(
    images: &[PathBuf],
    min: usize,
    workers: usize,
    work: impl Fn(&std::path::Path) -> anyhow::Result<String> + Sync,
    on_line: impl FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    let mut report = Report::new(images.len(), min, on_line);
    in_input_order(
        images,
        workers,
        |p| work(p),
        |p, result| report.add(p, result),
    )?;
    Ok(report.finish())
}

/// Runs `work` on every item with `workers` items in flight, each worker on a compute pool
/// of its own of one thread, and hands the results to `done` in input order. Whole items in
/// parallel keep every core busy where one item's pipeline has sequential stages (a
/// max-flow, say); one thread per item also keeps each result independent of the machine's
/// core count.
pub fn in_input_order<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> R + Sync,
    mut done: impl FnMut(&T, R) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        for _ in 0..workers.max(1) {
            let (tx, next, work) = (tx.clone(), &next, &work);
            scope.spawn(move || {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = match &pool {
                        Ok(pool) => pool.install(|| work(item)),
                        Err(_) => work(item),
                    };
                    if tx.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Results arrive in any order; they are handed on in input order.
        let mut waiting = std::collections::BTreeMap::new();
        let mut due = 0;
        for (i, result) in rx {
            waiting.insert(i, result);
            while let Some(result) = waiting.remove(&due) {
                done(&items[due], result)?;
                due += 1;
            }
        }
        Ok(())
    })
}

/// The progress bar, the lines written so far and the images that failed.
struct Report<F> {
    bar: ProgressBar,
    failed: Vec<String>,
    total: usize,
    on_line: F,
}

impl<F: FnMut(&str) -> anyhow::Result<()>> Report<F> {
    fn new(total: usize, min: usize, on_line: F) -> Self {
        Report {
            bar: bar(total, min),
            failed: Vec::new(),
            total,
            on_line,
        }
    }

    fn add(
        &mut self,
        path: &std::path::Path,
        result: anyhow::Result<String>,
    ) -> anyhow::Result<()> {
        let line = match result {
            Ok(line) => line,
            Err(e) => {
                let message = format!("{e:#}");
                self.bar
                    .suspend(|| eprintln!("error: {}: {message}", path.display()));
                self.failed.push(path.display().to_string());
                error_line(path, &message)
            }
        };
        (self.on_line)(&line)?;
        self.bar.suspend(|| println!("{line}"));
        self.bar.inc(1);
        Ok(())
    }

    fn finish(self) -> ExitCode {
        self.bar.finish_and_clear();
        finish(&self.failed, self.total)
    }
}
