//! The GrabCut-style energy on the pixel grid: unary terms from the two colour models and a
//! contrast-sensitive Potts term between 8-neighbours,
//! `γ · exp(−β ‖I_p − I_q‖²) / dist(p, q)` with `β = 1 / (2 · mean ‖I_p − I_q‖²)`.
//! Both are computed one image row per rayon task.
use crate::maxflow::GridGraph;
use image::RgbImage;
use ndarray::Array2;
use rayon::prelude::*;

/// Neighbour offsets (dy, dx) that cover every 8-neighbour pair once, in the order of
/// [`GridGraph::from_forward`]'s quadruples: right, down-left, down, down-right.
const OFFSETS: [(usize, isize); 4] = [(0, 1), (1, -1), (1, 0), (1, 1)];

/// The pixel at forward offset `(dy, dx)` from `(y, x)` in a `w × h` image, if inside.
#[inline]
fn forward_neighbour(
    w: usize,
    h: usize,
    y: usize,
    x: usize,
    (dy, dx): (usize, isize),
) -> Option<usize> {
    let (ny, nx) = (y + dy, x as isize + dx);
    (ny < h && nx >= 0 && nx < w as isize).then(|| ny * w + nx as usize)
}

/// `‖I_p − I_q‖²` from every pixel to its four forward neighbours (0 where the neighbour
/// is outside the image) and how many of them are inside, one image row per rayon task.
fn forward_differences(img: &RgbImage) -> (Vec<[f64; 4]>, Vec<usize>) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let px = img.as_raw();
    let mut sq = vec![[0f64; 4]; w * h];
    let counts = sq
        .par_chunks_mut(w.max(1))
        .enumerate()
        .map(|(y, row)| {
            let mut count = 0;
            for (x, out) in row.iter_mut().enumerate() {
                let p = y * w + x;
                for (o, &offset) in out.iter_mut().zip(&OFFSETS) {
                    let Some(q) = forward_neighbour(w, h, y, x, offset) else {
                        continue;
                    };
                    *o = (0..3)
                        .map(|c| (px[3 * p + c] as f64 - px[3 * q + c] as f64).powi(2))
                        .sum::<f64>();
                    count += 1;
                }
            }
            count
        })
        .collect();
    (sq, counts)
}

/// `β` from the forward differences: per-row sums added in row order, so the value does
/// not depend on the thread count.
fn beta_of(sq: &[[f64; 4]], counts: &[usize], w: usize) -> f64 {
    let total: f64 = sq
        .par_chunks(w.max(1))
        .map(|row| row.iter().flatten().sum::<f64>())
        .collect::<Vec<f64>>()
        .iter()
        .sum();
    let count: usize = counts.iter().sum();
    if count == 0 || total <= 1e-12 {
        0.0
    } else {
        count as f64 / (2.0 * total)
    }
}

/// `β = 1 / (2 · mean ‖I_p − I_q‖²)` over all 8-neighbour pairs (0 for a flat image).
pub fn contrast_beta(img: &RgbImage) -> f64 {
    let (sq, counts) = forward_differences(img);
    beta_of(&sq, &counts, img.width() as usize)
}

/// The Potts capacities `γ · exp(−β ‖I_p − I_q‖²) / dist(p, q)` from every pixel to its
/// four forward neighbours, as [`GridGraph::from_forward`] takes them (0 towards a
/// neighbour outside the image). They depend on the
/// image alone, so they can be computed while the colour models are fitted.
pub fn contrast_weights(img: &RgbImage, gamma: f64) -> Vec<[f64; 4]> {
    let (mut sq, counts) = forward_differences(img);
    let beta = beta_of(&sq, &counts, img.width() as usize);
    let scale = OFFSETS.map(|(dy, dx)| {
        if dy != 0 && dx != 0 {
            gamma / std::f64::consts::SQRT_2
        } else {
            gamma
        }
    });
    let (w, h) = (img.width() as usize, img.height() as usize);
    sq.par_chunks_mut(w.max(1))
        .enumerate()
        .for_each(|(y, row)| {
            for (x, q) in row.iter_mut().enumerate() {
                for ((v, s), &offset) in q.iter_mut().zip(scale).zip(&OFFSETS) {
                    let inside = forward_neighbour(w, h, y, x, offset).is_some();
                    *v = if inside { s * (-beta * *v).exp() } else { 0.0 };
                }
            }
        });
    sq
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
    let mut graph = pairwise_graph(img, gamma);
    set_unaries(&mut graph, cost_fg, cost_bg, hard);
    graph
}

/// The grid with the Potts capacities of [`contrast_weights`] and no terminal capacities
/// yet: it needs only the image, so it is built while the colour models are fitted.
pub fn pairwise_graph(img: &RgbImage, gamma: f64) -> GridGraph {
    let (w, h) = (img.width() as usize, img.height() as usize);
    GridGraph::pairwise(w, h, &contrast_weights(img, gamma))
}

/// Sets the terminal capacities of a [`pairwise_graph`] from the unary costs, as
/// [`build_graph`] describes.
pub fn set_unaries(
    graph: &mut GridGraph,
    cost_fg: &Array2<f64>,
    cost_bg: &Array2<f64>,
    hard: Option<(&Array2<bool>, &Array2<bool>)>,
) {
    let (h, w) = cost_fg.dim();
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
    graph.set_terminals(&source, &sink);
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

    #[test]
    fn forward_weights_by_hand() {
        // 2×2 image: pixel values 0, 10 (top row), 20, 30 (bottom row), equal in R, G, B.
        let img = RgbImage::from_fn(2, 2, |x, y| image::Rgb([(10 * (x + 2 * y)) as u8; 3]));
        // Pairs (squared distances): right 300, 300; down 1200, 1200; down-right 2700;
        // down-left (from (1, 0) to (0, 1)) 300. β = 6 / (2 · 6000).
        let beta = 6.0 / 12000.0;
        assert!((contrast_beta(&img) - beta).abs() < 1e-15);
        let (g, d) = (50.0, 50.0 / std::f64::consts::SQRT_2);
        let e = |sq: f64| (-beta * sq).exp();
        let want = [
            [g * e(300.0), 0.0, g * e(1200.0), d * e(2700.0)],
            [0.0, d * e(300.0), g * e(1200.0), 0.0],
            [g * e(300.0), 0.0, 0.0, 0.0],
            [0.0; 4],
        ];
        for (got, want) in contrast_weights(&img, 50.0).iter().zip(want) {
            for (a, b) in got.iter().zip(want) {
                assert!((a - b).abs() < 1e-12, "{got:?} vs {want:?}");
            }
        }
    }
}
