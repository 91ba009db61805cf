//! Float32 arrays in NumPy's `.npy` format, so maps open with `numpy.load`: a thin layer
//! over `ndarray-npy` that names the file in its errors.
use crate::error::{AttributionError, Result};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use std::path::Path;

fn error(path: &Path, reason: impl std::fmt::Display) -> AttributionError {
    AttributionError::Write {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Writes `data` (row-major) with `shape` as a float32 `.npy` file.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let view = ArrayViewD::from_shape(IxDyn(shape), data).map_err(|e| {
        error(
            path,
            format!("shape {shape:?} does not fit {} values: {e}", data.len()),
        )
    })?;
    ndarray_npy::write_npy(path, &view).map_err(|e| error(path, e))
}

/// Writes a 2-D map (any memory layout) as a float32 `.npy` file.
pub fn write_map(path: &Path, map: &ndarray::Array2<f32>) -> Result<()> {
    ndarray_npy::write_npy(path, map).map_err(|e| error(path, e))
}

/// Reads a float32 `.npy` file (C or Fortran order): shape and row-major data.
pub fn read_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let a: ArrayD<f32> = ndarray_npy::read_npy(path).map_err(|e| error(path, e))?;
    let shape = a.shape().to_vec();
    Ok((shape, a.as_standard_layout().iter().copied().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_numpy_header_layout() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        write_f32(&p, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, -6.5]).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[..6], b"\x93NUMPY");
        let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        assert_eq!(
            read_f32(&p).unwrap(),
            (vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5])
        );
    }

    #[test]
    fn a_shape_that_does_not_fit_and_a_file_that_is_not_npy_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.npy");
        let e = write_f32(&p, &[2, 2], &[1.0]).unwrap_err().to_string();
        assert!(e.contains("b.npy") && e.contains("[2, 2]"), "{e}");
        std::fs::write(&p, b"not numpy").unwrap();
        assert!(read_f32(&p).unwrap_err().to_string().contains("b.npy"));
    }
}
