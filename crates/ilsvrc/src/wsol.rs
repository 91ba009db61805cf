//! The wsolevaluation metadata layout (Choe et al. 2020), as in `shared/data/ilsvrc-dev`:
//! `metadata/image_ids.txt` (one relative image path per line), `class_labels.txt`
//! (`path,label`, 0-based sorted-WNID index), `image_sizes.txt` (`path,width,height`) and
//! `localization.txt` (`path,x0,y0,x1,y1`, one line per box, several boxes per image
//! possible), with the images under the dataset root.
use crate::boxes::BoxF;
use crate::dataset::{classes_at, Dataset, Format, Sample};
use crate::error::{IlsvrcError, Result};
use crate::synsets::ClassNames;
use crate::text::{checked_box, field, parse_error, read_text, records};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The four metadata files' texts.
pub struct WsolTexts<'a> {
    pub image_ids: &'a str,
    pub class_labels: &'a str,
    pub image_sizes: &'a str,
    pub localization: &'a str,
}

const FILES: [&str; 4] = [
    "image_ids.txt",
    "class_labels.txt",
    "image_sizes.txt",
    "localization.txt",
];

/// Reads the metadata of a dataset rooted at `root` (`root/metadata/*.txt`); classes from
/// `root/synset_words.txt` when present.
pub fn read(root: &Path) -> Result<Dataset> {
    let meta = root.join("metadata");
    let texts: Vec<String> = FILES
        .iter()
        .map(|f| read_text(&meta.join(f)))
        .collect::<Result<_>>()?;
    let texts = WsolTexts {
        image_ids: &texts[0],
        class_labels: &texts[1],
        image_sizes: &texts[2],
        localization: &texts[3],
    };
    parse(root, &texts, classes_at(root)?)
}

/// Builds the dataset from the metadata texts (file names in errors are under
/// `root/metadata/`).
pub fn parse(root: &Path, texts: &WsolTexts, classes: ClassNames) -> Result<Dataset> {
    Ok(Dataset {
        root: root.to_path_buf(),
        format: Format::Wsol,
        images: samples(root, texts, &classes)?,
        classes,
        notes: Vec::new(),
    })
}

/// The annotated images of the metadata texts, labels checked against `classes`.
pub fn samples(root: &Path, texts: &WsolTexts, classes: &ClassNames) -> Result<Vec<Sample>> {
    let meta = root.join("metadata");
    let [ids_path, labels_path, sizes_path, loc_path]: [PathBuf; 4] = FILES.map(|f| meta.join(f));
    let ids: Vec<(usize, String)> = records(texts.image_ids, '\n')
        .map(|(line, f)| (line, f[0].to_string()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    if let Some((line, id)) = ids.iter().find(|(_, id)| !seen.insert(id.as_str())) {
        return Err(parse_error(
            &ids_path,
            *line,
            format!("{id} is listed twice"),
        ));
    }
    let mut labels = HashMap::new();
    for (line, f) in records(texts.class_labels, ',') {
        let label: usize = field(&labels_path, line, &f, 1, "a class index")?;
        if label >= classes.len() {
            return Err(parse_error(
                &labels_path,
                line,
                format!("class {label} is out of range 0..{}", classes.len()),
            ));
        }
        labels.insert(f[0], label);
    }
    let mut sizes = HashMap::new();
    for (line, f) in records(texts.image_sizes, ',') {
        let w: u32 = field(&sizes_path, line, &f, 1, "a width")?;
        let h: u32 = field(&sizes_path, line, &f, 2, "a height")?;
        sizes.insert(f[0], (w, h));
    }
    let mut boxes: HashMap<&str, Vec<BoxF>> = HashMap::new();
    for (line, f) in records(texts.localization, ',') {
        let mut v = [0f64; 4];
        for (i, c) in v.iter_mut().enumerate() {
            *c = field(&loc_path, line, &f, i + 1, "a coordinate")?;
        }
        boxes
            .entry(f[0])
            .or_default()
            .push(checked_box(&loc_path, line, v)?);
    }
    let mut images = Vec::with_capacity(ids.len());
    for (line, id) in ids {
        let missing = |what: &str, file: &Path| IlsvrcError::Inconsistent {
            path: file.to_path_buf(),
            reason: format!("no {what} for {id} (image_ids.txt line {line})"),
        };
        let label = *labels
            .get(id.as_str())
            .ok_or_else(|| missing("class label", &labels_path))?;
        let size = *sizes
            .get(id.as_str())
            .ok_or_else(|| missing("size", &sizes_path))?;
        let b = boxes.remove(id.as_str()).unwrap_or_default();
        images.push(Sample {
            wnid: classes
                .get(label)
                .map(|c| c.wnid.clone())
                .unwrap_or_default(),
            id,
            label,
            size: Some(size),
            boxes: b,
            problem: None,
        });
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir.join("metadata")).unwrap();
        std::fs::write(dir.join("metadata").join(name), text).unwrap();
    }

    #[test]
    fn reads_labels_sizes_and_several_boxes() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "image_ids.txt", "a.jpg\nb.jpg\n");
        write(d.path(), "class_labels.txt", "a.jpg,3\nb.jpg,999\n");
        write(d.path(), "image_sizes.txt", "a.jpg,227,227\nb.jpg,100,50\n");
        write(
            d.path(),
            "localization.txt",
            "a.jpg,1.0,2.0,30.5,40.0\na.jpg,5,5,6,6\nb.jpg,0,0,99,49\n",
        );
        let ds = read(d.path()).unwrap();
        assert_eq!(ds.images.len(), 2);
        assert_eq!(
            ds.images[0].boxes,
            vec![
                BoxF::new(1.0, 2.0, 30.5, 40.0),
                BoxF::new(5.0, 5.0, 6.0, 6.0)
            ]
        );
        assert_eq!(
            (ds.images[1].label, ds.images[1].size),
            (999, Some((100, 50)))
        );
        assert_eq!(ds.path(&ds.images[0]), d.path().join("a.jpg"));
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "image_ids.txt", "a.jpg\n");
        write(d.path(), "class_labels.txt", "a.jpg,3\n");
        write(d.path(), "image_sizes.txt", "a.jpg,227,227\n");
        write(
            d.path(),
            "localization.txt",
            "a.jpg,1,2,3,4\na.jpg,1,2,x,4\n",
        );
        let e = read(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("localization.txt:2") && e.contains("field 4"),
            "{e}"
        );
        write(d.path(), "localization.txt", "a.jpg,10,2,3,4\n");
        assert!(read(d.path()).unwrap_err().to_string().contains("x1 < x0"));
        write(d.path(), "localization.txt", "");
        write(d.path(), "class_labels.txt", "b.jpg,3\n");
        let e = read(d.path()).unwrap_err().to_string();
        assert!(e.contains("no class label for a.jpg"), "{e}");
    }
}
