//! One annotated-image type for every layout: the readers (`wsol`, `devkit`, `kaggle`) all
//! produce a [`Dataset`], so evaluation code never depends on where the annotations came
//! from. Classes are identified by WNID; `label` is that WNID's index in the dataset's own
//! sorted-WNID class list.
use crate::boxes::BoxF;
use crate::error::{IlsvrcError, Result};
use crate::synsets::ClassNames;
use std::path::{Path, PathBuf};

/// One annotated image.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Path relative to the dataset root.
    pub id: String,
    /// Index of the true class in [`Dataset::classes`].
    pub label: usize,
    /// WordNet id of the true class.
    pub wnid: String,
    /// Width and height the boxes refer to, when the annotation says (`None`: the image's own
    /// size, known once it is decoded).
    pub size: Option<(u32, u32)>,
    /// Ground-truth boxes of the true class (inclusive pixel corners).
    pub boxes: Vec<BoxF>,
    /// What is wrong with this image's annotation (e.g. an unreadable XML file): the image
    /// stays in the list so that evaluation records and counts it instead of stopping.
    pub problem: Option<String>,
}

impl Sample {
    /// The ground-truth boxes in an image of `size` (width, height), from the annotation's
    /// own size (`None`: `decoded`, the size of the image file as decoded).
    pub fn boxes_in(&self, decoded: (u32, u32), size: (u32, u32)) -> Vec<BoxF> {
        let from = self.size.unwrap_or(decoded);
        let (sx, sy) = (
            size.0 as f64 / from.0.max(1) as f64,
            size.1 as f64 / from.1.max(1) as f64,
        );
        self.boxes.iter().map(|b| b.scaled(sx, sy)).collect()
    }
}

/// Annotation layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// wsolevaluation's `metadata/*.txt` (as `shared/data/ilsvrc-dev`).
    Wsol,
    /// The official devkit: `ILSVRC2012_validation_ground_truth.txt` + WNID list, optional
    /// per-image PASCAL VOC XML boxes.
    Devkit,
    /// Kaggle's `LOC_val_solution.csv` + `LOC_synset_mapping.txt`.
    Kaggle,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "wsol" => Ok(Format::Wsol),
            "devkit" => Ok(Format::Devkit),
            "kaggle" => Ok(Format::Kaggle),
            _ => Err(format!(
                "unknown dataset format `{s}`; expected auto, wsol, devkit or kaggle"
            )),
        }
    }
}

/// A dataset: its root, its class list and its images in annotation order.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub root: PathBuf,
    pub format: Format,
    pub classes: ClassNames,
    pub images: Vec<Sample>,
    /// What the reader wants the user to know (e.g. images listed but not on disk).
    pub notes: Vec<String>,
}

impl Dataset {
    /// The file of an image.
    pub fn path(&self, image: &Sample) -> PathBuf {
        self.root.join(&image.id)
    }
}

/// The layout of the dataset at `root`, from the files it has.
pub fn detect(root: &Path) -> Result<Format> {
    if root.join("metadata/image_ids.txt").is_file() {
        return Ok(Format::Wsol);
    }
    if crate::kaggle::find_solution(root).is_some() {
        return Ok(Format::Kaggle);
    }
    if crate::devkit::find_ground_truth(root).is_some() {
        return Ok(Format::Devkit);
    }
    Err(IlsvrcError::Inconsistent {
        path: root.to_path_buf(),
        reason: "no known annotation layout: expected metadata/image_ids.txt (wsol), \
                 LOC_val_solution.csv (kaggle) or ILSVRC2012_validation_ground_truth.txt (devkit)"
            .into(),
    })
}

/// Reads the dataset at `root` in `format` (`None`: detected).
pub fn open(root: &Path, format: Option<Format>) -> Result<Dataset> {
    let format = match format {
        Some(f) => f,
        None => detect(root)?,
    };
    match format {
        Format::Wsol => crate::wsol::read(root),
        Format::Devkit => crate::devkit::read(root),
        Format::Kaggle => crate::kaggle::read(root),
    }
}

/// The class list of a dataset: its own `synset_words.txt` when it has one, else the 1000
/// ILSVRC-2012 classes.
pub fn classes_at(root: &Path) -> Result<ClassNames> {
    let path = root.join("synset_words.txt");
    if !path.is_file() {
        return Ok(ClassNames::imagenet());
    }
    let text = crate::text::read_text(&path)?;
    ClassNames::parse_synset_words(&text).map_err(|reason| IlsvrcError::Inconsistent {
        path: path.clone(),
        reason,
    })
}

/// Puts images listed by file name into the first of `folders` (relative to `root`, `""` for
/// the root itself) that holds any of them, then keeps those whose files exist (a user may
/// hold a subset of the 50 000 validation images) with a note on how many were left out;
/// an error if none is there.
pub(crate) fn locate_images(
    root: &Path,
    folders: &[&str],
    mut images: Vec<Sample>,
    listed_in: &Path,
) -> Result<(Vec<Sample>, Vec<String>)> {
    let folder = images
        .iter()
        .find_map(|s| folders.iter().find(|f| root.join(f).join(&s.id).is_file()));
    if let Some(f) = folder.filter(|f| !f.is_empty()) {
        for s in &mut images {
            s.id = format!("{f}/{}", s.id);
        }
    }
    keep_present(root, images, listed_in)
}

/// Keeps the images whose files exist (a user may hold a subset of the 50 000 validation
/// images) and says how many were left out; an error if none is there.
fn keep_present(
    root: &Path,
    images: Vec<Sample>,
    listed_in: &Path,
) -> Result<(Vec<Sample>, Vec<String>)> {
    let listed = images.len();
    let present: Vec<Sample> = images
        .into_iter()
        .filter(|s| root.join(&s.id).is_file())
        .collect();
    if present.is_empty() && listed > 0 {
        return Err(IlsvrcError::Inconsistent {
            path: listed_in.to_path_buf(),
            reason: format!(
                "none of the {listed} images it lists is under {}",
                root.display()
            ),
        });
    }
    let mut notes = Vec::new();
    if present.len() < listed {
        notes.push(format!(
            "{} of the {listed} images listed in {} are not under {}; using the {} present",
            listed - present.len(),
            listed_in.display(),
            root.display(),
            present.len()
        ));
    }
    Ok((present, notes))
}
