//! The GrabCut-style energy on the pixel grid: unary terms from the two colour models and a
//! contrast-sensitive Potts term between 8-neighbours,
//! `γ · exp(−β ‖I_p − I_q‖²) / dist(p, q)` with `β = 1 / (2 · mean ‖I_p − I_q‖²)`.
use crate::maxflow::{FlowGraph, GraphBuilder};
use image::RgbImage;
use ndarray::Array2;

/// Neighbour offsets (dy, dx) that cover every 8-neighbour pair once.
const OFFSETS: [(usize, isize); 4] = [(0, 1), (1, 0), (1, 1), (1, -1)];

/// The neighbour pairs of the grid, as (p, q, ‖I_p − I_q‖², diagonal?).
fn pairs(img: &RgbImage) -> Vec<(u32, u32, f32, bool)> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let px = img.as_raw();
    let sq = |p: usize, q: usize| -> f32 {
        let (a, b) = (&px[3 * p..3 * p + 3], &px[3 * q..3 * q + 3]);
        (0..3).map(|c| (a[c] as f32 - b[c] as f32).powi(2)).sum()
    };
    let mut out = Vec::with_capacity(4 * w * h);
    for y in 0..h {
        for x in 0..w {
            let p = y * w + x;
            for &(dy, dx) in &OFFSETS {
                let (ny, nx) = (y + dy, x as isize + dx);
                if ny >= h || nx < 0 || nx >= w as isize {
                    continue;
                }
                let q = ny * w + nx as usize;
                out.push((p as u32, q as u32, sq(p, q), dy == 1 && dx != 0));
            }
        }
    }
    out
}

/// `β = 1 / (2 · mean ‖I_p − I_q‖²)` over all neighbour pairs (0 for a flat image).
pub fn contrast_beta(img: &RgbImage) -> f64 {
    let p = pairs(img);
    let total: f64 = p.iter().map(|t| t.2 as f64).sum();
    if p.is_empty() || total <= 1e-12 {
        0.0
    } else {
        p.len() as f64 / (2.0 * total)
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
) -> FlowGraph {
    let w = img.width() as usize;
    let n = w * img.height() as usize;
    let p = pairs(img);
    let total: f64 = p.iter().map(|t| t.2 as f64).sum();
    let beta = if p.is_empty() || total <= 1e-12 {
        0.0
    } else {
        p.len() as f64 / (2.0 * total)
    };
    let mut b = GraphBuilder::with_edge_capacity(n, p.len());
    for &(u, v, d, diagonal) in &p {
        let weight = if diagonal {
            gamma / std::f64::consts::SQRT_2
        } else {
            gamma
        } * (-beta * d as f64).exp();
        b.add_edge(u as usize, v as usize, weight, weight);
    }
    let big = 1e9;
    for (i, (&f, &g)) in cost_fg.iter().zip(cost_bg.iter()).enumerate() {
        let (y, x) = (i / w, i % w);
        let m = f.min(g);
        // Cutting s→p labels p background (pays cost_bg); cutting p→t labels it foreground.
        let (mut src, mut snk) = (g - m, f - m);
        if let Some((fg, bg)) = hard {
            if fg[(y, x)] {
                (src, snk) = (big, 0.0);
            } else if bg[(y, x)] {
                (src, snk) = (0.0, big);
            }
        }
        b.add_terminal(i, src, snk);
    }
    b.build()
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
