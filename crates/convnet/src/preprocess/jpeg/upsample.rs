//! libjpeg's "fancy" chroma upsampling (`jdsample.c`): triangle filters for 2:1 horizontal
//! (`h2v1`), 2:1 vertical (`h1v2`) and both (`h2v2`), with the edge rows and columns
//! replicated as `jdmainct.c` provides them; and plain replication where libjpeg uses it
//! (a component only one or two samples wide). Bit-identical to the C code: the same integer
//! sums, biases and shifts, written over whole rows so that the compiler vectorises them.

/// A component's samples: `width × height` valid samples, rows `stride` apart.
pub struct Plane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: usize,
    pub height: usize,
}

impl Plane<'_> {
    /// Row `y`, clamped to the plane: the row above the first is the first, the row below
    /// the last is the last (libjpeg's context rows at the image's edges).
    fn row(&self, y: isize) -> &[u8] {
        let y = y.clamp(0, self.height as isize - 1) as usize;
        &self.data[y * self.stride..y * self.stride + self.width]
    }
}

/// Scratch space for upsampling one component row by row.
pub struct Rows {
    /// Column sums (or samples) with the edge ones repeated: t[0] = t[1], t[n + 1] = t[n].
    t: Vec<u16>,
    /// One upsampled row.
    wide: Vec<u8>,
}

impl Rows {
    pub fn new(p: &Plane) -> Self {
        Rows {
            t: vec![0; p.width + 2],
            wide: vec![0; p.width * 2],
        }
    }

    /// Output row `oy` of `p` upsampled by `(h, v)` ∈ {1, 2}² (at least as wide as the
    /// image; libjpeg cuts it to the output width).
    pub fn row<'a>(&'a mut self, p: &'a Plane, (h, v): (usize, usize), oy: usize) -> &'a [u8] {
        let fancy_h = h == 2 && p.width > 2;
        let y = (oy / v) as isize;
        let (t, wide) = (&mut self.t, &mut self.wide);
        if v == 1 {
            let src = p.row(y);
            if h == 1 {
                return src;
            }
            if fancy_h {
                // h2v1: (3 · nearer + farther + 1 or 2) >> 2.
                for (d, &s) in t[1..].iter_mut().zip(src) {
                    *d = s as u16;
                }
                pad(t);
                pairs(t, wide, 1, 2, 2);
            } else {
                replicate_row(src, wide);
            }
            return wide;
        }
        // Vertical 2:1: output row 2y takes the row above as its farther neighbour, 2y + 1
        // the row below (libjpeg's "next nearest" rows).
        let below = oy % 2 == 1;
        let near = p.row(y);
        let far = p.row(if below { y + 1 } else { y - 1 });
        if h == 1 {
            // h1v2: (3 · near + far + bias) >> 2, bias 1 above and 2 below.
            let bias = if below { 2 } else { 1 };
            for (d, (&a, &b)) in wide.iter_mut().zip(near.iter().zip(far)) {
                *d = ((a as u16 * 3 + b as u16 + bias) >> 2) as u8;
            }
            return &wide[..p.width];
        }
        if fancy_h {
            // h2v2: horizontal triangle over the column sums 3 · near + far, >> 4.
            for (d, (&a, &b)) in t[1..].iter_mut().zip(near.iter().zip(far)) {
                *d = a as u16 * 3 + b as u16;
            }
            pad(t);
            pairs(t, wide, 8, 7, 4);
        } else {
            replicate_row(near, wide);
        }
        wide
    }
}

/// The whole upsampled component, `out_w × out_h`, row by row.
#[cfg(test)]
fn upsample(p: &Plane, hv: (usize, usize), out: &mut [u8], out_w: usize, out_h: usize) {
    let mut rows = Rows::new(p);
    for oy in 0..out_h {
        out[oy * out_w..(oy + 1) * out_w].copy_from_slice(&rows.row(p, hv, oy)[..out_w]);
    }
}

/// Repeats the first and last of `t[1..=n]` into `t[0]` and `t[n + 1]`.
fn pad(t: &mut [u16]) {
    let n = t.len() - 2;
    t[0] = t[1];
    t[n + 1] = t[n];
}

/// Each sample twice (`h2v1_upsample`, `h2v2_upsample`).
fn replicate_row(src: &[u8], out: &mut [u8]) {
    for (pair, &s) in out.chunks_exact_mut(2).zip(src) {
        pair.fill(s);
    }
}

/// The horizontal triangle filter of `h2v1_fancy_upsample` and `h2v2_fancy_upsample`: for
/// each of the `n` inputs `t[i + 1]` (edges padded), the left output
/// `(3 t[i+1] + t[i] + even) >> shift` and the right `(3 t[i+1] + t[i+2] + odd) >> shift`.
/// With the padding, the C code's special first and last columns are the same formula.
fn pairs(t: &[u16], out: &mut [u8], even: u16, odd: u16, shift: u32) {
    let n = t.len() - 2;
    let mut start = 0;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        start = unsafe { avx2::pairs(t, out, even, odd, shift) };
    }
    for i in start..n {
        let c = t[i + 1] * 3;
        out[2 * i] = ((c + t[i] + even) >> shift) as u8;
        out[2 * i + 1] = ((c + t[i + 2] + odd) >> shift) as u8;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// [`super::pairs`] sixteen inputs at a time; returns how many inputs it did.
    #[target_feature(enable = "avx2")]
    pub unsafe fn pairs(t: &[u16], out: &mut [u8], even: u16, odd: u16, shift: u32) -> usize {
        let n = t.len() - 2;
        let (be, bo) = (
            _mm256_set1_epi16(even as i16),
            _mm256_set1_epi16(odd as i16),
        );
        let sh = _mm_cvtsi32_si128(shift as i32);
        let mut i = 0;
        while i + 16 <= n {
            let l = _mm256_loadu_si256(t.as_ptr().add(i).cast());
            let c = _mm256_loadu_si256(t.as_ptr().add(i + 1).cast());
            let r = _mm256_loadu_si256(t.as_ptr().add(i + 2).cast());
            let c3 = _mm256_add_epi16(c, _mm256_add_epi16(c, c));
            let e = _mm256_srl_epi16(_mm256_add_epi16(_mm256_add_epi16(c3, l), be), sh);
            let o = _mm256_srl_epi16(_mm256_add_epi16(_mm256_add_epi16(c3, r), bo), sh);
            // Per 128-bit half: e0..7 e0..7 and o0..7 o0..7, interleaved as e0 o0 e1 o1 ….
            let eb = _mm256_packus_epi16(e, e);
            let ob = _mm256_packus_epi16(o, o);
            let mixed = _mm256_unpacklo_epi8(eb, ob);
            _mm256_storeu_si256(out.as_mut_ptr().add(2 * i).cast(), mixed);
            i += 16;
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_planes_stay_flat_and_edges_replicate() {
        let data = [77u8; 12];
        let p = Plane {
            data: &data,
            stride: 4,
            width: 4,
            height: 3,
        };
        for hv in [(1, 1), (2, 1), (1, 2), (2, 2)] {
            let (w, h) = (4 * hv.0 - 1, 3 * hv.1);
            let mut out = vec![0u8; w * h];
            upsample(&p, hv, &mut out, w, h);
            assert!(out.iter().all(|&v| v == 77), "{hv:?}");
        }
    }

    #[test]
    fn triangle_filters_weigh_the_nearer_sample_three_to_one() {
        // One row 0, 40, 80: each output is (3 · nearer + farther + bias) / 4.
        let p = Plane {
            data: &[0, 40, 80],
            stride: 3,
            width: 3,
            height: 1,
        };
        let mut out = [0u8; 6];
        upsample(&p, (2, 1), &mut out, 6, 1);
        assert_eq!(out, [0, 10, 30, 50, 70, 80]);
        // Long rows go through the vector kernel: it must equal the scalar formula.
        let data: Vec<u8> = (0..100u32).map(|i| (i * 37 % 256) as u8).collect();
        let wide = Plane {
            data: &data,
            stride: 50,
            width: 50,
            height: 2,
        };
        let mut out = vec![0u8; 100 * 4];
        upsample(&wide, (2, 2), &mut out, 100, 4);
        let s = |y: usize, x: usize| data[y * 50 + x] as u16;
        for oy in 0..4 {
            let (near, far) = (oy / 2, [0, 1, 0, 1][oy]);
            let col = |x: isize| {
                let x = x.clamp(0, 49) as usize;
                3 * s(near, x) + s(far, x)
            };
            for x in 0..50isize {
                let c = 3 * col(x);
                let left = ((c + col(x - 1) + 8) >> 4) as u8;
                let right = ((c + col(x + 1) + 7) >> 4) as u8;
                let got = &out[oy * 100 + 2 * x as usize..][..2];
                assert_eq!(got, [left, right], "row {oy}, column {x}");
            }
        }
        // A 2-wide plane is replicated, as libjpeg does below 3 samples.
        let p = Plane {
            data: &[10, 20],
            stride: 2,
            width: 2,
            height: 1,
        };
        let mut out = [0u8; 4];
        upsample(&p, (2, 1), &mut out, 4, 1);
        assert_eq!(out, [10, 10, 20, 20]);
    }
}
