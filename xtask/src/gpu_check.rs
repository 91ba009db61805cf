//! `cargo xtask gpu-check [--peer-path DIR]`: the one script to run on a machine with an
//! NVIDIA GPU. It makes sure a CUDA compiler exists (PyPI's `nvidia-cuda-nvcc` and friends
//! into `target/cuda-toolkit` when `nvcc` is missing), picks the CUDA version cudarc knows
//! closest below the toolkit's, then runs, in order and all in one go:
//! 1. `cargo test --release --features cuda --test cuda_parity` (logits 1e-4, gradients of
//!    all three rules 1e-3 against the CPU, 10-crop and a class model),
//! 2. `cargo bench --features cuda --bench effnet -- efficientnet-lite0-cuda` (saliency at
//!    batch 1, 16 and 64 on the GPU),
//! 3. `docs/scripts/torch_gpu_saliency.py` (PyTorch on the same GPU, same inputs), with
//!    `--peer-path` prepended to PYTHONPATH for the EfficientNet packages.
//!
//! and prints every result; the first failure stops it.
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::Command;

/// CUDA versions cudarc 0.19 builds for, newest first (its build.rs list).
const CUDARC_VERSIONS: [(u32, u32); 13] = [
    (13, 4),
    (13, 3),
    (13, 2),
    (13, 1),
    (13, 0),
    (12, 9),
    (12, 8),
    (12, 6),
    (12, 5),
    (12, 4),
    (12, 3),
    (12, 2),
    (12, 1),
];

const PIP_TOOLKIT: [&str; 6] = [
    "nvidia-cuda-nvcc",
    "nvidia-cuda-runtime",
    "nvidia-cuda-nvrtc",
    "nvidia-cuda-cccl",
    "nvidia-cublas",
    "nvidia-curand",
];

/// Environment variables for the child processes, each built on the current value.
#[derive(Default)]
struct Env(std::collections::BTreeMap<String, String>);

impl Env {
    fn set(&mut self, var: &str, value: &str) {
        self.0.insert(var.into(), value.into());
    }

    /// `dir:` before the variable's value so far (this run's, else the process's).
    fn prepend(&mut self, var: &str, dir: &Path) {
        let old = self
            .0
            .get(var)
            .cloned()
            .unwrap_or_else(|| std::env::var(var).unwrap_or_default());
        self.set(var, &format!("{}:{old}", dir.display()));
    }
}

/// `release X.Y` from `nvcc --version`.
fn nvcc_version(nvcc: &Path) -> Option<(u32, u32)> {
    let out = Command::new(nvcc).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let release = text.split("release ").nth(1)?;
    let (major, rest) = release.split_once('.')?;
    let minor: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// cudarc's newest supported version not newer than `v`, as `CUDARC_CUDA_VERSION` wants it.
fn cudarc_version(v: (u32, u32)) -> Option<String> {
    CUDARC_VERSIONS
        .iter()
        .find(|&&s| s <= v)
        .map(|(major, minor)| format!("{major}0{minor}0"))
}

/// Folders that may hold the CUDA libraries: toolkit, driver, and pip's `nvidia/*/lib`.
fn library_dirs(root: &Path) -> Vec<PathBuf> {
    // The toolkit that gpu-check installed (matching its nvcc) first, the system last.
    let mut dirs = Vec::new();
    let mut nvidia_roots = vec![root.join("target/cuda-toolkit/nvidia")];
    if let Ok(out) = Command::new("python3")
        .args([
            "-c",
            "import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))",
        ])
        .output()
    {
        let site = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !site.is_empty() {
            nvidia_roots.push(Path::new(&site).join("nvidia"));
        }
    }
    for r in nvidia_roots {
        for pkg in std::fs::read_dir(&r).into_iter().flatten().flatten() {
            dirs.push(pkg.path().join("lib"));
        }
    }
    for var in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(h) = std::env::var_os(var) {
            dirs.push(Path::new(&h).join("lib64"));
            dirs.push(Path::new(&h).join("lib"));
        }
    }
    for d in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/local/cuda/lib64",
        "/usr/lib64",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// Symlinks `libX.so` → the first `libX.so[.N]` found, in `farm`; returns what was found.
fn link_farm(farm: &Path, root: &Path) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(farm)?;
    let dirs = library_dirs(root);
    let mut found = Vec::new();
    for lib in ["cuda", "cublas", "cublasLt", "curand", "nvrtc"] {
        let prefix = format!("lib{lib}.so");
        let hit = dirs.iter().find_map(|d| {
            std::fs::read_dir(d)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n == prefix
                            || (n.starts_with(&format!("{prefix}.")) && !n.ends_with(".alt"))
                    })
                })
        });
        if let Some(target) = hit {
            let link = farm.join(&prefix);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&target, &link)?;
            found.push(target.display().to_string());
        }
    }
    Ok(found)
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut peer_path: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--peer-path" => peer_path = Some(it.next().context("--peer-path DIR")?.into()),
            other => bail!("unknown gpu-check option `{other}`"),
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf();
    let mut env = Env::default();
    let mut nvcc = PathBuf::from("nvcc");
    if nvcc_version(&nvcc).is_none() {
        let prefix = root.join("target/cuda-toolkit");
        let home = prefix.join("nvidia/cu13");
        if !home.join("bin/nvcc").is_file() {
            eprintln!(
                "no nvcc on PATH: installing {PIP_TOOLKIT:?} from PyPI into {}",
                prefix.display()
            );
            let status = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "--target"])
                .arg(&prefix)
                .args(PIP_TOOLKIT)
                .status()
                .context("running pip")?;
            if !status.success() {
                bail!("pip could not install a CUDA compiler ({status})");
            }
        }
        nvcc = home.join("bin/nvcc");
        env.prepend("PATH", &home.join("bin"));
        env.set("CUDA_HOME", &home.display().to_string());
        env.set("CUDA_PATH", &home.display().to_string());
    }
    // cudarc links libcuda, libcublas(Lt), libcurand and libnvrtc by their unversioned names;
    // pip wheels and some driver installs ship only `libX.so.N`: link against symlinks.
    let farm = root.join("target/cuda-link");
    let found = link_farm(&farm, &root)?;
    eprintln!(
        "CUDA libraries for linking: {found:?} (symlinks in {})",
        farm.display()
    );
    // Link time: the unversioned symlinks; run time: the folders of the real libraries.
    env.prepend("LIBRARY_PATH", &farm);
    for lib in &found {
        if let Some(dir) = Path::new(lib).parent() {
            env.prepend("LD_LIBRARY_PATH", dir);
        }
    }
    let version = nvcc_version(&nvcc).context("nvcc --version gave no release number")?;
    eprintln!("nvcc {}.{} at {}", version.0, version.1, nvcc.display());
    if std::env::var_os("CUDARC_CUDA_VERSION").is_none() {
        let v = cudarc_version(version).with_context(|| {
            format!(
                "CUDA {}.{} is older than cudarc supports",
                version.0, version.1
            )
        })?;
        env.set("CUDARC_CUDA_VERSION", &v);
    }
    let cargo = |args: &[&str]| -> anyhow::Result<()> {
        eprintln!("$ cargo {}", args.join(" "));
        let status = Command::new("cargo")
            .current_dir(&root)
            .args(args)
            .envs(&env.0)
            .status()?;
        if !status.success() {
            bail!("cargo {} failed ({status})", args.join(" "));
        }
        Ok(())
    };
    cargo(&[
        "test",
        "--release",
        "--features",
        "cuda",
        "--test",
        "cuda_parity",
        "--",
        "--nocapture",
        "--test-threads",
        "1",
    ])?;
    cargo(&[
        "bench",
        "--features",
        "cuda",
        "--bench",
        "effnet",
        "--",
        "efficientnet-lite0-cuda",
    ])?;
    let mut py = Command::new("python3");
    py.current_dir(&root)
        .arg("docs/scripts/torch_gpu_saliency.py");
    if let Some(p) = &peer_path {
        let old = std::env::var("PYTHONPATH").unwrap_or_default();
        py.env("PYTHONPATH", format!("{}:{old}", p.display()));
    }
    eprintln!("$ python3 docs/scripts/torch_gpu_saliency.py");
    let status = py.status().context("running python3")?;
    if !status.success() {
        bail!("the PyTorch GPU timing failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toolkit_versions_map_to_the_newest_cudarc_knows() {
        assert_eq!(cudarc_version((13, 5)).as_deref(), Some("13040"));
        assert_eq!(cudarc_version((13, 0)).as_deref(), Some("13000"));
        assert_eq!(cudarc_version((12, 7)).as_deref(), Some("12060"));
        assert_eq!(cudarc_version((11, 8)), None);
    }

    #[test]
    fn versioned_pip_libraries_get_unversioned_link_names() {
        let root = std::env::temp_dir().join(format!("gpu-check-{}", std::process::id()));
        let lib = root.join("target/cuda-toolkit/nvidia/cu13/lib");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(lib.join("libnvrtc.so.13"), "").unwrap();
        let farm = root.join("target/cuda-link");
        let found = link_farm(&farm, &root).unwrap();
        assert!(found.contains(&lib.join("libnvrtc.so.13").display().to_string()));
        assert_eq!(
            std::fs::read_link(farm.join("libnvrtc.so")).unwrap(),
            lib.join("libnvrtc.so.13")
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
