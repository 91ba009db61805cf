//! Smoothing of maps: a separable Gaussian blur, used to regularise class models during
//! ascent (synthesis) and to turn a speckled gradient map into a density (localisation).
//! It lives here, under both method crates, so that neither depends on the other for it.

/// Separable Gaussian blur of one `h × w` plane in place, edges repeated.
pub fn gaussian_blur(p: &mut [f32], h: usize, w: usize, sigma: f32) {
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = k.iter().sum();
    let k: Vec<f32> = k.iter().map(|v| v / sum).collect();
    let mut tmp = vec![0f32; h * w];
    convolve_1d(p, &mut tmp, h, w, &k, (1, 0));
    convolve_1d(&tmp, p, h, w, &k, (0, 1));
}

/// `dst = src` convolved with the odd kernel `k` along x (`step` (1, 0)) or y ((0, 1)),
/// edges repeated.
fn convolve_1d(src: &[f32], dst: &mut [f32], h: usize, w: usize, k: &[f32], step: (isize, isize)) {
    let r = (k.len() / 2) as isize;
    for y in 0..h as isize {
        for x in 0..w as isize {
            dst[y as usize * w + x as usize] = (-r..=r)
                .map(|i| {
                    let xx = (x + i * step.0).clamp(0, w as isize - 1) as usize;
                    let yy = (y + i * step.1).clamp(0, h as isize - 1) as usize;
                    k[(i + r) as usize] * src[yy * w + xx]
                })
                .sum();
        }
    }
}

/// A blurred copy of a 2-D map.
pub fn blurred(m: &ndarray::Array2<f32>, sigma: f32) -> ndarray::Array2<f32> {
    let (h, w) = m.dim();
    let mut v: Vec<f32> = m.iter().copied().collect();
    gaussian_blur(&mut v, h, w, sigma);
    ndarray::Array2::from_shape_vec((h, w), v).expect("same shape")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blur_keeps_constants_and_the_mean_of_a_spike() {
        let mut p = vec![2.0f32; 36];
        gaussian_blur(&mut p, 6, 6, 1.0);
        assert!(p.iter().all(|v| (v - 2.0).abs() < 1e-5));
        let mut s = vec![0f32; 121];
        s[60] = 1.0;
        gaussian_blur(&mut s, 11, 11, 1.0);
        let total: f32 = s.iter().sum();
        assert!((total - 1.0).abs() < 1e-4 && s[60] < 0.5 && s[60] > s[61]);
    }
}
