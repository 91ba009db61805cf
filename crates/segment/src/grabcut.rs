//! The GrabCut-style energy on the pixel grid: unary terms from the two colour models and a
//! contrast-sensitive Potts term between 8-neighbours,
//! `γ · exp(−β ‖I_p − I_q‖²) / dist(p, q)` with `β = 1 / (2 · mean ‖I_p − I_q‖²)`.
use crate::maxflow::GridGraph;
use image::RgbImage;
use ndarray::Array2;

/// Neighbour offsets (dy, dx) that cover every 8-neighbour pair once.
const OFFSETS: [(usize, isize); 4] = [(0, 1), (1, 0), (1, 1), (1, -1)];

/// `β = 1 / (2 · mean ‖I_p − I_q‖²)` over all 8-neighbour pairs (0 for a flat image).
pub fn contrast_beta(img: &RgbImage) -> f64 {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let px = img.as_raw();
    let (mut total, mut count) = (0f64, 0usize);
    for y in 0..h {
        for x in 0..w {
            let p = y * w + x;
            for &(dy, dx) in &OFFSETS {
                let (ny, nx) = (y + dy, x as isize + dx);
                if ny >= h || nx < 0 || nx >= w as isize {
                    continue;
                }
                let q = ny * w + nx as usize;
                total += (0..3)
                    .map(|c| (px[3 * p + c] as f64 - px[3 * q + c] as f64).powi(2))
                    .sum::<f64>();
                count += 1;
            }
        }
    }
    if count == 0 || total <= 1e-12 {
        0.0
    } else {
        count as f64 / (2.0 * total)
    }
}

/// Builds the s–t graph: source = foreground. `cost_fg[p]` is the cost of labelling p
/// foreground (−log p_fg), `cost_bg[p]` of labelling it background. Hard seeds, if given,
/// are tied to their terminal with capacity `hard`.
pub fn build_graph(
    img: &RgbImage,
    cost_fg: &Array2<f64>,
    cost_bg: &Array2<f64>,
    gamma: f64,
    hard: Option<(&Array2<bool>, &Array2<bool>)>,
) -> GridGraph {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let beta = contrast_beta(img);
    let px = img.as_raw();
    let sq = |p: usize, q: usize| -> f64 {
        let (a, b) = (&px[3 * p..3 * p + 3], &px[3 * q..3 * q + 3]);
        (0..3).map(|c| (a[c] as f64 - b[c] as f64).powi(2)).sum()
    };
    let diagonal_gamma = gamma / std::f64::consts::SQRT_2;
    let weight = |p: usize, q: usize, diagonal: bool| if diagonal { diagonal_gamma } else { gamma } * (-beta * sq(p, q)).exp();
    let big = 1e9;
    let (mut source, mut sink) = (vec![0.0; w * h], vec![0.0; w * h]);
    for (i, (&f, &g)) in cost_fg.iter().zip(cost_bg.iter()).enumerate() {
        let m = f.min(g);
        // Cutting s→p labels p background (pays cost_bg); cutting p→t labels it foreground.
        (source[i], sink[i]) = (g - m, f - m);
        if let Some((fg, bg)) = hard {
            let (y, x) = (i / w, i % w);
            if fg[(y, x)] {
                (source[i], sink[i]) = (big, 0.0);
            } else if bg[(y, x)] {
                (source[i], sink[i]) = (0.0, big);
            }
        }
    }
    GridGraph::eight_connected(w, h, weight, &source, &sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_by_hand() {
        // 2×1 image, one horizontal pair with ‖ΔI‖² = 3·10² → β = 1 / (2·300).
        let img = RgbImage::from_fn(2, 1, |x, _| image::Rgb([(x * 10) as u8; 3]));
        assert!((contrast_beta(&img) - 1.0 / 600.0).abs() < 1e-15);
        assert_eq!(
            contrast_beta(&RgbImage::from_pixel(3, 3, image::Rgb([9, 9, 9]))),
            0.0
        );
    }
}
