//! Smoothing of maps: a separable Gaussian blur, used to regularise class models during
//! ascent (synthesis) and to turn a speckled gradient map into a density (localisation).
//! It lives here, under both method crates, so that neither depends on the other for it.

/// The normalised Gaussian kernel of radius ⌈3σ⌉. imageproc's `gaussian_blur_f32`
/// truncates at 2σ (4.6 % of the mass cut off), so its values would differ from the blur
/// the class-model settings were chosen with; its separable filter does the rest.
fn kernel(sigma: f32) -> Vec<f32> {
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = k.iter().sum();
    k.iter().map(|v| v / sum).collect()
}

/// Separable Gaussian blur of one `h × w` plane in place, edges repeated: imageproc's
/// separable filter (rows, then columns) with the kernel above.
pub fn gaussian_blur(p: &mut [f32], h: usize, w: usize, sigma: f32) {
    let plane: image::ImageBuffer<image::Luma<f32>, Vec<f32>> =
        image::ImageBuffer::from_raw(w as u32, h as u32, p.to_vec()).expect("h × w values");
    let out = imageproc::filter::separable_filter_equal(&plane, &kernel(sigma));
    p.copy_from_slice(out.as_raw());
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

    /// The hand-written blur this replaced, for the record that the values are unchanged.
    fn reference(p: &[f32], h: usize, w: usize, sigma: f32) -> Vec<f32> {
        let k = kernel(sigma);
        let r = (k.len() / 2) as isize;
        let pass = |src: &[f32], step: (isize, isize)| -> Vec<f32> {
            (0..h * w)
                .map(|i| {
                    let (y, x) = ((i / w) as isize, (i % w) as isize);
                    (-r..=r)
                        .map(|j| {
                            let xx = (x + j * step.0).clamp(0, w as isize - 1) as usize;
                            let yy = (y + j * step.1).clamp(0, h as isize - 1) as usize;
                            k[(j + r) as usize] * src[yy * w + xx]
                        })
                        .sum()
                })
                .collect()
        };
        pass(&pass(p, (1, 0)), (0, 1))
    }

    #[test]
    fn blur_equals_the_hand_written_one_bit_for_bit() {
        let (h, w) = (37, 53);
        let p: Vec<f32> = (0..h * w)
            .map(|i| ((i * 7919) % 101) as f32 - 50.0)
            .collect();
        for sigma in [0.5, 1.0, 2.5, 8.0] {
            let mut q = p.clone();
            gaussian_blur(&mut q, h, w, sigma);
            assert_eq!(q, reference(&p, h, w, sigma), "sigma {sigma}");
        }
    }

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
