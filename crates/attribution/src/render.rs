//! Pictures of attribution maps: a heat map in a perceptual colour map (inferno), an
//! overlay on the image, and labelled grids of pictures (figures of several images,
//! classes or methods).
use crate::caption::{draw_text, wrap, CAPTION_PX, LINE_HEIGHT};
use crate::error::{AttributionError, Result};
use image::{Rgb, RgbImage};
use ndarray::Array2;
use std::path::Path;

/// The value that maps to the top of the colour scale: the 99.5th percentile of the
/// finite values, so one extreme pixel does not leave the rest of the map black.
pub fn display_max(map: &Array2<f32>) -> f32 {
    let mut v: Vec<f32> = map.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    let k = ((v.len() - 1) as f64 * 0.995).round() as usize;
    let (_, kth, _) = v.select_nth_unstable_by(k, f32::total_cmp);
    *kth
}

/// Values scaled to 0..=1 for display (all zeros for an all-zero map).
pub fn normalised(map: &Array2<f32>) -> Array2<f32> {
    let top = display_max(map);
    map.mapv(|v| {
        if top > 0.0 && v.is_finite() {
            (v / top).clamp(0.0, 1.0)
        } else {
            0.0
        }
    })
}

/// The map in the inferno colour map.
pub fn heatmap(map: &Array2<f32>) -> RgbImage {
    let n = normalised(map);
    let (h, w) = n.dim();
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let c = colorous::INFERNO.eval_continuous(n[(y as usize, x as usize)] as f64);
        Rgb([c.r, c.g, c.b])
    })
}

/// The heat map blended over `image` (same size): salient pixels take the heat map's
/// colour, the rest keep a darkened image.
pub fn overlay(image: &RgbImage, map: &Array2<f32>) -> RgbImage {
    let n = normalised(map);
    let heat = heatmap(map);
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let a = 0.25 + 0.65 * n[(y as usize, x as usize)];
        let (p, q) = (image.get_pixel(x, y), heat.get_pixel(x, y));
        Rgb(std::array::from_fn(|c| {
            ((1.0 - a) * p[c] as f32 + a * q[c] as f32).round() as u8
        }))
    })
}

/// Tiles in rows of `columns`, each with its caption (one or more lines, `\n`-separated,
/// wrapped to the tile's width) printed under it, on a white background. Tiles may differ
/// in size: each cell is as large as the largest tile.
pub fn grid(tiles: &[(RgbImage, String)], columns: usize) -> RgbImage {
    const PAD: u32 = 6;
    let columns = columns.max(1);
    let cell_w = tiles.iter().map(|t| t.0.width()).max().unwrap_or(0);
    let cell_h = tiles.iter().map(|t| t.0.height()).max().unwrap_or(0);
    let captions: Vec<Vec<String>> = tiles
        .iter()
        .map(|t| wrap(&t.1, cell_w, CAPTION_PX))
        .collect();
    let lines = captions.iter().map(|c| c.len() as u32).max().unwrap_or(0);
    let rows = tiles.len().div_ceil(columns) as u32;
    let (cw, ch) = (cell_w + PAD, cell_h + lines * LINE_HEIGHT + PAD);
    let mut out = RgbImage::from_pixel(columns as u32 * cw + PAD, rows * ch + PAD, Rgb([255; 3]));
    for (i, ((img, _), caption)) in tiles.iter().zip(&captions).enumerate() {
        let (x0, y0) = (
            PAD + (i % columns) as u32 * cw,
            PAD + (i / columns) as u32 * ch,
        );
        image::imageops::replace(&mut out, img, x0 as i64, y0 as i64);
        for (k, line) in caption.iter().enumerate() {
            let y = y0 + img.height() + 1 + k as u32 * LINE_HEIGHT;
            draw_text(&mut out, line, x0, y, CAPTION_PX, Rgb([0; 3]));
        }
    }
    out
}

/// Saves an RGB image as PNG with fast compression (`fdeflate`, adaptive filters): these
/// are figures written once per image, and at the default level encoding them took longer
/// than the localisation itself (docs/performance.md); the files are about a third larger.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let err = |reason: String| AttributionError::Write {
        path: path.display().to_string(),
        reason,
    };
    let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
    let mut out = std::io::BufWriter::new(file);
    let encoder =
        PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive);
    img.write_with_encoder(encoder)
        .map_err(|e| err(e.to_string()))?;
    std::io::Write::flush(&mut out).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_places_tiles_and_prints_captions() {
        let red = RgbImage::from_pixel(20, 10, Rgb([255, 0, 0]));
        let blue = RgbImage::from_pixel(20, 10, Rgb([0, 0, 255]));
        let g = grid(
            &[
                (red, "a".into()),
                (blue, "b".into()),
                (RgbImage::new(20, 10), "c".into()),
            ],
            2,
        );
        // Two columns of 26 px + 6 px margin; two rows of (10 + one 17 px caption line + 6).
        assert_eq!(g.dimensions(), (58, 72));
        assert_eq!(g.get_pixel(6, 6), &Rgb([255, 0, 0]));
        assert_eq!(g.get_pixel(32, 6), &Rgb([0, 0, 255]));
        // Some caption pixels under the first tile are dark.
        let inked = (6..26).flat_map(|x| (17..34).map(move |y| (x, y)));
        assert!(inked.into_iter().any(|(x, y)| g.get_pixel(x, y)[0] < 80));
    }

    #[test]
    fn heatmap_runs_from_dark_to_bright_and_zero_maps_stay_dark() {
        let map = Array2::from_shape_fn((4, 50), |(_, x)| x as f32);
        let h = heatmap(&map);
        let lum = |p: &Rgb<u8>| p[0] as u32 + p[1] as u32 + p[2] as u32;
        assert!(lum(h.get_pixel(0, 0)) < 30);
        assert!(lum(h.get_pixel(49, 0)) > 500);
        let zero = heatmap(&Array2::zeros((2, 2)));
        assert_eq!(zero.get_pixel(1, 1), h.get_pixel(0, 0));
    }
}
