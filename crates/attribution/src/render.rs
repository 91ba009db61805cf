//! Pictures of attribution maps: a heat map in a perceptual colour map (inferno) and an
//! overlay on the image.
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

/// Saves an RGB image as PNG.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    img.save(path).map_err(|e| AttributionError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
