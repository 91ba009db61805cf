//! Typed errors: every reader error names the file and the line.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IlsvrcError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: {reason}")]
    Inconsistent { path: PathBuf, reason: String },
}

pub type Result<T> = std::result::Result<T, IlsvrcError>;
