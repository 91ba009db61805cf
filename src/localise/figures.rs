//! Figures of a localisation: the paper's Fig. 3 strip, the two presets side by side, and
//! the boxes over the image at its own size.
use super::{to_image_box, ClassBox};
use attribution::render::{grid, heatmap};
use convnet::InputWindow;
use ilsvrc::BoxF;
use image::{Rgb, RgbImage};
use ndarray::Array2;

/// Draws the outline of `b` (inclusive pixel box, rounded to pixels) `thickness` pixels
/// wide inwards, clipped to `img`.
pub fn draw_box(img: &mut RgbImage, b: &BoxF, colour: [u8; 3], thickness: u32) {
    use imageproc::rect::Rect;
    let (x0, y0) = (b.x0.round() as i32, b.y0.round() as i32);
    let (x1, y1) = (
        b.x1.round().max(b.x0.round()) as i32,
        b.y1.round().max(b.y0.round()) as i32,
    );
    for t in 0..thickness as i32 {
        let (w, h) = (x1 - x0 + 1 - 2 * t, y1 - y0 + 1 - 2 * t);
        if w <= 0 || h <= 0 {
            break;
        }
        let r = Rect::at(x0 + t, y0 + t).of_size(w as u32, h as u32);
        imageproc::drawing::draw_hollow_rect_mut(img, r, Rgb(colour));
    }
}

/// The image darkened to a third, with the pixels of each `(mask, colour)` layer painted in
/// its colour (the first layer that covers a pixel wins).
fn paint(image: &RgbImage, layers: &[(&Array2<bool>, [u8; 3])]) -> RgbImage {
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let at = (y as usize, x as usize);
        for (m, c) in layers {
            if m.get(at).copied().unwrap_or(false) {
                return Rgb(*c);
            }
        }
        let p = image.get_pixel(x, y);
        Rgb(p.0.map(|v| v / 3))
    })
}

/// The paper's Fig. 3 for one class of one model-size image, as one labelled strip: the
/// image, its saliency map, the foreground (red) and background (blue) seeds, the GraphCut
/// foreground, its largest component, and the box (green) with ground truth (red) if known.
pub fn steps_figure(image: &RgbImage, c: &ClassBox, ground_truth: &[BoxF]) -> RgbImage {
    let seg = &c.segmentation;
    let white = [255, 255, 255];
    let mut boxed = image.clone();
    for b in ground_truth {
        draw_box(&mut boxed, b, [230, 30, 30], 2);
    }
    if let Some(b) = c.bbox {
        let same = InputWindow::stretch(image.dimensions(), image.dimensions());
        draw_box(
            &mut boxed,
            &to_image_box(b, &same, image.dimensions()),
            [40, 220, 60],
            2,
        );
    }
    let tiles = vec![
        (image.clone(), "image".to_string()),
        (heatmap(&c.map), "saliency".to_string()),
        (
            paint(
                image,
                &[
                    (&seg.seeds.foreground, [255, 40, 40]),
                    (&seg.seeds.background, [40, 80, 255]),
                ],
            ),
            format!("seeds {}/{}", seg.seeds.fg_count(), seg.seeds.bg_count()),
        ),
        (
            paint(image, &[(&seg.foreground, white)]),
            "GraphCut".to_string(),
        ),
        (
            paint(image, &[(&seg.object, white)]),
            "largest component".to_string(),
        ),
        (boxed, "box (green), truth (red)".to_string()),
    ];
    grid(&tiles, tiles.len())
}

/// The two presets side by side for one class: the best preset's map and region, and the
/// image with both boxes (paper yellow, best green, truth red).
pub fn presets_figure(
    image: &RgbImage,
    paper: &ClassBox,
    best: &ClassBox,
    ground_truth: &[BoxF],
) -> RgbImage {
    let mut boxed = image.clone();
    for b in ground_truth {
        draw_box(&mut boxed, b, [230, 30, 30], 2);
    }
    for (c, colour) in [(paper, [240, 220, 40]), (best, [40, 220, 60])] {
        if let Some(b) = c.bbox {
            let same = InputWindow::stretch(image.dimensions(), image.dimensions());
            draw_box(
                &mut boxed,
                &to_image_box(b, &same, image.dimensions()),
                colour,
                2,
            );
        }
    }
    let tiles = vec![
        (heatmap(&best.map), "10-crop Grad-CAM".to_string()),
        (
            paint(image, &[(&best.segmentation.object, [255, 255, 255])]),
            "region > 20 % of max".to_string(),
        ),
        (boxed, "paper (yellow), best (green)".to_string()),
    ];
    grid(&tiles, tiles.len())
}

/// The boxes over the image at its own size (`rgb`, decoded; `window` is where the
/// model input the boxes were made on lies in it, [`convnet::Preprocessing::window`]): the
/// top-1 object tinted green, the top-1 box green and thick, the other classes' boxes
/// yellow, ground truth (`ground_truth`, in `rgb`'s pixels) red.
pub fn boxes_picture(
    rgb: &RgbImage,
    window: &InputWindow,
    boxes: &[ClassBox],
    ground_truth: &[BoxF],
) -> RgbImage {
    let to_image = |b| to_image_box(b, window, rgb.dimensions());
    let mut pic = rgb.clone();
    if let Some(top) = boxes.first() {
        let mask = &top.segmentation.object;
        for (x, y, p) in pic.enumerate_pixels_mut() {
            let (mx, my) = window.to_input(x as f64 + 0.5, y as f64 + 0.5);
            let inside = mx >= 0.0
                && my >= 0.0
                && (mx as usize) < mask.ncols()
                && (my as usize) < mask.nrows();
            if inside && mask[(my as usize, mx as usize)] {
                *p = Rgb([
                    (p[0] as u16 / 2 + 60) as u8,
                    (p[1] as u16 / 2 + 110) as u8,
                    (p[2] as u16 / 2) as u8,
                ]);
            }
        }
    }
    for b in ground_truth {
        draw_box(&mut pic, b, [230, 30, 30], 2);
    }
    for c in boxes.iter().skip(1) {
        if let Some(b) = c.bbox {
            draw_box(&mut pic, &to_image(b), [240, 220, 40], 1);
        }
    }
    if let Some(b) = boxes.first().and_then(|c| c.bbox) {
        draw_box(&mut pic, &to_image(b), [40, 220, 60], 3);
    }
    pic
}
