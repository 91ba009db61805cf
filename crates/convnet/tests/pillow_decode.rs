//! The JPEG decoder against Pillow: every decoded value equal on the sample photos (in the
//! repository) and the 300 dev images (in `../shared`), and damaged files refused by name.
#[path = "../../../tests/support/shared.rs"]
mod support;

use convnet::preprocess::{decode_rgb, load_rgb};
use image::RgbImage;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

/// Pillow's hashes, made by `docs/scripts/pillow_decode_hashes.py`.
fn pillow_hashes() -> HashMap<String, String> {
    let text = std::fs::read_to_string(support::repo_data("pillow-decode.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["images"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

/// The hash the script computes: `WxH:` then the row-major RGB bytes.
fn hash(img: &RgbImage) -> String {
    let mut h = Sha256::new();
    h.update(format!("{}x{}:", img.width(), img.height()).as_bytes());
    h.update(img.as_raw());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn assert_all_equal_pillow(dir: &Path, names: &[String]) {
    let want = pillow_hashes();
    let differing: Vec<&String> = names
        .iter()
        .filter(|n| hash(&load_rgb(&dir.join(n)).unwrap()) != want[n.as_str()])
        .collect();
    assert!(
        differing.is_empty(),
        "{} of {} differ from Pillow: {differing:?}",
        differing.len(),
        names.len()
    );
}

#[test]
fn sample_photos_decode_exactly_as_pillow() {
    let names: Vec<String> = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"]
        .map(String::from)
        .to_vec();
    assert_all_equal_pillow(&support::repo_data("samples"), &names);
}

#[test]
fn all_dev_images_decode_exactly_as_pillow() {
    let Some(dir) = support::shared("data/ilsvrc-dev/images") else {
        return;
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 300);
    assert_all_equal_pillow(&dir, &names);
}

fn decode_error(bytes: &[u8], name: &str) -> String {
    match decode_rgb(bytes, Path::new(name)) {
        Ok(img) => panic!(
            "{name}: damaged, yet decoded as {}×{}",
            img.width(),
            img.height()
        ),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_truncated_sample_photo_is_an_error_naming_the_file() {
    let bytes = std::fs::read(support::repo_data("samples/rocket.jpg")).unwrap();
    for cut in [5000, bytes.len() / 2, bytes.len() - 2] {
        let e = decode_error(&bytes[..cut], "cut/rocket.jpg");
        assert!(
            e.contains("cut/rocket.jpg") && e.contains("truncated: premature end of JPEG data"),
            "cut at {cut}: {e}"
        );
    }
}

#[test]
fn a_truncated_dev_image_is_an_error_naming_the_file() {
    let Some(p) = support::shared("data/ilsvrc-dev/images/ILSVRC2012_val_00000560.JPEG") else {
        return;
    };
    let bytes = std::fs::read(p).unwrap();
    let e = decode_error(&bytes[..5000], "ILSVRC2012_val_00000560.JPEG");
    assert!(
        e.contains("ILSVRC2012_val_00000560.JPEG") && e.contains("truncated"),
        "{e}"
    );
}

#[test]
fn corrupt_entropy_data_is_an_error_naming_the_file() {
    let mut bytes = std::fs::read(support::repo_data("samples/rocket.jpg")).unwrap();
    // The entropy-coded data starts after the SOS segment (FF DA, 2-byte length).
    let sos = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let start = sos + 2 + u16::from_be_bytes([bytes[sos + 2], bytes[sos + 3]]) as usize;
    let mid = start + (bytes.len() - start) / 3;
    // Bytes that are no marker (no 0xFF) but no valid Huffman stream either.
    for (i, b) in bytes[mid..mid + 2000].iter_mut().enumerate() {
        *b = (i * 37 % 251) as u8;
    }
    let e = decode_error(&bytes, "corrupt/rocket.jpg");
    println!("{e}");
    assert!(
        e.contains("corrupt/rocket.jpg") && e.contains("corrupt JPEG data"),
        "{e}"
    );
}

#[test]
fn bytes_left_over_before_the_end_marker_are_an_error() {
    // What a desynchronised entropy decoder leaves behind, so libjpeg's warning about it is
    // one of the signals of corrupt data.
    let bytes = std::fs::read(support::repo_data("samples/rocket.jpg")).unwrap();
    assert_eq!(&bytes[bytes.len() - 2..], [0xFF, 0xD9]);
    let mut padded = bytes[..bytes.len() - 2].to_vec();
    padded.extend_from_slice(&[0u8; 16]);
    padded.extend_from_slice(&[0xFF, 0xD9]);
    let e = decode_error(&padded, "padded.jpg");
    assert!(
        e.contains("padded.jpg") && e.contains("extraneous bytes"),
        "{e}"
    );
}
