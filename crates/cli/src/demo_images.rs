//! The demo's photos: sample images that scikit-image ships in its wheel (a cat, a coffee
//! cup, a rocket, an astronaut), fetched once with pip and cached.
use anyhow::Context;
use deepinside::convnet::weights::{cache_dir, pip};
use std::path::PathBuf;

const WHEEL: &str = "scikit-image==0.26.0";
pub const PHOTOS: [&str; 4] = ["chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png"];

/// Paths of the cached demo photos, downloading scikit-image's wheel if any is missing.
pub fn demo_images() -> anyhow::Result<Vec<PathBuf>> {
    let dir = cache_dir().join("demo");
    let paths: Vec<PathBuf> = PHOTOS.iter().map(|p| dir.join(p)).collect();
    if paths.iter().all(|p| p.is_file()) {
        return Ok(paths);
    }
    eprintln!("fetching demo photos from PyPI ({WHEEL}) ...");
    let tmp = tempfile::tempdir()?;
    let wheel = pip::download_wheel(WHEEL, &["--only-binary=:all:"], tmp.path())
        .map_err(anyhow::Error::msg)
        .context("downloading the demo photos")?;
    for (name, path) in PHOTOS.iter().zip(&paths) {
        pip::extract_member(&wheel, &format!("skimage/data/{name}"), path, None)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("extracting {name}"))?;
    }
    Ok(paths)
}
