//! The wsolevaluation metadata layout (Choe et al. 2020), as in `shared/data/ilsvrc-dev`:
//! `metadata/image_ids.txt` (one relative image path per line), `class_labels.txt`
//! (`path,label`, 0-based sorted-WNID index), `image_sizes.txt` (`path,width,height`) and
//! `localization.txt` (`path,x0,y0,x1,y1`, one line per box, several boxes per image
//! possible), with the images under the dataset root.
use crate::boxes::BoxF;
use crate::error::{IlsvrcError, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One annotated image.
#[derive(Clone, Debug, PartialEq)]
pub struct WsolImage {
    /// Path relative to the dataset root, as written in the metadata.
    pub id: String,
    pub label: usize,
    /// Width and height the boxes refer to.
    pub size: (u32, u32),
    pub boxes: Vec<BoxF>,
}

/// A dataset in the wsolevaluation layout.
#[derive(Clone, Debug)]
pub struct WsolDataset {
    pub root: PathBuf,
    pub images: Vec<WsolImage>,
}

impl WsolDataset {
    /// The file of an image.
    pub fn path(&self, image: &WsolImage) -> PathBuf {
        self.root.join(&image.id)
    }
}

fn read_lines(path: &Path) -> Result<Vec<(usize, Vec<String>)>> {
    let text = std::fs::read_to_string(path).map_err(|source| IlsvrcError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.split(',').map(|f| f.trim().to_string()).collect()))
        .collect())
}

fn field<T: std::str::FromStr>(
    path: &Path,
    line: usize,
    fields: &[String],
    i: usize,
    what: &str,
) -> Result<T> {
    fields
        .get(i)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| IlsvrcError::Parse {
            path: path.to_path_buf(),
            line,
            reason: format!("expected {what} in field {}", i + 1),
        })
}

/// Reads the metadata of a dataset rooted at `root` (`root/metadata/*.txt`).
pub fn read(root: &Path) -> Result<WsolDataset> {
    let meta = root.join("metadata");
    let ids_path = meta.join("image_ids.txt");
    let ids: Vec<String> = read_lines(&ids_path)?
        .into_iter()
        .map(|(_, f)| f.join(","))
        .collect();
    let labels_path = meta.join("class_labels.txt");
    let mut labels = HashMap::new();
    for (line, f) in read_lines(&labels_path)? {
        labels.insert(
            f[0].clone(),
            field::<usize>(&labels_path, line, &f, 1, "a class index")?,
        );
    }
    let sizes_path = meta.join("image_sizes.txt");
    let mut sizes = HashMap::new();
    for (line, f) in read_lines(&sizes_path)? {
        let w = field::<u32>(&sizes_path, line, &f, 1, "a width")?;
        let h = field::<u32>(&sizes_path, line, &f, 2, "a height")?;
        sizes.insert(f[0].clone(), (w, h));
    }
    let loc_path = meta.join("localization.txt");
    let mut boxes: HashMap<String, Vec<BoxF>> = HashMap::new();
    for (line, f) in read_lines(&loc_path)? {
        let v: Vec<f64> = (1..5)
            .map(|i| field::<f64>(&loc_path, line, &f, i, "a coordinate"))
            .collect::<Result<_>>()?;
        if v[2] < v[0] || v[3] < v[1] {
            return Err(IlsvrcError::Parse {
                path: loc_path.clone(),
                line,
                reason: format!("box {v:?} has x1 < x0 or y1 < y0"),
            });
        }
        boxes
            .entry(f[0].clone())
            .or_default()
            .push(BoxF::new(v[0], v[1], v[2], v[3]));
    }
    let mut images = Vec::with_capacity(ids.len());
    for id in ids {
        let missing = |what: &str, file: &Path| IlsvrcError::Inconsistent {
            path: file.to_path_buf(),
            reason: format!("no {what} for {id}"),
        };
        let label = *labels
            .get(&id)
            .ok_or_else(|| missing("class label", &labels_path))?;
        let size = *sizes.get(&id).ok_or_else(|| missing("size", &sizes_path))?;
        let b = boxes.remove(&id).unwrap_or_default();
        images.push(WsolImage {
            id,
            label,
            size,
            boxes: b,
        });
    }
    Ok(WsolDataset {
        root: root.to_path_buf(),
        images,
    })
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
        assert_eq!((ds.images[1].label, ds.images[1].size), (999, (100, 50)));
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
