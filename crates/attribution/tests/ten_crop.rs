//! 10-crop placement, mirroring and coverage averaging, checked exactly on a linear model
//! whose input gradient is known in closed form (the weights themselves).
use attribution::{ten_crop, Method, Reduction, Target, TenCrop};
use convnet::{ClassNames, LinearPixelModel, Preprocessing};
use image::RgbImage;

const N: usize = 3 * 224 * 224;

/// S_c(x) = w_c · x + b_c: ∂S_c/∂x = w_c whatever the image.
struct LinearScorer(LinearPixelModel);

impl LinearScorer {
    fn new() -> Self {
        let weights: Vec<f32> = (0..2 * N)
            .map(|k| ((k as f32) * 0.0137).sin() * (1.0 + (k % 7) as f32))
            .collect();
        let classes = ClassNames::parse_synset_words("n00000001 left\nn00000002 right\n").unwrap();
        LinearScorer(
            LinearPixelModel::new(
                weights,
                vec![0.5, -0.5],
                Preprocessing::efficientnet_lite(),
                classes,
            )
            .unwrap(),
        )
    }

    /// max_c |w_class[c, y, x]|: the single-crop saliency at crop pixel (y, x).
    fn saliency(&self, class: usize, y: usize, x: usize) -> f32 {
        (0..3)
            .map(|c| self.0.weight(class, c, y, x).abs())
            .fold(0.0, f32::max)
    }
}

#[test]
fn ten_crop_places_unmirrors_and_averages_by_coverage() {
    let model = LinearScorer::new();
    // 300×256: already short side 256, so the resize is the identity and only the crops matter.
    let img = RgbImage::from_fn(300, 256, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
    });
    let r = ten_crop(
        &model.0,
        &img,
        &Target::Class(1),
        Method::Gradient,
        Reduction::MaxAbs,
        TenCrop::default(),
    )
    .unwrap();
    assert_eq!(r.map.dim(), (256, 300));
    let offsets = TenCrop::offsets(300, 256, 224);
    for y in 0..256 {
        for x in 0..300 {
            let mut sum = 0.0f64;
            let mut n = 0;
            for &(x0, y0) in &offsets {
                let (x0, y0) = (x0 as usize, y0 as usize);
                if (y0..y0 + 224).contains(&y) && (x0..x0 + 224).contains(&x) {
                    // The crop's map is w's map at the crop position. The mirrored crop's map
                    // is w's map too, but its column j showed crop column 223 − j, so flipped
                    // back it puts w's column 223 − j here.
                    sum += model.saliency(1, y - y0, x - x0) as f64;
                    sum += model.saliency(1, y - y0, 223 - (x - x0)) as f64;
                    n += 2;
                }
            }
            let want = (sum / n as f64) as f32;
            let got = r.map[(y, x)];
            assert!(
                (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                "({y}, {x}): {got} vs {want}"
            );
        }
    }
}

#[test]
fn a_crop_sized_image_averages_the_map_and_its_mirror() {
    // All ten crops of a 224×224 image coincide: five copies of w's map and five of its
    // mirror image, so the result is their mean, symmetric left to right.
    let model = LinearScorer::new();
    let img = RgbImage::from_pixel(224, 224, image::Rgb([1, 2, 3]));
    let g = TenCrop { short_side: 224 };
    let r = ten_crop(
        &model.0,
        &img,
        &Target::Class(0),
        Method::Gradient,
        Reduction::MaxAbs,
        g,
    )
    .unwrap();
    for y in 0..224 {
        for x in 0..224 {
            let want = (model.saliency(0, y, x) + model.saliency(0, y, 223 - x)) / 2.0;
            assert!((r.map[(y, x)] - want).abs() <= 1e-5 * want, "({y}, {x})");
            assert!((r.map[(y, x)] - r.map[(y, 223 - x)]).abs() <= 1e-5 * want);
        }
    }
}
