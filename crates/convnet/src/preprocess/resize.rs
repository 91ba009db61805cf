//! Pillow's antialiased bilinear resize (`Image.resize(size, BILINEAR)`), reproduced
//! value for value: a triangle filter whose support widens with the downscale factor,
//! weights normalised then quantised to 22-bit fixed point, a horizontal pass rounded to
//! uint8, then a vertical pass rounded to uint8. A float resize, or one without the
//! intermediate rounding, changes saliency maps of a sensitive network noticeably.
use image::RgbImage;

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Fixed-point filter taps of a 1-D resize: for each output index, the first input index
/// and its weights.
struct Taps {
    start: Vec<usize>,
    len: Vec<usize>,
    /// `ksize` weights per output index.
    weights: Vec<i32>,
    ksize: usize,
}

fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

fn taps(in_size: usize, out_size: usize) -> Taps {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = filter_scale; // the triangle's support is 1
    let ksize = support.ceil() as usize * 2 + 1;
    let mut t = Taps {
        start: Vec::with_capacity(out_size),
        len: Vec::with_capacity(out_size),
        weights: vec![0; out_size * ksize],
        ksize,
    };
    let mut w = vec![0f64; ksize];
    for o in 0..out_size {
        let center = (o as f64 + 0.5) * scale;
        // Truncation toward zero, then clamping, as the reference does with C casts.
        let lo = ((center - support + 0.5) as i64).max(0) as usize;
        let hi = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = hi.saturating_sub(lo);
        let mut sum = 0.0;
        for (i, wi) in w.iter_mut().enumerate().take(n) {
            *wi = triangle(((i + lo) as f64 - center + 0.5) / filter_scale);
            sum += *wi;
        }
        for (i, wi) in w.iter().enumerate().take(n) {
            let v = if sum != 0.0 { wi / sum } else { *wi };
            let fixed = v * (1u32 << PRECISION_BITS) as f64;
            t.weights[o * ksize + i] = if v < 0.0 {
                (fixed - 0.5) as i32
            } else {
                (fixed + 0.5) as i32
            };
        }
        t.start.push(lo);
        t.len.push(n);
    }
    t
}

#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

fn horizontal(src: &RgbImage, out_w: u32) -> RgbImage {
    let (w, h) = src.dimensions();
    let t = taps(w as usize, out_w as usize);
    let mut out = RgbImage::new(out_w, h);
    let s = src.as_raw();
    let o = &mut *out;
    for y in 0..h as usize {
        let row = &s[y * w as usize * 3..(y + 1) * w as usize * 3];
        for x in 0..out_w as usize {
            let k = &t.weights[x * t.ksize..x * t.ksize + t.len[x]];
            let mut acc = [1i32 << (PRECISION_BITS - 1); 3];
            for (i, &kv) in k.iter().enumerate() {
                let p = (t.start[x] + i) * 3;
                for c in 0..3 {
                    acc[c] += row[p + c] as i32 * kv;
                }
            }
            let d = (y * out_w as usize + x) * 3;
            for c in 0..3 {
                o[d + c] = clip8(acc[c]);
            }
        }
    }
    out
}

fn vertical(src: &RgbImage, out_h: u32) -> RgbImage {
    let (w, h) = src.dimensions();
    let t = taps(h as usize, out_h as usize);
    let mut out = RgbImage::new(w, out_h);
    let s = src.as_raw();
    let o = &mut *out;
    let stride = w as usize * 3;
    for y in 0..out_h as usize {
        let k = &t.weights[y * t.ksize..y * t.ksize + t.len[y]];
        for xc in 0..stride {
            let mut acc = 1i32 << (PRECISION_BITS - 1);
            for (i, &kv) in k.iter().enumerate() {
                acc += s[(t.start[y] + i) * stride + xc] as i32 * kv;
            }
            o[y * stride + xc] = clip8(acc);
        }
    }
    out
}

/// Resizes `img` to `width × height` exactly as Pillow's `resize((width, height), BILINEAR)`.
/// A dimension that does not change is not filtered.
pub fn pillow_bilinear(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let mut out = if w != width {
        horizontal(img, width)
    } else {
        img.clone()
    };
    if h != height {
        out = vertical(&out, height);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_is_identity_and_constant_stays_constant() {
        let img = RgbImage::from_fn(9, 7, |x, y| image::Rgb([(x * 20) as u8, (y * 30) as u8, 5]));
        assert_eq!(pillow_bilinear(&img, 9, 7), img);
        let flat = RgbImage::from_pixel(227, 227, image::Rgb([200, 13, 255]));
        let r = pillow_bilinear(&flat, 224, 224);
        assert!(r.pixels().all(|p| p.0 == [200, 13, 255]));
    }

    #[test]
    fn downscale_by_two_averages_with_the_widened_triangle() {
        // 4 → 2: scale 2, so the triangle's support widens to 2; output 0 centres at 1.0.
        let img = RgbImage::from_fn(4, 1, |x, _| image::Rgb([[0, 0, 80, 80][x as usize]; 3]));
        let r = pillow_bilinear(&img, 2, 1);
        // Output 0: inputs 0,1,2 with weights 0.75, 0.75, 0.25 over sum 1.75 (input 3 at
        // distance 2.5 is outside the support) → 80·0.25/1.75 = 11.43 → 11.
        assert_eq!(r.get_pixel(0, 0).0[0], 11);
        // Output 1 mirrors it: 80·(0.25·0 + 0.75 + 0.75)/1.75 = 68.57 → 69.
        assert_eq!(r.get_pixel(1, 0).0[0], 69);
    }

    #[test]
    fn taps_are_normalised_to_one_in_fixed_point() {
        let t = taps(227, 224);
        for o in 0..224 {
            let s: i64 = t.weights[o * t.ksize..o * t.ksize + t.len[o]]
                .iter()
                .map(|&v| v as i64)
                .sum();
            assert!(
                (s - (1 << PRECISION_BITS)).abs() <= t.len[o] as i64,
                "output {o}: {s}"
            );
        }
    }
}
