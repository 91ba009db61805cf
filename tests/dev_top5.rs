//! Classification of all 300 dev images, from JPEG file to top-5, must equal PyTorch's
//! (`shared/reference/dev-top5.txt`): with bit-identical preprocessing nothing should differ.
mod common;

use candle_core::Device;
use common::{effnet_weights, shared_paths, values};
use convnet::preprocess::load_rgb;
use convnet::{EfficientNetLite0, ImageModel};

fn top5(row: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..row.len()).collect();
    idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
    idx.truncate(5);
    idx
}

#[test]
fn top5_of_all_dev_images_equal_pytorch() {
    let Some([dev, reference]) = shared_paths(["data/ilsvrc-dev", "reference/dev-top5.txt"]) else {
        return;
    };
    let model = EfficientNetLite0::load(&effnet_weights()).unwrap();
    let reference = std::fs::read_to_string(reference).unwrap();
    let rows: Vec<(String, Vec<usize>)> = reference
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split(',');
            let path = parts.next().unwrap().to_string();
            (path, parts.map(|p| p.trim().parse().unwrap()).collect())
        })
        .collect();
    assert_eq!(rows.len(), 300);
    let mut mismatches = Vec::new();
    for chunk in rows.chunks(16) {
        let images: Vec<_> = chunk
            .iter()
            .map(|(p, _)| load_rgb(&dev.join(p)).unwrap())
            .collect();
        let x = model.preprocessing().batch(&images, &Device::Cpu).unwrap();
        let logits = values(&model.forward(&x).unwrap());
        for (i, (path, want)) in chunk.iter().enumerate() {
            let got = top5(&logits[i * 1000..(i + 1) * 1000]);
            if &got != want {
                mismatches.push(format!("{path}: ours {got:?}, PyTorch {want:?}"));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of 300 differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
