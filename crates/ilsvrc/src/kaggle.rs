//! Kaggle's ImageNet Object Localization Challenge layout: `LOC_val_solution.csv`
//! (`ImageId,PredictionString`, the string holding `WNID x0 y0 x1 y1` groups, one per box)
//! and `LOC_synset_mapping.txt` (`WNID name, …` in sorted-WNID order, as
//! `synset_words.txt`), images under `ILSVRC/Data/CLS-LOC/val/` (or `val/`, `images/`, the
//! root) as `<ImageId>.JPEG`. Boxes are in the original image's pixels; the CSV gives no
//! size, so it is the decoded image's.
use crate::dataset::{locate_images, Dataset, Format, Sample};
use crate::error::{IlsvrcError, Result};
use crate::synsets::ClassNames;
use crate::text::{checked_box, parse_error, read_text, records};
use std::path::{Path, PathBuf};

const SOLUTION: &str = "LOC_val_solution.csv";
const MAPPING: &str = "LOC_synset_mapping.txt";
const FOLDERS: [&str; 4] = ["ILSVRC/Data/CLS-LOC/val", "val", "images", ""];

/// Where the solution file is, if anywhere.
pub fn find_solution(root: &Path) -> Option<PathBuf> {
    Some(root.join(SOLUTION)).filter(|p| p.is_file())
}

/// One row of the solution: image id, its class and its boxes.
#[derive(Clone, Debug, PartialEq)]
pub struct SolutionRow {
    pub image: String,
    pub wnid: String,
    pub boxes: Vec<crate::BoxF>,
}

/// Parses `LOC_val_solution.csv` (the header line is optional).
pub fn parse_solution(text: &str, path: &Path) -> Result<Vec<SolutionRow>> {
    let mut rows = Vec::new();
    for (line, f) in records(text, ',') {
        if line == 1 && f.first() == Some(&"ImageId") {
            continue;
        }
        let [image, prediction] = f.as_slice() else {
            return Err(parse_error(
                path,
                line,
                format!(
                    "expected `ImageId,PredictionString`, got {} fields",
                    f.len()
                ),
            ));
        };
        if image.is_empty() || image.contains(['/', '\\']) || image.starts_with('.') {
            return Err(parse_error(
                path,
                line,
                format!("`{image}` is not an image id"),
            ));
        }
        let tokens: Vec<&str> = prediction.split_whitespace().collect();
        if tokens.is_empty() || !tokens.len().is_multiple_of(5) {
            return Err(parse_error(
                path,
                line,
                format!(
                    "prediction string has {} tokens; expected groups of 5 (WNID x0 y0 x1 y1)",
                    tokens.len()
                ),
            ));
        }
        let mut boxes = Vec::new();
        for g in tokens.chunks(5) {
            if !crate::synsets::is_wnid(g[0]) {
                return Err(parse_error(
                    path,
                    line,
                    format!("`{}` is not a WordNet id", g[0]),
                ));
            }
            if g[0] != tokens[0] {
                return Err(parse_error(
                    path,
                    line,
                    format!(
                        "boxes of two classes ({} and {}): a validation image has one class",
                        tokens[0], g[0]
                    ),
                ));
            }
            let mut v = [0f64; 4];
            for (c, t) in v.iter_mut().zip(&g[1..]) {
                *c = t
                    .parse()
                    .map_err(|_| parse_error(path, line, format!("`{t}` is not a coordinate")))?;
            }
            boxes.push(checked_box(path, line, v)?);
        }
        rows.push(SolutionRow {
            image: image.to_string(),
            wnid: tokens[0].to_string(),
            boxes,
        });
    }
    Ok(rows)
}

/// Builds the image list (ids are file names): each row's WNID keyed into `classes`.
pub fn samples(rows: Vec<SolutionRow>, classes: &ClassNames, path: &Path) -> Result<Vec<Sample>> {
    rows.into_iter()
        .map(|r| {
            let class = classes
                .by_wnid(&r.wnid)
                .ok_or_else(|| IlsvrcError::Inconsistent {
                    path: path.to_path_buf(),
                    reason: format!("{}: class {} is not in {MAPPING}", r.image, r.wnid),
                })?;
            Ok(Sample {
                id: format!("{}.JPEG", r.image),
                label: class.index,
                wnid: r.wnid,
                size: None,
                boxes: r.boxes,
                problem: None,
            })
        })
        .collect()
}

/// Reads the Kaggle layout at `root`.
pub fn read(root: &Path) -> Result<Dataset> {
    let sol_path = root.join(SOLUTION);
    let map_path = root.join(MAPPING);
    let classes = ClassNames::parse_synset_words(&read_text(&map_path)?).map_err(|reason| {
        IlsvrcError::Inconsistent {
            path: map_path.clone(),
            reason,
        }
    })?;
    let rows = parse_solution(&read_text(&sol_path)?, &sol_path)?;
    let all = samples(rows, &classes, &sol_path)?;
    let (images, notes) = locate_images(root, &FOLDERS, all, &sol_path)?;
    Ok(Dataset {
        root: root.to_path_buf(),
        format: Format::Kaggle,
        classes,
        images,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BoxF;

    const CSV: &str = "ImageId,PredictionString\n\
        ILSVRC2012_val_00008726,n01443537 255 142 454 329 n01443537 44 21 322 295 \n\
        ILSVRC2012_val_00000001,n01440764 1 2 3 4\n";

    #[test]
    fn rows_become_samples_keyed_on_wnid() {
        let d = tempfile::tempdir().unwrap();
        let val = d.path().join("ILSVRC/Data/CLS-LOC/val");
        std::fs::create_dir_all(&val).unwrap();
        std::fs::write(d.path().join(SOLUTION), CSV).unwrap();
        std::fs::write(
            d.path().join(MAPPING),
            "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n",
        )
        .unwrap();
        for id in ["ILSVRC2012_val_00008726", "ILSVRC2012_val_00000001"] {
            std::fs::write(val.join(format!("{id}.JPEG")), "jpeg").unwrap();
        }
        assert_eq!(crate::dataset::detect(d.path()).unwrap(), Format::Kaggle);
        let ds = read(d.path()).unwrap();
        assert_eq!(ds.images.len(), 2);
        let s = &ds.images[0];
        assert_eq!(s.id, "ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_00008726.JPEG");
        assert_eq!((s.label, s.wnid.as_str(), s.size), (1, "n01443537", None));
        assert_eq!(
            s.boxes,
            vec![
                BoxF::new(255.0, 142.0, 454.0, 329.0),
                BoxF::new(44.0, 21.0, 322.0, 295.0)
            ]
        );
        assert_eq!(ds.images[1].label, 0);
    }

    #[test]
    fn malformed_rows_give_file_and_line() {
        let p = Path::new("LOC_val_solution.csv");
        let cases = [
            (
                "ImageId,PredictionString\na,n01440764 1 2 3\n",
                "2:",
                "groups of 5",
            ),
            ("a,n01440764 1 2 3 x\n", "1:", "`x` is not a coordinate"),
            ("a,tench 1 2 3 4\n", "1:", "not a WordNet id"),
            (
                "a,n01440764 1 2 3 4 n01443537 1 2 3 4\n",
                "1:",
                "two classes",
            ),
            ("a\n", "1:", "got 1 fields"),
            ("a,n01440764 5 2 3 4\n", "1:", "x1 < x0"),
            ("../x,n01440764 1 2 3 4\n", "1:", "not an image id"),
        ];
        for (text, line, what) in cases {
            let e = parse_solution(text, p).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("LOC_val_solution.csv:{line}")) && e.contains(what),
                "{text:?}: {e}"
            );
        }
    }
}
