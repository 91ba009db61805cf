//! PNG figures encoded on a thread of their own, so that the next image's maps are computed
//! while this image's figures are compressed and written.
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Figures waiting to be written: at most this many are held in memory at once.
const QUEUED: usize = 8;

/// A writer of PNG files in the background. [`PngQueue::finish`] waits for every file and
/// says which could not be written.
pub struct PngQueue {
    tx: mpsc::SyncSender<(image::RgbImage, PathBuf)>,
    worker: JoinHandle<Vec<String>>,
}

impl PngQueue {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::sync_channel::<(image::RgbImage, PathBuf)>(QUEUED);
        let worker = std::thread::spawn(move || {
            rx.into_iter()
                .filter_map(|(img, path)| {
                    deepinside::attribution::render::save_png(&img, &path)
                        .err()
                        .map(|e| e.to_string())
                })
                .collect()
        });
        PngQueue { tx, worker }
    }

    /// Queues `img` to be written to `path`.
    pub fn save(&self, img: image::RgbImage, path: PathBuf) {
        // The worker only stops when the queue is dropped, so a send cannot fail.
        let _ = self.tx.send((img, path));
    }

    /// Waits until every queued figure is written; the errors of those that were not.
    pub fn finish(self) -> Vec<String> {
        drop(self.tx);
        self.worker
            .join()
            .unwrap_or_else(|_| vec!["the figure writer stopped unexpectedly".into()])
    }
}
