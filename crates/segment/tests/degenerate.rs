//! Inputs a segmentation must survive: flat or all-zero saliency, too few seeds for the
//! mixture, tiny images, NaN, mismatched sizes.
use image::RgbImage;
use ndarray::Array2;
use segment::{GraphCutParams, GraphCutSegmenter, SegmentError, Segmenter};

fn img(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 37 % 256) as u8,
            (y * 53 % 256) as u8,
            ((x * y) % 256) as u8,
        ])
    })
}

#[test]
fn constant_and_zero_saliency_give_no_object() {
    for value in [0.0f32, 0.7] {
        let seg = GraphCutSegmenter::default()
            .segment(&img(20, 10), &Array2::from_elem((10, 20), value))
            .unwrap();
        assert!(seg.bbox.is_none());
        assert!(
            seg.notes.iter().any(|n| n.contains("no foreground seeds")),
            "{:?}",
            seg.notes
        );
        assert!(!seg.object.iter().any(|v| *v));
    }
}

#[test]
fn fewer_seeds_than_components_reduce_the_mixture() {
    // 8×8 = 64 values 0..63: the 95 % quantile is 59.85, so 4 seed pixels for 5 components.
    let sal = Array2::from_shape_fn((8, 8), |(y, x)| (y * 8 + x) as f32);
    let seg = GraphCutSegmenter::default()
        .segment(&img(8, 8), &sal)
        .unwrap();
    assert_eq!(seg.seeds.fg_count(), 4);
    assert!(
        seg.notes
            .iter()
            .any(|n| n.contains("components instead of 5")),
        "{:?}",
        seg.notes
    );
}

#[test]
fn one_pixel_and_one_row_images() {
    let seg = GraphCutSegmenter::default()
        .segment(&img(1, 1), &Array2::from_elem((1, 1), 3.0))
        .unwrap();
    assert!(seg.bbox.is_none());
    let sal = Array2::from_shape_fn((1, 60), |(_, x)| {
        if (20..30).contains(&x) {
            5.0 + x as f32
        } else {
            x as f32 * 0.01
        }
    });
    let row = RgbImage::from_fn(60, 1, |x, _| {
        if (20..30).contains(&x) {
            image::Rgb([250, 10, 10])
        } else {
            image::Rgb([10, 10, 250])
        }
    });
    let seg = GraphCutSegmenter::default().segment(&row, &sal).unwrap();
    let b = seg.bbox.expect("the red run is found");
    assert_eq!((b.y0, b.y1), (0, 0));
    assert!(b.x0 >= 19 && b.x1 <= 30, "{b:?}");
}

#[test]
fn nan_and_size_mismatch_are_errors_that_say_where() {
    let mut sal = Array2::from_elem((10, 20), 1.0f32);
    sal[(3, 7)] = f32::NAN;
    match GraphCutSegmenter::default().segment(&img(20, 10), &sal) {
        Err(SegmentError::NonFinite { row: 3, col: 7, .. }) => {}
        other => panic!("expected a NaN error, got {other:?}"),
    }
    let e = GraphCutSegmenter::default()
        .segment(&img(20, 10), &Array2::zeros((20, 10)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("20×10") && e.contains("10×20"), "{e}");
    let bad = GraphCutSegmenter::new(GraphCutParams {
        fg_quantile: 0.2,
        bg_quantile: 0.5,
        ..Default::default()
    });
    assert!(matches!(
        bad.segment(&img(4, 4), &Array2::zeros((4, 4))),
        Err(SegmentError::Parameter(_))
    ));
}

#[test]
fn hard_seeds_keep_their_labels() {
    let sal = Array2::from_shape_fn((24, 24), |(y, x)| {
        -((x as f32 - 12.0).powi(2) + (y as f32 - 12.0).powi(2)).sqrt()
    });
    let params = GraphCutParams {
        hard_seeds: true,
        ..Default::default()
    };
    let seg = GraphCutSegmenter::new(params)
        .segment(&img(24, 24), &sal)
        .unwrap();
    for ((y, x), &fg) in seg.seeds.foreground.indexed_iter() {
        if fg {
            assert!(seg.foreground[(y, x)], "foreground seed ({y}, {x}) lost");
        }
        if seg.seeds.background[(y, x)] {
            assert!(
                !seg.foreground[(y, x)],
                "background seed ({y}, {x}) flipped"
            );
        }
    }
}
