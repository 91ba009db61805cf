//! libjpeg's accurate integer inverse DCT ("islow", `jidctint.c`), eight lanes at a time.
//!
//! libjpeg-turbo runs this transform as nasm SIMD; built without nasm, its C version runs
//! one column and one row at a time and took 30 % of the decode. Here each pass runs the C
//! code's integer arithmetic on eight columns (then eight rows) at once, in `[i32; 8]` lanes
//! that the compiler turns into AVX2 (or SSE2) instructions. Every lane computes exactly
//! what the C code computes for its column, so the samples are bit-identical, as long as no
//! 32-bit intermediate overflows: blocks whose inputs could overflow (never real images)
//! take [`scalar`], a line-by-line transcription of the C code with its 64-bit products.
//! libjpeg's shortcuts for all-zero columns and rows give exactly what the full
//! computation gives (they are there for speed), so the lanes skip them.

/// Fixed-point constants of `jidctint.c` (CONST_BITS = 13).
const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;
const FIX_0_298631336: i32 = 2446;
const FIX_0_390180644: i32 = 3196;
const FIX_0_541196100: i32 = 4433;
const FIX_0_765366865: i32 = 6270;
const FIX_0_899976223: i32 = 7373;
const FIX_1_175875602: i32 = 9633;
const FIX_1_501321110: i32 = 12299;
const FIX_1_847759065: i32 = 15137;
const FIX_1_961570560: i32 = 16069;
const FIX_2_053119869: i32 = 16819;
const FIX_2_562915447: i32 = 20995;
const FIX_3_072711026: i32 = 25172;

/// The largest input magnitude of either pass for which no 32-bit intermediate overflows:
/// each output sums its inputs with multipliers of at most 2^18.2 in total, and
/// 6000 · 2^18.2 < 2^31. Real images stay far below (DC ≤ 1024 · 4 after pass 1).
const LANE_SAFE: i32 = 6000;

type V = [i32; 8];

#[inline(always)]
fn add(a: V, b: V) -> V {
    std::array::from_fn(|i| a[i].wrapping_add(b[i]))
}

#[inline(always)]
fn sub(a: V, b: V) -> V {
    std::array::from_fn(|i| a[i].wrapping_sub(b[i]))
}

#[inline(always)]
fn mul(a: V, c: i32) -> V {
    std::array::from_fn(|i| a[i].wrapping_mul(c))
}

#[inline(always)]
fn shl(a: V, n: u32) -> V {
    std::array::from_fn(|i| a[i].wrapping_shl(n))
}

/// `DESCALE(x, n)`: round to nearest by adding half, then an arithmetic shift.
#[inline(always)]
fn descale(a: V, n: u32) -> V {
    std::array::from_fn(|i| a[i].wrapping_add(1 << (n - 1)) >> n)
}

/// One 1-D pass of `jidctint.c` over eight lanes: `x[k]` holds input `k` of each lane; the
/// result `[k]` is output `k`, descaled by `shift`.
#[inline(always)]
fn pass(x: &[V; 8], shift: u32) -> [V; 8] {
    // Even part: the rotator is sqrt(2) * c(-6).
    let (z2, z3) = (x[2], x[6]);
    let z1 = mul(add(z2, z3), FIX_0_541196100);
    let tmp2 = add(z1, mul(z3, -FIX_1_847759065));
    let tmp3 = add(z1, mul(z2, FIX_0_765366865));
    let tmp0 = shl(add(x[0], x[4]), CONST_BITS);
    let tmp1 = shl(sub(x[0], x[4]), CONST_BITS);
    let (tmp10, tmp13) = (add(tmp0, tmp3), sub(tmp0, tmp3));
    let (tmp11, tmp12) = (add(tmp1, tmp2), sub(tmp1, tmp2));
    // Odd part (figure 8 of the C code).
    let (t0, t1, t2, t3) = (x[7], x[5], x[3], x[1]);
    let (z1, z2) = (add(t0, t3), add(t1, t2));
    let (z3, z4) = (add(t0, t2), add(t1, t3));
    let z5 = mul(add(z3, z4), FIX_1_175875602);
    let t0 = mul(t0, FIX_0_298631336);
    let t1 = mul(t1, FIX_2_053119869);
    let t2 = mul(t2, FIX_3_072711026);
    let t3 = mul(t3, FIX_1_501321110);
    let z1 = mul(z1, -FIX_0_899976223);
    let z2 = mul(z2, -FIX_2_562915447);
    let z3 = add(mul(z3, -FIX_1_961570560), z5);
    let z4 = add(mul(z4, -FIX_0_390180644), z5);
    let t0 = add(t0, add(z1, z3));
    let t1 = add(t1, add(z2, z4));
    let t2 = add(t2, add(z2, z3));
    let t3 = add(t3, add(z1, z4));
    [
        descale(add(tmp10, t3), shift),
        descale(add(tmp11, t2), shift),
        descale(add(tmp12, t1), shift),
        descale(add(tmp13, t0), shift),
        descale(sub(tmp13, t0), shift),
        descale(sub(tmp12, t1), shift),
        descale(sub(tmp11, t2), shift),
        descale(sub(tmp10, t3), shift),
    ]
}

#[inline(always)]
fn transpose(m: &[V; 8]) -> [V; 8] {
    std::array::from_fn(|r| std::array::from_fn(|c| m[c][r]))
}

#[inline(always)]
fn max_abs(m: &[V; 8]) -> i32 {
    m.iter()
        .flat_map(|v| v.iter())
        .fold(0, |a, &x| a.max(x.wrapping_abs()))
}

/// `IDCT_range_limit` of `jdmaster.c` for a descaled output `x`: the table's index is
/// `x & 1023`, and it maps [-128, 127] to [0, 255], saturates up to ±512 and wraps past it.
#[inline(always)]
fn range_limit(x: i32) -> u8 {
    let wrapped = ((x + 512) & 1023) - 512;
    (wrapped + 128).clamp(0, 255) as u8
}

/// Inverse-transforms one block of quantised coefficients (natural order) with its
/// quantisation table into 8 rows of 8 samples at `out[row * stride ..]`.
#[inline(always)]
fn block_lanes(coef: &[i16; 64], quant: &[i32; 64], out: &mut [u8], stride: usize) {
    // Pass 1 over columns: lane c of input k is coefficient (k, c).
    let x: [V; 8] =
        std::array::from_fn(|k| std::array::from_fn(|c| coef[k * 8 + c] as i32 * quant[k * 8 + c]));
    if max_abs(&x) >= LANE_SAFE {
        return scalar(coef, quant, out, stride);
    }
    let ws = pass(&x, CONST_BITS - PASS1_BITS);
    if max_abs(&ws) >= LANE_SAFE {
        return scalar(coef, quant, out, stride);
    }
    // Pass 2 over rows: lane r of input j is workspace (r, j).
    let y = pass(&transpose(&ws), CONST_BITS + PASS1_BITS + 3);
    let rows = transpose(&y);
    for (r, row) in rows.iter().enumerate() {
        let dst = &mut out[r * stride..r * stride + 8];
        for (d, &v) in dst.iter_mut().zip(row) {
            *d = range_limit(v);
        }
    }
}

/// Inverse-transforms a row of blocks side by side into 8 rows of `out` (`stride` apart,
/// block `i` at column `8 i`).
pub fn blocks(blocks: &[[i16; 64]], quant: &[i32; 64], out: &mut [u8], stride: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { avx2::blocks(blocks, quant, out, stride) };
    }
    for (i, b) in blocks.iter().enumerate() {
        block_lanes(b, quant, &mut out[i * 8..], stride);
    }
}

/// The lanes as AVX2 registers: one `__m256i` per input, the same operations as [`pass`].
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn m(c: i32) -> __m256i {
        _mm256_set1_epi32(c)
    }

    #[inline(always)]
    unsafe fn descale<const N: i32>(a: __m256i) -> __m256i {
        _mm256_srai_epi32::<N>(_mm256_add_epi32(a, m(1 << (N - 1))))
    }

    #[inline(always)]
    unsafe fn pass<const N: i32>(x: &[__m256i; 8]) -> [__m256i; 8] {
        let (add, sub, mul) = (_mm256_add_epi32, _mm256_sub_epi32, _mm256_mullo_epi32);
        let (z2, z3) = (x[2], x[6]);
        let z1 = mul(add(z2, z3), m(FIX_0_541196100));
        let tmp2 = add(z1, mul(z3, m(-FIX_1_847759065)));
        let tmp3 = add(z1, mul(z2, m(FIX_0_765366865)));
        let tmp0 = _mm256_slli_epi32::<13>(add(x[0], x[4]));
        let tmp1 = _mm256_slli_epi32::<13>(sub(x[0], x[4]));
        let (tmp10, tmp13) = (add(tmp0, tmp3), sub(tmp0, tmp3));
        let (tmp11, tmp12) = (add(tmp1, tmp2), sub(tmp1, tmp2));
        let (t0, t1, t2, t3) = (x[7], x[5], x[3], x[1]);
        let (z1, z2) = (add(t0, t3), add(t1, t2));
        let (z3, z4) = (add(t0, t2), add(t1, t3));
        let z5 = mul(add(z3, z4), m(FIX_1_175875602));
        let t0 = mul(t0, m(FIX_0_298631336));
        let t1 = mul(t1, m(FIX_2_053119869));
        let t2 = mul(t2, m(FIX_3_072711026));
        let t3 = mul(t3, m(FIX_1_501321110));
        let z1 = mul(z1, m(-FIX_0_899976223));
        let z2 = mul(z2, m(-FIX_2_562915447));
        let z3 = add(mul(z3, m(-FIX_1_961570560)), z5);
        let z4 = add(mul(z4, m(-FIX_0_390180644)), z5);
        let t0 = add(t0, add(z1, z3));
        let t1 = add(t1, add(z2, z4));
        let t2 = add(t2, add(z2, z3));
        let t3 = add(t3, add(z1, z4));
        [
            descale::<N>(add(tmp10, t3)),
            descale::<N>(add(tmp11, t2)),
            descale::<N>(add(tmp12, t1)),
            descale::<N>(add(tmp13, t0)),
            descale::<N>(sub(tmp13, t0)),
            descale::<N>(sub(tmp12, t1)),
            descale::<N>(sub(tmp11, t2)),
            descale::<N>(sub(tmp10, t3)),
        ]
    }

    #[inline(always)]
    unsafe fn transpose(r: [__m256i; 8]) -> [__m256i; 8] {
        let a0 = _mm256_unpacklo_epi32(r[0], r[1]);
        let a1 = _mm256_unpackhi_epi32(r[0], r[1]);
        let a2 = _mm256_unpacklo_epi32(r[2], r[3]);
        let a3 = _mm256_unpackhi_epi32(r[2], r[3]);
        let a4 = _mm256_unpacklo_epi32(r[4], r[5]);
        let a5 = _mm256_unpackhi_epi32(r[4], r[5]);
        let a6 = _mm256_unpacklo_epi32(r[6], r[7]);
        let a7 = _mm256_unpackhi_epi32(r[6], r[7]);
        let b0 = _mm256_unpacklo_epi64(a0, a2);
        let b1 = _mm256_unpackhi_epi64(a0, a2);
        let b2 = _mm256_unpacklo_epi64(a1, a3);
        let b3 = _mm256_unpackhi_epi64(a1, a3);
        let b4 = _mm256_unpacklo_epi64(a4, a6);
        let b5 = _mm256_unpackhi_epi64(a4, a6);
        let b6 = _mm256_unpacklo_epi64(a5, a7);
        let b7 = _mm256_unpackhi_epi64(a5, a7);
        [
            _mm256_permute2x128_si256::<0x20>(b0, b4),
            _mm256_permute2x128_si256::<0x20>(b1, b5),
            _mm256_permute2x128_si256::<0x20>(b2, b6),
            _mm256_permute2x128_si256::<0x20>(b3, b7),
            _mm256_permute2x128_si256::<0x31>(b0, b4),
            _mm256_permute2x128_si256::<0x31>(b1, b5),
            _mm256_permute2x128_si256::<0x31>(b2, b6),
            _mm256_permute2x128_si256::<0x31>(b3, b7),
        ]
    }

    /// Whether every lane of every vector is below [`LANE_SAFE`] in magnitude.
    #[inline(always)]
    unsafe fn safe(v: &[__m256i; 8]) -> bool {
        let mut mx = _mm256_abs_epi32(v[0]);
        for x in &v[1..] {
            mx = _mm256_max_epi32(mx, _mm256_abs_epi32(*x));
        }
        // abs(i32::MIN) stays negative: compare as unsigned through the sign bit too.
        let over = _mm256_or_si256(
            _mm256_cmpgt_epi32(mx, m(LANE_SAFE - 1)),
            _mm256_cmpgt_epi32(m(0), mx),
        );
        _mm256_testz_si256(over, over) == 1
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn blocks(blocks: &[[i16; 64]], quant: &[i32; 64], out: &mut [u8], stride: usize) {
        let q: [__m256i; 8] =
            std::array::from_fn(|k| _mm256_loadu_si256(quant.as_ptr().add(k * 8).cast()));
        assert!(out.len() >= 7 * stride + blocks.len() * 8);
        // Every lane but the DC coefficient's.
        let ac_mask = _mm256_setr_epi16(
            0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        );
        for (i, b) in blocks.iter().enumerate() {
            // A block with no AC coefficient is flat: the C code's zero-column and zero-row
            // shortcuts give range_limit(DESCALE(DC · q << PASS1_BITS, PASS1_BITS + 3)).
            let p = b.as_ptr().cast::<__m256i>();
            let ac = _mm256_or_si256(
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_loadu_si256(p), ac_mask),
                    _mm256_loadu_si256(p.add(1)),
                ),
                _mm256_or_si256(_mm256_loadu_si256(p.add(2)), _mm256_loadu_si256(p.add(3))),
            );
            if _mm256_testz_si256(ac, ac) == 1 {
                let dc = (b[0] as i32)
                    .wrapping_mul(quant[0])
                    .wrapping_shl(PASS1_BITS);
                let v = range_limit(dc.wrapping_add(1 << (PASS1_BITS + 2)) >> (PASS1_BITS + 3));
                for r in 0..8 {
                    out[r * stride + i * 8..r * stride + i * 8 + 8].fill(v);
                }
                continue;
            }
            let x: [__m256i; 8] = std::array::from_fn(|k| {
                let row = _mm_loadu_si128(b.as_ptr().add(k * 8).cast());
                _mm256_mullo_epi32(_mm256_cvtepi16_epi32(row), q[k])
            });
            if !safe(&x) {
                scalar(b, quant, &mut out[i * 8..], stride);
                continue;
            }
            let ws = pass::<11>(&x);
            if !safe(&ws) {
                scalar(b, quant, &mut out[i * 8..], stride);
                continue;
            }
            let y = transpose(pass::<18>(&transpose(ws)));
            for (r, v) in y.iter().enumerate() {
                // range_limit: wrap to [-512, 511], shift by 128, saturate to u8.
                let w = _mm256_sub_epi32(
                    _mm256_and_si256(_mm256_add_epi32(*v, m(512)), m(1023)),
                    m(512 - 128),
                );
                let w16 = _mm256_packs_epi32(w, w); // i16 lanes 0..3 | 4..7 per half
                let w8 = _mm256_packus_epi16(w16, w16);
                let lo = _mm256_castsi256_si128(w8);
                let hi = _mm256_extracti128_si256::<1>(w8);
                let bytes = _mm_unpacklo_epi32(lo, hi);
                let dst = out.as_mut_ptr().add(r * stride + i * 8);
                _mm_storel_epi64(dst.cast(), bytes);
            }
        }
    }
}

/// `jpeg_idct_islow` line by line: 64-bit products, 32-bit workspace, the zero shortcuts.
/// For blocks whose values could overflow the lanes.
fn scalar(coef: &[i16; 64], quant: &[i32; 64], out: &mut [u8], stride: usize) {
    let descale = |x: i64, n: u32| (x + (1i64 << (n - 1))) >> n;
    let mut ws = [0i32; 64];
    for c in 0..8 {
        let q = |k: usize| (coef[k * 8 + c] as i32).wrapping_mul(quant[k * 8 + c]) as i64;
        if (1..8).all(|k| coef[k * 8 + c] == 0) {
            let dc = (q(0) as i32).wrapping_shl(PASS1_BITS);
            for k in 0..8 {
                ws[k * 8 + c] = dc;
            }
            continue;
        }
        let o = odd_even([q(0), q(1), q(2), q(3), q(4), q(5), q(6), q(7)]);
        for k in 0..8 {
            ws[k * 8 + c] = descale(o[k], CONST_BITS - PASS1_BITS) as i32;
        }
    }
    for r in 0..8 {
        let w = &ws[r * 8..r * 8 + 8];
        let dst = &mut out[r * stride..r * stride + 8];
        if w[1..].iter().all(|&v| v == 0) {
            let v = range_limit(descale(w[0] as i64, PASS1_BITS + 3) as i32);
            dst.fill(v);
            continue;
        }
        let o = odd_even(std::array::from_fn(|j| w[j] as i64));
        for (d, &v) in dst.iter_mut().zip(&o) {
            *d = range_limit(descale(v, CONST_BITS + PASS1_BITS + 3) as i32);
        }
    }
}

/// The C code's butterfly on one column or row, in 64 bits, before descaling.
fn odd_even(x: [i64; 8]) -> [i64; 8] {
    let f = |c: i32| c as i64;
    let z1 = (x[2] + x[6]) * f(FIX_0_541196100);
    let tmp2 = z1 + x[6] * -f(FIX_1_847759065);
    let tmp3 = z1 + x[2] * f(FIX_0_765366865);
    let tmp0 = (x[0] + x[4]) << CONST_BITS;
    let tmp1 = (x[0] - x[4]) << CONST_BITS;
    let (tmp10, tmp13, tmp11, tmp12) = (tmp0 + tmp3, tmp0 - tmp3, tmp1 + tmp2, tmp1 - tmp2);
    let (t0, t1, t2, t3) = (x[7], x[5], x[3], x[1]);
    let (z1, z2, z3, z4) = (t0 + t3, t1 + t2, t0 + t2, t1 + t3);
    let z5 = (z3 + z4) * f(FIX_1_175875602);
    let (t0, t1) = (t0 * f(FIX_0_298631336), t1 * f(FIX_2_053119869));
    let (t2, t3) = (t2 * f(FIX_3_072711026), t3 * f(FIX_1_501321110));
    let z1 = z1 * -f(FIX_0_899976223);
    let z2 = z2 * -f(FIX_2_562915447);
    let z3 = z3 * -f(FIX_1_961570560) + z5;
    let z4 = z4 * -f(FIX_0_390180644) + z5;
    let (t0, t1, t2, t3) = (t0 + z1 + z3, t1 + z2 + z4, t2 + z2 + z3, t3 + z1 + z4);
    [
        tmp10 + t3,
        tmp11 + t2,
        tmp12 + t1,
        tmp13 + t0,
        tmp13 - t0,
        tmp12 - t1,
        tmp11 - t2,
        tmp10 - t3,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random block with coefficients up to `amp` and a quant table.
    fn block(seed: u64, amp: i32) -> ([i16; 64], [i32; 64]) {
        let mut s = seed;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as i32
        };
        let coef = std::array::from_fn(|i| {
            let v = next() % (2 * amp + 1) - amp;
            // Amplitude 0: a DC-only block (the flat shortcut). Otherwise sparse, as in
            // real images: most high frequencies zero.
            if amp == 0 {
                if i == 0 {
                    (next() % 4001 - 2000) as i16
                } else {
                    0
                }
            } else if i > 20 && next() % 3 != 0 {
                0
            } else {
                v as i16
            }
        });
        let quant = std::array::from_fn(|_| 1 + next() % 40);
        (coef, quant)
    }

    #[test]
    fn lanes_equal_the_c_code_including_overflowing_blocks() {
        for seed in 0..3000u64 {
            // Small blocks take the lanes; large ones fall back to the scalar C code.
            let amp = [0, 8, 60, 300, 2000, 32000][seed as usize % 6];
            let (coef, quant) = block(seed, amp);
            let (mut a, mut b, mut c) = ([0u8; 64], [0u8; 64], [0u8; 64]);
            blocks(&[coef], &quant, &mut a, 8); // AVX2 where the CPU has it
            block_lanes(&coef, &quant, &mut b, 8); // the portable lanes
            scalar(&coef, &quant, &mut c, 8);
            assert_eq!(a, c, "seed {seed}, amplitude {amp}");
            assert_eq!(b, c, "seed {seed}, amplitude {amp}");
        }
    }

    #[test]
    fn a_dc_only_block_is_flat_and_the_range_limit_wraps_like_libjpeg() {
        let mut coef = [0i16; 64];
        coef[0] = 40; // DC 40 × quant 4 = 160 → (160 · 4 + 16) >> 5 = 20 → sample 148
        let mut out = [0u8; 64];
        blocks(&[coef], &[4; 64], &mut out, 8);
        assert!(out.iter().all(|&v| v == 148), "{out:?}");
        assert_eq!(
            [-600, -512, -129, -128, 0, 127, 128, 511, 512, 600].map(range_limit),
            [255, 0, 0, 0, 128, 255, 255, 255, 0, 0]
        );
    }
}
