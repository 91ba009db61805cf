//! A Hugging Face image-processor file (`preprocessor_config.json`) as a [`Preprocessing`],
//! and torchvision's ImageNet convention when a model has none.
use crate::error::{ConvnetError, Result};
use crate::preprocess::{Preprocessing, Resize};
use serde::Deserialize;
use std::path::Path;

/// The file's name, looked for beside the model.
pub const PREPROCESSOR_CONFIG: &str = "preprocessor_config.json";

#[derive(Deserialize, Default)]
struct Size {
    shortest_edge: Option<u32>,
    height: Option<u32>,
    width: Option<u32>,
}

/// The keys deepinside reads; others (tokeniser settings, processor class) are ignored.
#[derive(Deserialize)]
struct Config {
    #[serde(default = "yes")]
    do_resize: bool,
    size: Option<Size>,
    /// Pillow's filter code: 2 is bilinear.
    resample: Option<u32>,
    #[serde(default)]
    do_center_crop: bool,
    crop_size: Option<Size>,
    #[serde(default = "yes")]
    do_rescale: bool,
    rescale_factor: Option<f64>,
    #[serde(default = "yes")]
    do_normalize: bool,
    image_mean: Option<[f32; 3]>,
    image_std: Option<[f32; 3]>,
}

fn yes() -> bool {
    true
}

/// torchvision's ImageNet evaluation transform: shorter side 256 (bilinear, antialiased),
/// centre crop 224, /255, ImageNet mean and std.
pub fn torchvision_default() -> Preprocessing {
    Preprocessing {
        resize: Resize::ShorterSideThenCrop(256),
        ..Preprocessing::torchvision_imagenet()
    }
}

/// The same convention for a model whose graph fixes another input size: a centre crop of
/// `height × width` out of a shorter side scaled as 256 is to 224 (the crop fraction 0.875
/// that timm and torchvision use at every size).
pub fn torchvision_default_at(height: u32, width: u32) -> Preprocessing {
    let side = (height.max(width) as f64 * 256.0 / 224.0).round() as u32;
    Preprocessing {
        width,
        height,
        resize: Resize::ShorterSideThenCrop(side),
        ..torchvision_default()
    }
}

/// Parses a preprocessor file's text (`path` names it in errors).
pub fn parse_preprocessor_config(text: &str, path: &Path) -> Result<Preprocessing> {
    let bad = |reason: String| ConvnetError::Preprocessing {
        path: path.to_path_buf(),
        reason,
    };
    let c: Config = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    if let Some(r) = c.resample.filter(|&r| r != 2) {
        let name = match r {
            0 => "nearest",
            1 => "lanczos",
            3 => "bicubic",
            4 => "box",
            5 => "hamming",
            _ => "unknown",
        };
        return Err(bad(format!(
            "resample {r} ({name}) is not supported: deepinside resizes with Pillow's bilinear \
             filter (resample 2) exactly; set resample to 2 or give the preprocessing by flags"
        )));
    }
    let size = c.size.unwrap_or_default();
    let crop = c.crop_size.unwrap_or_default();
    let (width, height, resize) =
        match (c.do_resize, c.do_center_crop, size.shortest_edge) {
            (true, crop_on, Some(side)) => {
                let (w, h) = if crop_on {
                    (crop.width.unwrap_or(side), crop.height.unwrap_or(side))
                } else {
                    (side, side)
                };
                (w, h, Resize::ShorterSideThenCrop(side))
            }
            (true, _, None) => match (size.width, size.height) {
                (Some(w), Some(h)) => (w, h, Resize::Squash),
                _ => return Err(bad("size needs shortest_edge or height and width".into())),
            },
            (false, _, _) => return Err(bad(
                "do_resize is false: deepinside needs a fixed input size (set do_resize and size)"
                    .into(),
            )),
        };
    if let (true, Resize::Squash) = (c.do_center_crop, resize) {
        if crop.width.is_some_and(|cw| cw != width) || crop.height.is_some_and(|ch| ch != height) {
            return Err(bad(
                "a centre crop after a squash to another size is not supported".into(),
            ));
        }
    }
    let pixel_scale = if c.do_rescale {
        let f = c.rescale_factor.unwrap_or(1.0 / 255.0);
        if f <= 0.0 {
            return Err(bad(format!("rescale_factor {f} must be positive")));
        }
        // 1/255 is written as 0.00392156862745098: divide by 255 exactly, as ToTensor does.
        round_if_close(1.0 / f) as f32
    } else {
        1.0
    };
    let (mean, std) = if c.do_normalize {
        (
            c.image_mean.unwrap_or([0.485, 0.456, 0.406]),
            c.image_std.unwrap_or([0.229, 0.224, 0.225]),
        )
    } else {
        ([0.0; 3], [1.0; 3])
    };
    if std.iter().any(|&s| s <= 0.0) {
        return Err(bad(format!("image_std {std:?} must be positive")));
    }
    Ok(Preprocessing {
        width,
        height,
        resize,
        pixel_scale,
        mean,
        std,
    })
}

/// `v` rounded when it is within 1e-9 of an integer (so 1/0.00392156862745098 is 255).
fn round_if_close(v: f64) -> f64 {
    if (v - v.round()).abs() < 1e-9 * v.abs().max(1.0) {
        v.round()
    } else {
        v
    }
}

/// The preprocessing of the model at `model`: its folder's `preprocessor_config.json`, or
/// torchvision's ImageNet convention at the input size the graph fixes (`input`, height and
/// width; 224 × 224 when it fixes none); and a sentence saying which.
pub fn preprocessing_beside(
    model: &Path,
    input: Option<(u32, u32)>,
) -> Result<(Preprocessing, String)> {
    let file = model
        .parent()
        .unwrap_or(Path::new("."))
        .join(PREPROCESSOR_CONFIG);
    match std::fs::read_to_string(&file) {
        Ok(text) => Ok((
            parse_preprocessor_config(&text, &file)?,
            format!("preprocessing from {}", file.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let p = match input {
                Some((h, w)) => torchvision_default_at(h, w),
                None => torchvision_default(),
            };
            let side = match p.resize {
                Resize::ShorterSideThenCrop(side) => side,
                Resize::Squash => p.height,
            };
            Ok((
                p.clone(),
                format!(
                    "no {PREPROCESSOR_CONFIG} beside the model: torchvision's ImageNet \
                     convention (shorter side {side}, centre crop {} × {}, ImageNet mean and \
                     std)",
                    p.height, p.width
                ),
            ))
        }
        Err(e) => Err(ConvnetError::Preprocessing {
            path: file,
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchvision_and_squash_configs() {
        let p = parse_preprocessor_config(
            r#"{"do_resize": true, "size": {"shortest_edge": 256}, "resample": 2,
                "do_center_crop": true, "crop_size": {"height": 224, "width": 224},
                "do_rescale": true, "rescale_factor": 0.00392156862745098,
                "do_normalize": true, "image_mean": [0.485, 0.456, 0.406],
                "image_std": [0.229, 0.224, 0.225]}"#,
            Path::new("p.json"),
        )
        .unwrap();
        assert_eq!(p, torchvision_default());
        let q = parse_preprocessor_config(
            r#"{"size": {"height": 240, "width": 200}, "do_rescale": false,
                "image_mean": [127, 127, 127], "image_std": [128, 128, 128]}"#,
            Path::new("p.json"),
        )
        .unwrap();
        assert_eq!(
            (q.width, q.height, q.resize, q.pixel_scale),
            (200, 240, Resize::Squash, 1.0)
        );
    }

    #[test]
    fn the_default_follows_the_graphs_input_size() {
        assert_eq!(torchvision_default_at(224, 224), torchvision_default());
        let p = torchvision_default_at(32, 32);
        assert_eq!((p.height, p.width), (32, 32));
        assert_eq!(p.resize, Resize::ShorterSideThenCrop(37));
        assert_eq!(
            torchvision_default_at(384, 384).resize,
            Resize::ShorterSideThenCrop(439)
        );
        assert_eq!(p.mean, torchvision_default().mean);
        let (q, note) =
            preprocessing_beside(Path::new("/nonexistent/m.onnx"), Some((32, 48))).unwrap();
        assert_eq!(
            (q.height, q.width, q.resize),
            (32, 48, Resize::ShorterSideThenCrop(55))
        );
        assert!(
            note.contains("shorter side 55, centre crop 32 × 48"),
            "{note}"
        );
    }

    #[test]
    fn unsupported_settings_name_the_file_and_value() {
        let e = parse_preprocessor_config(
            r#"{"size": {"shortest_edge": 256}, "resample": 3}"#,
            Path::new("x/p.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("x/p.json") && e.contains("bicubic"), "{e}");
        let e = parse_preprocessor_config("{", Path::new("p.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.json"), "{e}");
    }
}
