//! The official ILSVRC-2012 devkit layout.
//!
//! - `ILSVRC2012_validation_ground_truth.txt` (at the root, in `data/` or in
//!   `ILSVRC2012_devkit_t12/data/`): line n holds the ILSVRC2012_ID of the class of
//!   `ILSVRC2012_val_000000nn.JPEG`. ILSVRC2012_IDs (1..=1000) are **not** the sorted-WNID
//!   indices classifiers use; they are mapped through
//! - `meta_wnids.txt` beside it (or at the root): the WNIDs of `meta.mat`'s
//!   `synsets(1:1000)` in ILSVRC2012_ID order, one per line (`WNID` or `ID WNID`), e.g. from
//!   `scipy.io.loadmat('meta.mat')['synsets']` as the README shows.
//! - Images under `val/`, `ILSVRC2012_img_val/`, `images/` or the root.
//! - Optional boxes: PASCAL VOC XML per image (`ILSVRC2012_val_000000nn.xml`) under
//!   `bbox/val/`, `val/`, `Annotations/` or `bbox/`, as in `ILSVRC2012_bbox_val_v3.tgz`.
use crate::dataset::{classes_at, locate_images, Dataset, Format, Sample};
use crate::error::Result;
use crate::synsets::ClassNames;
use crate::text::{field, parse_error, read_text, records};
use std::path::{Path, PathBuf};

const GROUND_TRUTH: &str = "ILSVRC2012_validation_ground_truth.txt";
const WNIDS: &str = "meta_wnids.txt";
const IMAGE_FOLDERS: [&str; 4] = ["val", "ILSVRC2012_img_val", "images", ""];

/// Where the devkit's ground-truth file is, if anywhere.
pub fn find_ground_truth(root: &Path) -> Option<PathBuf> {
    ["", "data", "ILSVRC2012_devkit_t12/data"]
        .iter()
        .map(|d| root.join(d).join(GROUND_TRUTH))
        .find(|p| p.is_file())
}

/// The WNID of each ILSVRC2012_ID (index 0 = ID 1).
pub fn parse_wnids(text: &str, path: &Path) -> Result<Vec<String>> {
    let mut wnids = Vec::new();
    for (line, f) in records(text, ' ') {
        let f: Vec<&str> = f.into_iter().filter(|s| !s.is_empty()).collect();
        let wnid = match f.as_slice() {
            [w] => *w,
            [_, w] => {
                let id: usize = field(path, line, &f, 0, "an ILSVRC2012_ID")?;
                if id != wnids.len() + 1 {
                    return Err(parse_error(
                        path,
                        line,
                        format!(
                            "ILSVRC2012_ID {id} out of order: expected {}",
                            wnids.len() + 1
                        ),
                    ));
                }
                w
            }
            _ => return Err(parse_error(path, line, "expected `WNID` or `ID WNID`")),
        };
        if !crate::synsets::is_wnid(wnid) {
            return Err(parse_error(
                path,
                line,
                format!("`{wnid}` is not a WordNet id"),
            ));
        }
        wnids.push(wnid.to_string());
    }
    Ok(wnids)
}

/// The ILSVRC2012_ID of each validation image, in image order.
pub fn parse_ground_truth(text: &str, path: &Path, classes: usize) -> Result<Vec<usize>> {
    records(text, ' ')
        .map(|(line, f)| {
            let id: usize = field(path, line, &f, 0, "an ILSVRC2012_ID")?;
            if id == 0 || id > classes {
                return Err(parse_error(
                    path,
                    line,
                    format!("ILSVRC2012_ID {id} is outside 1..={classes}"),
                ));
            }
            Ok(id)
        })
        .collect()
}

/// Builds the image list (ids are file names) from the ground truth and ID → WNID texts.
pub fn samples(
    ground_truth: (&str, &Path),
    wnids: (&str, &Path),
    classes: &ClassNames,
) -> Result<Vec<Sample>> {
    let ids = parse_wnids(wnids.0, wnids.1)?;
    let truth = parse_ground_truth(ground_truth.0, ground_truth.1, ids.len())?;
    truth
        .iter()
        .enumerate()
        .map(|(n, &id)| {
            let wnid = &ids[id - 1];
            let class = classes.by_wnid(wnid).ok_or_else(|| {
                parse_error(
                    wnids.1,
                    id,
                    format!(
                        "{wnid} is not in the class list of {} classes",
                        classes.len()
                    ),
                )
            })?;
            Ok(Sample {
                id: format!("ILSVRC2012_val_{:08}.JPEG", n + 1),
                label: class.index,
                wnid: wnid.clone(),
                size: None,
                boxes: Vec::new(),
                problem: None,
            })
        })
        .collect()
}

/// The box file of an image: its file stem with `.xml`.
fn xml_name(sample: &Sample) -> String {
    let stem = Path::new(&sample.id).file_stem().unwrap_or_default();
    format!("{}.xml", stem.to_string_lossy())
}

/// Boxes and size from the image's XML, if there is one; a bad file becomes the image's
/// `problem`.
fn attach_xml(sample: &mut Sample, xml_dir: &Path) {
    let path = xml_dir.join(xml_name(sample));
    if !path.is_file() {
        sample.problem = Some(format!("no box annotation {}", path.display()));
        return;
    }
    match crate::voc::read(&path) {
        Ok(a) => {
            sample.size = a.size;
            sample.boxes = a.boxes_of(&sample.wnid);
            if sample.boxes.is_empty() {
                sample.problem = Some(format!(
                    "{}: no box of the true class {}",
                    path.display(),
                    sample.wnid
                ));
            }
        }
        Err(e) => sample.problem = Some(e.to_string()),
    }
}

/// Reads the devkit layout at `root`.
pub fn read(root: &Path) -> Result<Dataset> {
    let gt_path =
        find_ground_truth(root).ok_or_else(|| crate::error::IlsvrcError::Inconsistent {
            path: root.to_path_buf(),
            reason: format!(
                "no {GROUND_TRUTH} at the root, in data/ or in ILSVRC2012_devkit_t12/data/"
            ),
        })?;
    let wnid_path = [gt_path.parent().unwrap_or(root), root]
        .iter()
        .map(|d| d.join(WNIDS))
        .find(|p| p.is_file())
        .ok_or_else(|| crate::error::IlsvrcError::Inconsistent {
            path: root.to_path_buf(),
            reason: format!(
                "no {WNIDS} beside {GROUND_TRUTH} or at the root (the WNIDs of meta.mat's \
                 synsets 1..1000; the README shows how to write it)"
            ),
        })?;
    let classes = classes_at(root)?;
    let all = samples(
        (&read_text(&gt_path)?, &gt_path),
        (&read_text(&wnid_path)?, &wnid_path),
        &classes,
    )?;
    let (mut images, notes) = locate_images(root, &IMAGE_FOLDERS, all, &gt_path)?;
    let xml_dir = ["bbox/val", "val", "Annotations", "bbox"]
        .iter()
        .map(|d| root.join(d))
        .find(|d| {
            images
                .first()
                .is_some_and(|s| d.join(xml_name(s)).is_file())
        });
    if let Some(dir) = &xml_dir {
        for s in &mut images {
            attach_xml(s, dir);
        }
    }
    Ok(Dataset {
        root: root.to_path_buf(),
        format: Format::Devkit,
        classes,
        images,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A devkit tree: 3 validation images, IDs mapped through a 3-class WNID list whose
    /// order is not the sorted order (as in meta.mat).
    fn tree(root: &Path) {
        let data = root.join("ILSVRC2012_devkit_t12/data");
        write(&data.join(GROUND_TRUTH), "2\n1\n3\n");
        write(&data.join(WNIDS), "1 n01530575\n2 n01440764\n3 n01443537\n");
        for n in 1..=3 {
            write(
                &root.join(format!("val/ILSVRC2012_val_{n:08}.JPEG")),
                "jpeg",
            );
        }
        let xml = |w: &str, b: &str| {
            format!(
                "<annotation><size><width>500</width><height>400</height></size>\
                 <object><name>{w}</name><bndbox>{b}</bndbox></object></annotation>"
            )
        };
        write(
            &root.join("bbox/val/ILSVRC2012_val_00000001.xml"),
            &xml(
                "n01440764",
                "<xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax>",
            ),
        );
        write(
            &root.join("bbox/val/ILSVRC2012_val_00000002.xml"),
            &xml(
                "n01999999",
                "<xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax>",
            ),
        );
        write(
            &root.join("bbox/val/ILSVRC2012_val_00000003.xml"),
            "<annotation>",
        );
    }

    #[test]
    fn ilsvrc_ids_map_through_meta_wnids_to_sorted_indices() {
        let d = tempfile::tempdir().unwrap();
        tree(d.path());
        let ds = read(d.path()).unwrap();
        assert_eq!(ds.format, Format::Devkit);
        let labels: Vec<(usize, &str)> = ds
            .images
            .iter()
            .map(|s| (s.label, s.wnid.as_str()))
            .collect();
        // ID 2 → n01440764 = sorted index 0 (tench); ID 1 → n01530575 = 10 (brambling).
        assert_eq!(
            labels,
            vec![(0, "n01440764"), (10, "n01530575"), (1, "n01443537")]
        );
        assert_eq!(ds.images[0].id, "val/ILSVRC2012_val_00000001.JPEG");
        assert_eq!(ds.images[0].size, Some((500, 400)));
        assert_eq!(
            ds.images[0].boxes,
            vec![crate::BoxF::new(1.0, 2.0, 30.0, 40.0)]
        );
        assert!(ds.images[0].problem.is_none());
        // A box of another class is not a box of this image's class; a broken file is
        // recorded on its image, not fatal.
        assert!(ds.images[1]
            .problem
            .as_ref()
            .unwrap()
            .contains("no box of the true class"));
        assert!(ds.images[2]
            .problem
            .as_ref()
            .unwrap()
            .contains("not well-formed"));
    }

    #[test]
    fn a_subset_of_images_is_evaluated_and_noted() {
        let d = tempfile::tempdir().unwrap();
        tree(d.path());
        std::fs::remove_file(d.path().join("val/ILSVRC2012_val_00000001.JPEG")).unwrap();
        let ds = read(d.path()).unwrap();
        assert_eq!(ds.images.len(), 2);
        assert!(ds.notes[0].contains("1 of the 3 images"), "{:?}", ds.notes);
    }

    #[test]
    fn malformed_lines_give_file_and_line() {
        let p = Path::new("gt.txt");
        let e = parse_ground_truth("1\n2\nx\n", p, 3)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("gt.txt:3:"), "{e}");
        let e = parse_ground_truth("1\n\n1001\n", p, 1000)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("gt.txt:3:") && e.contains("outside 1..=1000"),
            "{e}"
        );
        let w = Path::new("meta_wnids.txt");
        let e = parse_wnids("1 n01440764\n3 n01443537\n", w)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("meta_wnids.txt:2:") && e.contains("out of order"),
            "{e}"
        );
        let e = parse_wnids("n01440764\ntench\n", w)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("meta_wnids.txt:2:") && e.contains("WordNet"),
            "{e}"
        );
        let d = tempfile::tempdir().unwrap();
        assert!(read(d.path())
            .unwrap_err()
            .to_string()
            .contains(GROUND_TRUTH));
    }
}
