//! Class names for a model that is not an ImageNet classifier: a text file with one name a
//! line, or a Hugging Face `config.json` whose `id2label` maps indices to names.
use crate::classes::ClassNames;
use crate::error::{ConvnetError, Result};
use std::path::Path;

/// Reads the names of `outputs` classes from `path`.
pub fn load_labels(path: &Path, outputs: usize) -> Result<ClassNames> {
    let bad = |reason: String| ConvnetError::Labels {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let names: Vec<String> = if path.extension().is_some_and(|e| e == "json") {
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let map = v
            .get("id2label")
            .and_then(|m| m.as_object())
            .ok_or_else(|| bad("no id2label object".into()))?;
        let mut names = vec![None; outputs];
        for (k, name) in map {
            let i: usize = k
                .parse()
                .map_err(|_| bad(format!("id2label key `{k}` is not an index")))?;
            let slot = names.get_mut(i).ok_or_else(|| {
                bad(format!(
                    "id2label index {i} is beyond the model's {outputs} outputs"
                ))
            })?;
            *slot = Some(name.as_str().unwrap_or_default().to_string());
        }
        names
            .into_iter()
            .enumerate()
            .map(|(i, n)| n.ok_or_else(|| bad(format!("id2label has no name for class {i}"))))
            .collect::<Result<_>>()?
    } else {
        text.lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    };
    if names.len() != outputs {
        return Err(bad(format!(
            "{} names for a model with {outputs} outputs",
            names.len()
        )));
    }
    Ok(ClassNames::custom(names))
}
