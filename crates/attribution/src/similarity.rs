//! How alike two maps are, for the randomisation sanity check: Spearman's rank correlation
//! (ties ranked by their mean) and SSIM (Wang et al. 2004, Gaussian window σ = 1.5, maps
//! min-max normalised to [0, 1]).
use ndarray::Array2;

/// Ranks 1..n, ties given their mean rank.
fn ranks(v: &[f32]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0f64; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = mean;
        }
        i = j + 1;
    }
    r
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        return 0.0;
    }
    sab / (saa * sbb).sqrt()
}

/// Spearman's ρ of two equally sized maps (0 when either is constant).
pub fn spearman(a: &Array2<f32>, b: &Array2<f32>) -> f64 {
    let va: Vec<f32> = a.iter().copied().collect();
    let vb: Vec<f32> = b.iter().copied().collect();
    pearson(&ranks(&va), &ranks(&vb))
}

fn normalised(m: &Array2<f32>) -> Array2<f32> {
    let (lo, hi) = m
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    m.mapv(|v| if hi > lo { (v - lo) / (hi - lo) } else { 0.0 })
}

/// Mean SSIM of two equally sized maps, each min-max normalised to [0, 1].
pub fn ssim(a: &Array2<f32>, b: &Array2<f32>) -> f64 {
    let (a, b) = (normalised(a), normalised(b));
    let blur = |m: &Array2<f32>| convnet::blur::blurred(m, 1.5);
    let (c1, c2) = (0.01f32.powi(2), 0.03f32.powi(2));
    let (ma, mb) = (blur(&a), blur(&b));
    let (aa, bb, ab) = (blur(&(&a * &a)), blur(&(&b * &b)), blur(&(&a * &b)));
    let mut total = 0f64;
    ndarray::Zip::from(&ma)
        .and(&mb)
        .and(&aa)
        .and(&bb)
        .and(&ab)
        .for_each(|&x, &y, &xx, &yy, &xy| {
            let (vx, vy, cxy) = (xx - x * x, yy - y * y, xy - x * y);
            total += (((2.0 * x * y + c1) * (2.0 * cxy + c2))
                / ((x * x + y * y + c1) * (vx + vy + c2))) as f64;
        });
    total / a.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_and_ssim_by_hand() {
        let a = Array2::from_shape_vec((2, 3), vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let squashed = a.mapv(|v: f32| v.powi(3));
        assert!((spearman(&a, &squashed) - 1.0).abs() < 1e-12);
        assert!((spearman(&a, &a.mapv(|v| -v)) + 1.0).abs() < 1e-12);
        let ties = Array2::from_shape_vec((1, 4), vec![1.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(
            ranks(&ties.iter().copied().collect::<Vec<_>>()),
            vec![1.5, 1.5, 3.0, 4.0]
        );
        let m = Array2::from_shape_fn((16, 16), |(y, x)| ((x * 7 + y * 3) % 11) as f32);
        assert!((ssim(&m, &m) - 1.0).abs() < 1e-6);
        assert!(ssim(&m, &m.mapv(|v| 10.0 - v)) < 0.0);
    }
}
