//! Shared helpers of the line-based readers: read a file with its path in the error,
//! split records with 1-based line numbers, parse a field or a box with file and line in
//! the error.
use crate::boxes::BoxF;
use crate::error::{IlsvrcError, Result};
use std::path::Path;

/// The whole file as text; an I/O error names the file.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| IlsvrcError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| IlsvrcError::Parse {
        path: path.to_path_buf(),
        line: 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        reason: "not UTF-8 text".into(),
    })
}

/// A parse error at `path:line`.
pub fn parse_error(path: &Path, line: usize, reason: impl Into<String>) -> IlsvrcError {
    IlsvrcError::Parse {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

/// Non-blank lines as `(line number, fields split at sep and trimmed)`.
pub fn records(text: &str, sep: char) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(move |(i, l)| (i + 1, l.split(sep).map(str::trim).collect()))
}

/// Field `i` of a record parsed as `T`; the error says which field and what was expected.
pub fn field<T: std::str::FromStr>(
    path: &Path,
    line: usize,
    fields: &[&str],
    i: usize,
    what: &str,
) -> Result<T> {
    fields
        .get(i)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| parse_error(path, line, format!("expected {what} in field {}", i + 1)))
}

/// A box from `[x0, y0, x1, y1]`: finite, not inverted.
pub fn checked_box(path: &Path, line: usize, v: [f64; 4]) -> Result<BoxF> {
    if v.iter().any(|c| !c.is_finite()) {
        return Err(parse_error(path, line, format!("box {v:?} is not finite")));
    }
    if v[2] < v[0] || v[3] < v[1] {
        return Err(parse_error(
            path,
            line,
            format!("box {v:?} has x1 < x0 or y1 < y0"),
        ));
    }
    Ok(BoxF::new(v[0], v[1], v[2], v[3]))
}
