//! libjpeg's YCbCr → RGB conversion (`jdcolor.c`, `ycc_rgb_convert`): the same fixed-point
//! tables (16 fraction bits, rounding constants included) and the same clamping, so the
//! result is bit-identical; written as one pass over the three planes.

const SCALEBITS: u32 = 16;
const ONE_HALF: i32 = 1 << (SCALEBITS - 1);

/// `FIX(x)` of `jdcolor.c`.
const fn fix(x: f64) -> i32 {
    (x * (1u32 << SCALEBITS) as f64 + 0.5) as i32
}

/// The four lookup tables of `build_ycc_rgb_table`, indexed by the chroma sample.
struct Tables {
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i32; 256],
    cb_g: [i32; 256],
}

fn tables() -> &'static Tables {
    static T: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let x = |i: usize| i as i32 - 128;
        Tables {
            cr_r: std::array::from_fn(|i| (fix(1.40200) * x(i) + ONE_HALF) >> SCALEBITS),
            cb_b: std::array::from_fn(|i| (fix(1.77200) * x(i) + ONE_HALF) >> SCALEBITS),
            cr_g: std::array::from_fn(|i| -fix(0.71414) * x(i)),
            cb_g: std::array::from_fn(|i| -fix(0.34414) * x(i) + ONE_HALF),
        }
    })
}

/// Interleaved RGB from full-size Y, Cb and Cr planes of equal length.
pub fn ycc_to_rgb(y: &[u8], cb: &[u8], cr: &[u8], rgb: &mut [u8]) {
    let mut start = 0;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        start = unsafe { avx2::ycc_to_rgb(y, cb, cr, rgb) };
    }
    let t = tables();
    let clamp = |v: i32| v.clamp(0, 255) as u8;
    let rgb = &mut rgb[3 * start..];
    let (y, cb, cr) = (&y[start..], &cb[start..], &cr[start..]);
    for (((px, &y), &cb), &cr) in rgb.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
        let (y, cb, cr) = (y as i32, cb as usize, cr as usize);
        px[0] = clamp(y + t.cr_r[cr]);
        px[1] = clamp(y + ((t.cb_g[cb] + t.cr_g[cr]) >> SCALEBITS));
        px[2] = clamp(y + t.cb_b[cb]);
    }
}

/// The tables' entries computed instead of looked up, sixteen pixels at a time: each table
/// entry is one product, a rounding constant and a shift, so the same integer arithmetic in
/// 32-bit lanes gives exactly the table's value.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{fix, ONE_HALF, SCALEBITS};
    use std::arch::x86_64::*;

    /// Eight pixels' R, G, B in 32-bit lanes, not yet clamped.
    #[inline(always)]
    unsafe fn eight(y: __m128i, cb: __m128i, cr: __m128i) -> [__m256i; 3] {
        let c128 = _mm256_set1_epi32(128);
        let y = _mm256_cvtepu8_epi32(y);
        let cb = _mm256_sub_epi32(_mm256_cvtepu8_epi32(cb), c128);
        let cr = _mm256_sub_epi32(_mm256_cvtepu8_epi32(cr), c128);
        const CR_R: i32 = fix(1.40200);
        const CB_B: i32 = fix(1.77200);
        const CB_G: i32 = fix(0.34414);
        const CR_G: i32 = fix(0.71414);
        let half = _mm256_set1_epi32(ONE_HALF);
        let k = _mm256_set1_epi32;
        let r = _mm256_srai_epi32::<16>(_mm256_add_epi32(_mm256_mullo_epi32(k(CR_R), cr), half));
        let b = _mm256_srai_epi32::<16>(_mm256_add_epi32(_mm256_mullo_epi32(k(CB_B), cb), half));
        let g = _mm256_srai_epi32::<16>(_mm256_sub_epi32(
            _mm256_sub_epi32(half, _mm256_mullo_epi32(k(CB_G), cb)),
            _mm256_mullo_epi32(k(CR_G), cr),
        ));
        debug_assert_eq!(SCALEBITS, 16);
        [
            _mm256_add_epi32(y, r),
            _mm256_add_epi32(y, g),
            _mm256_add_epi32(y, b),
        ]
    }

    /// Sixteen clamped bytes from two vectors of eight 32-bit lanes, in order.
    #[inline(always)]
    unsafe fn bytes(lo: __m256i, hi: __m256i) -> __m128i {
        let w = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(lo, hi));
        let b = _mm256_packus_epi16(w, w);
        _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b00_00_10_00>(b))
    }

    /// Byte `k` of each 16-byte output takes channel `k % 3` of pixel `k / 3`: one shuffle
    /// mask per output block and channel (-1 leaves a zero).
    const fn mask(block: usize, channel: usize) -> [i8; 16] {
        let mut m = [-1i8; 16];
        let mut k = 0;
        while k < 16 {
            let byte = block * 16 + k;
            if byte % 3 == channel {
                m[k] = (byte / 3) as i8;
            }
            k += 1;
        }
        m
    }

    /// Eight bytes of `p` from `at` (in bounds: the caller checks `at + 8 <= p.len()`).
    #[inline(always)]
    unsafe fn load8(p: &[u8], at: usize) -> __m128i {
        _mm_loadl_epi64(p.as_ptr().add(at).cast())
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn ycc_to_rgb(y: &[u8], cb: &[u8], cr: &[u8], rgb: &mut [u8]) -> usize {
        let n = y.len().min(cb.len()).min(cr.len()).min(rgb.len() / 3);
        let masks: [[__m128i; 3]; 3] = std::array::from_fn(|block| {
            std::array::from_fn(|ch| _mm_loadu_si128(mask(block, ch).as_ptr().cast()))
        });
        let mut i = 0;
        while i + 16 <= n {
            let lo = eight(load8(y, i), load8(cb, i), load8(cr, i));
            let hi = eight(load8(y, i + 8), load8(cb, i + 8), load8(cr, i + 8));
            let ch = [
                bytes(lo[0], hi[0]),
                bytes(lo[1], hi[1]),
                bytes(lo[2], hi[2]),
            ];
            for (block, m) in masks.iter().enumerate() {
                let v = _mm_or_si128(
                    _mm_or_si128(_mm_shuffle_epi8(ch[0], m[0]), _mm_shuffle_epi8(ch[1], m[1])),
                    _mm_shuffle_epi8(ch[2], m[2]),
                );
                _mm_storeu_si128(rgb.as_mut_ptr().add(3 * i + 16 * block).cast(), v);
            }
            i += 16;
        }
        i
    }
}

/// Interleaved RGB from a grayscale plane (`gray_rgb_convert`: each sample three times).
pub fn gray_to_rgb(y: &[u8], rgb: &mut [u8]) {
    for (px, &v) in rgb.chunks_exact_mut(3).zip(y) {
        px.fill(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutral_chroma_keeps_the_luma_and_pure_red_comes_back() {
        let mut rgb = [0u8; 6];
        ycc_to_rgb(&[0, 200], &[128, 128], &[128, 128], &mut rgb);
        assert_eq!(rgb, [0, 0, 0, 200, 200, 200]);
        // JFIF's YCbCr of (255, 0, 0) is (76, 85, 255): libjpeg gives (254, 0, 0).
        ycc_to_rgb(&[76], &[85], &[255], &mut rgb[..3]);
        assert_eq!(&rgb[..3], &[254, 0, 0]);
        // Every (Y, Cb, Cr) through the vector path (rows of 16 and more) equals the tables.
        let t = tables();
        let clamp = |v: i32| v.clamp(0, 255) as u8;
        for yv in (0..256).step_by(5) {
            let cb: Vec<u8> = (0..=255).collect();
            for crv in (0..256).step_by(3) {
                let y = vec![yv as u8; 256];
                let cr = vec![crv as u8; 256];
                let mut rgb = vec![0u8; 256 * 3];
                ycc_to_rgb(&y, &cb, &cr, &mut rgb);
                for (i, px) in rgb.chunks_exact(3).enumerate() {
                    let want = [
                        clamp(yv + t.cr_r[crv]),
                        clamp(yv + ((t.cb_g[i] + t.cr_g[crv]) >> SCALEBITS)),
                        clamp(yv + t.cb_b[i]),
                    ];
                    assert_eq!(px, want, "y {yv} cb {i} cr {crv}");
                }
            }
        }
    }
}
