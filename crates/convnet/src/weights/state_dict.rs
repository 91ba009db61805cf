//! A named set of tensors read from a `.pth` (PyTorch zip or legacy pickle) or
//! `.safetensors` file, with lookups that say which file and key is wrong.
use crate::error::{ConvnetError, Result};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Tensors by name, remembering the file they came from for error messages.
#[derive(Clone, Debug)]
pub struct StateDict {
    source: PathBuf,
    tensors: HashMap<String, Tensor>,
}

impl StateDict {
    /// Wraps tensors that did not come from a file (`source` names them in errors).
    pub fn from_tensors(source: impl Into<PathBuf>, tensors: HashMap<String, Tensor>) -> Self {
        StateDict {
            source: source.into(),
            tensors,
        }
    }

    /// Reads a PyTorch checkpoint or a safetensors file, chosen by content.
    pub fn load(path: &Path) -> Result<Self> {
        let err = |reason: String| ConvnetError::Weights {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))?;
        if bytes.is_empty() {
            return Err(err("file is empty".into()));
        }
        let tensors: HashMap<String, Tensor> = if super::legacy_pth::looks_legacy(&bytes) {
            super::legacy_pth::read(&bytes)
                .map_err(|e| err(format!("not a readable PyTorch checkpoint ({e})")))?
        } else if bytes.starts_with(b"PK") {
            candle_core::pickle::read_all(path)
                .map_err(|e| err(format!("not a readable PyTorch checkpoint ({e})")))?
                .into_iter()
                .collect()
        } else {
            candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).map_err(|e| {
                err(format!(
                    "neither a PyTorch checkpoint nor a safetensors file ({e})"
                ))
            })?
        };
        if tensors.is_empty() {
            return Err(err("holds no tensors".into()));
        }
        Ok(StateDict {
            source: path.to_path_buf(),
            tensors,
        })
    }

    /// Where the tensors came from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Tensor names, sorted.
    pub fn keys(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.tensors.keys().map(String::as_str).collect();
        k.sort();
        k
    }

    /// The raw tensor under `name`, if any.
    pub fn tensor(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }

    /// The float32 values of `name`, which must have exactly `shape`.
    pub fn values(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let t = self.tensors.get(name).ok_or_else(|| ConvnetError::Weights {
            path: self.source.clone(),
            reason: format!(
                "missing tensor `{name}` (is this the right model's weight file? it has {} tensors, e.g. {})",
                self.tensors.len(),
                self.keys().into_iter().take(3).collect::<Vec<_>>().join(", ")
            ),
        })?;
        if t.dims() != shape {
            return Err(ConvnetError::Weights {
                path: self.source.clone(),
                reason: format!(
                    "tensor `{name}` has shape {:?}, expected {shape:?}",
                    t.dims()
                ),
            });
        }
        let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
            return Err(ConvnetError::Weights {
                path: self.source.clone(),
                reason: format!("tensor `{name}` has a non-finite value at element {bad}"),
            });
        }
        Ok(values)
    }

    /// Writes all tensors as safetensors.
    pub fn save(&self, path: &Path) -> Result<()> {
        candle_core::safetensors::save(&self.tensors, path).map_err(|e| ConvnetError::Weights {
            path: path.to_path_buf(),
            reason: format!("cannot write: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pth");
        std::fs::write(&empty, b"").unwrap();
        let e = StateDict::load(&empty).unwrap_err().to_string();
        assert!(e.contains("empty.pth") && e.contains("empty"), "{e}");
        let junk = dir.path().join("junk.pth");
        std::fs::write(&junk, b"PK\x03\x04 this is not a zip").unwrap();
        let e = StateDict::load(&junk).unwrap_err().to_string();
        assert!(e.contains("junk.pth") && e.contains("PyTorch"), "{e}");

        let mut m = HashMap::new();
        m.insert(
            "a.weight".to_string(),
            Tensor::zeros((2, 3), DType::F32, &Device::Cpu).unwrap(),
        );
        let sd = StateDict::from_tensors(dir.path().join("w.safetensors"), m);
        sd.save(sd.source()).unwrap();
        let back = StateDict::load(sd.source()).unwrap();
        assert_eq!(back.values("a.weight", &[2, 3]).unwrap(), vec![0.0; 6]);
        let e = back.values("a.weight", &[3, 2]).unwrap_err().to_string();
        assert!(e.contains("w.safetensors") && e.contains("[2, 3]"), "{e}");
        let e = back.values("b.weight", &[1]).unwrap_err().to_string();
        assert!(e.contains("missing tensor `b.weight`"), "{e}");
    }
}
