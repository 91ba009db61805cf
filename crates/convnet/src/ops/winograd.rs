//! Dense 3 × 3 stride-1 convolutions by Winograd's minimal filtering F(2 × 2, 3 × 3)
//! (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks").
//!
//! Why: im2col + gemm spends 9 multiply-adds per output and input channel on a 3 × 3 layer;
//! F(m × m, 3 × 3) computes an m × m output tile from an (m + 2)² input tile with (m + 2)²
//! products a channel pair: 4 per output for m = 2, 2.25 for m = 4. These layers are most of
//! the arithmetic of VGG- and ResNet-style networks (82 % of ResNet-18's), where PyTorch's
//! oneDNN direct convolutions beat im2col + gemm (docs/onnx.md, Speed).
//!
//! Why m = 2: its transforms add, subtract and halve, so on random data the layer rounds
//! like im2col (on a 256-channel layer 5.3e-7 from a float64 convolution, im2col 6.8e-7:
//! `rounding_is_close_to_im2col`). F(4 × 4, 3 × 3) was faster (ResNet-18's batch-16
//! saliency pass 0.82 s a batch against 1.03 s with this code and 1.26 s on im2col), but
//! its transforms scale by up to 8 and it rounds 5× worse (3.2e-6); the interpolation
//! points 0, ±1, ±½ instead of 0, ±1, ±2 did not help (3.7e-6).
//!
//! On a network's activations m = 2 still rounds a little worse than im2col: layer by layer
//! on the VGG16 of `shared/reference/vgg16-formula` (each layer fed the float64 network's
//! input, rounded), 1.1e-7 … 5.0e-7 from float64 against im2col's 1.1e-7 … 4.3e-7, 1.2–1.8×
//! on the layers of 128 channels or more. That network, whose outputs are residuals of
//! enormous cancellation, amplifies rounding about a thousandfold, and its logits end up
//! 1.9e-4 … 1.9e-3 from float64 (im2col 1.8e-4 … 2.9e-4, PyTorch 3.9e-5 … 3.0e-4). So it
//! runs only when chosen ([`super::ConvAlgorithm`]).
//!
//! No crate we build on has Winograd convolutions: candle's CPU convolution is im2col, and
//! the `gemm` crate is the matrix product this builds on.
//!
//! The input gradient of a 3 × 3 stride-1 layer is itself a 3 × 3 stride-1 correlation (of
//! the output gradient with the flipped, transposed kernel), so both directions run the one
//! routine, [`correlate`], with their own transformed kernels.
use super::buffers::{written, Scratch};
use super::conv::Conv2dParams;
use super::gemm_conv::{matmul, MatRef};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Layers with fewer input or output channels stay on im2col + gemm: there the transforms,
/// which cost about the same per channel as a gemm of 16 channels, would dominate.
const MIN_CHANNELS: usize = 16;

/// Tiles transformed and multiplied at a time (whole images, at least one): a chunk's
/// transformed input stays in cache between the three steps, and a batch still fills the
/// gemms' columns on the small feature maps of late layers.
const CHUNK_TILES: usize = 1024;

/// Whether `p` runs here rather than on im2col + gemm.
pub(super) fn applies(p: &Conv2dParams) -> bool {
    !p.depthwise
        && p.kernel == 3
        && p.stride == 1
        && p.in_channels >= MIN_CHANNELS
        && p.out_channels >= MIN_CHANNELS
}

/// One algorithm F(m × m, 3 × 3): `Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` for an `(m + 2)²` input
/// tile `d` and a 3 × 3 kernel `g` (Lavin & Gray 2016, section 4; the interpolation points
/// 0, ±1, ±2 and ∞ for m = 4).
#[derive(Debug)]
pub(super) struct Scheme {
    /// Output tile side.
    m: usize,
    /// `Bᵀ`, `(m + 2) × (m + 2)`, row-major.
    bt: &'static [f32],
    /// `G`, `(m + 2) × 3`.
    g: &'static [f64],
    /// `Aᵀ`, `m × (m + 2)`.
    at: &'static [f32],
}

impl Scheme {
    /// Input tile side.
    fn a(&self) -> usize {
        self.m + 2
    }
}

/// F(2 × 2, 3 × 3): 16 products per 4 outputs; every transform is exact in floating point.
const F2: Scheme = Scheme {
    m: 2,
    bt: &[
        1., 0., -1., 0., //
        0., 1., 1., 0., //
        0., -1., 1., 0., //
        0., 1., 0., -1.,
    ],
    g: &[
        1., 0., 0., //
        0.5, 0.5, 0.5, //
        0.5, -0.5, 0.5, //
        0., 0., 1.,
    ],
    at: &[
        1., 1., 1., 0., //
        0., 1., -1., -1.,
    ],
};

/// F(4 × 4, 3 × 3): 36 products per 16 outputs (4× fewer than im2col's 144); its transforms
/// scale by up to 8, which costs about one decimal digit against a direct convolution. Not
/// used (see the module's note); the tests keep it to measure that rounding.
#[cfg(test)]
const F4: Scheme = Scheme {
    m: 4,
    bt: &[
        4., 0., -5., 0., 1., 0., //
        0., -4., -4., 1., 1., 0., //
        0., 4., -4., -1., 1., 0., //
        0., -2., -1., 2., 1., 0., //
        0., 2., -1., -2., 1., 0., //
        0., 4., 0., -5., 0., 1.,
    ],
    g: &[
        1. / 4.,
        0.,
        0., //
        -1. / 6.,
        -1. / 6.,
        -1. / 6., //
        -1. / 6.,
        1. / 6.,
        -1. / 6., //
        1. / 24.,
        1. / 12.,
        1. / 6., //
        1. / 24.,
        -1. / 12.,
        1. / 6., //
        0.,
        0.,
        1.,
    ],
    at: &[
        1., 1., 1., 1., 1., 0., //
        0., 1., -1., 2., -2., 0., //
        0., 1., 1., 4., 4., 0., //
        0., 1., -1., 8., -8., 1.,
    ],
};

/// The scheme the layers run.
const SCHEME: &Scheme = &F2;

/// The transformed kernels `U_ξ = (G g Gᵀ)_ξ` of a correlation from `cols` channels to
/// `rows` channels, stored `[ξ][row][col]` so that each `U_ξ` is a row-major matrix.
#[derive(Clone, Debug)]
pub(super) struct Kernels {
    scheme: &'static Scheme,
    rows: usize,
    cols: usize,
    u: Vec<f32>,
}

impl Kernels {
    /// The forward pass's kernels: `g[o][c] = W[o][c]`.
    pub fn forward(p: &Conv2dParams) -> Self {
        Self::forward_in(SCHEME, p)
    }

    /// The input gradient's kernels: `g[c][o](a, b) = W[o][c](2 − a, 2 − b)`.
    pub fn adjoint(p: &Conv2dParams) -> Self {
        Self::adjoint_in(SCHEME, p)
    }

    fn forward_in(scheme: &'static Scheme, p: &Conv2dParams) -> Self {
        let (o, c) = (p.out_channels, p.in_channels);
        Self::new(scheme, o, c, |r, q, a, b| {
            p.weight[((r * c + q) * 3 + a) * 3 + b]
        })
    }

    fn adjoint_in(scheme: &'static Scheme, p: &Conv2dParams) -> Self {
        let (o, c) = (p.out_channels, p.in_channels);
        Self::new(scheme, c, o, |r, q, a, b| {
            p.weight[((q * c + r) * 3 + 2 - a) * 3 + 2 - b]
        })
    }

    fn new(
        scheme: &'static Scheme,
        rows: usize,
        cols: usize,
        g: impl Fn(usize, usize, usize, usize) -> f32,
    ) -> Self {
        let a = scheme.a();
        let gm = |i: usize, j: usize| scheme.g[i * 3 + j];
        let mut u = vec![0f32; a * a * rows * cols];
        for r in 0..rows {
            for q in 0..cols {
                // G g Gᵀ in f64.
                let mut t = vec![[0f64; 3]; a];
                for (i, ti) in t.iter_mut().enumerate() {
                    for (b, tib) in ti.iter_mut().enumerate() {
                        *tib = (0..3).map(|k| gm(i, k) * g(r, q, k, b) as f64).sum();
                    }
                }
                for (i, ti) in t.iter().enumerate() {
                    for j in 0..a {
                        let v: f64 = (0..3).map(|b| ti[b] * gm(j, b)).sum();
                        u[((i * a + j) * rows + r) * cols + q] = v as f32;
                    }
                }
            }
        }
        Kernels {
            scheme,
            rows,
            cols,
            u,
        }
    }

    fn matrix(&self, xi: usize) -> MatRef<'_> {
        let len = self.rows * self.cols;
        MatRef::rows(&self.u[xi * len..(xi + 1) * len], self.cols)
    }
}

/// Where output `(y, x)` reads its input window: `(y + dy, x + dx)` is the window's corner.
#[derive(Clone, Copy, Debug)]
pub(super) struct Offset {
    pub dy: isize,
    pub dx: isize,
}

/// The geometry of one call: input `[n, k.cols, h, w]`, output `[n, k.rows, ho, wo]`,
/// `th × tw` tiles an image.
#[derive(Clone, Copy)]
struct Geometry {
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    th: usize,
    tw: usize,
    at: Offset,
}

/// The forward pass of `p` (which [`applies`]) on `n` images `[in, h, w]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn forward(
    p: &Conv2dParams,
    k: &Kernels,
    x: &[f32],
    n: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
) -> Vec<f32> {
    let at = Offset {
        dy: -(p.padding.top as isize),
        dx: -(p.padding.left as isize),
    };
    correlate(
        k,
        x,
        n,
        (h, w),
        (ho, wo),
        at,
        p.bias.as_deref(),
        CHUNK_TILES,
    )
}

/// The input gradient of `p` (which [`applies`]) from the output gradient `[n, out, ho, wo]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn input_grad(
    p: &Conv2dParams,
    k: &Kernels,
    g: &[f32],
    n: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
) -> Vec<f32> {
    let at = Offset {
        dy: p.padding.top as isize - 2,
        dx: p.padding.left as isize - 2,
    };
    correlate(k, g, n, (ho, wo), (h, w), at, None, CHUNK_TILES)
}

/// `out[b][r](y, x) = bias[r] + Σ_c Σ_{a,b<3} x[b][c](y + dy + a, x + dx + b) · g[r][c](a, b)`,
/// with `x` zero outside its `h × w`: one 3 × 3 correlation, tile by tile.
#[allow(clippy::too_many_arguments)]
fn correlate(
    k: &Kernels,
    x: &[f32],
    n: usize,
    (h, w): (usize, usize),
    (ho, wo): (usize, usize),
    at: Offset,
    bias: Option<&[f32]>,
    chunk_tiles: usize,
) -> Vec<f32> {
    let sc = k.scheme;
    let xis = sc.a() * sc.a();
    let geo = Geometry {
        h,
        w,
        ho,
        wo,
        th: ho.div_ceil(sc.m),
        tw: wo.div_ceil(sc.m),
        at,
    };
    let (cin, cout) = (k.cols, k.rows);
    let per_image = geo.th * geo.tw;
    let images = (chunk_tiles / per_image.max(1)).clamp(1, n.max(1));
    let len = xis * (cin + cout) * images * per_image;
    let mut scratch = Scratch::take(len);
    let (v, m) = scratch
        .get(len)
        .split_at_mut(xis * cin * images * per_image);
    let write = |out: &mut [MaybeUninit<f32>]| {
        for (b0, out) in (0..n)
            .step_by(images)
            .zip(out.chunks_mut(images * cout * ho * wo))
        {
            let nb = images.min(n - b0);
            let t = nb * per_image;
            let x = &x[b0 * cin * h * w..(b0 + nb) * cin * h * w];
            // V [c][ξ][t]: each channel's rows, filled in parallel over channels.
            let v = &mut v[..xis * cin * t];
            v.par_chunks_mut(xis * t).enumerate().for_each_init(
                || {
                    (
                        vec![0f32; xis * t],
                        vec![0f32; xis * t],
                        vec![0f32; sc.m * (geo.tw + 1)],
                    )
                },
                |(d, a, padded), (c, vc)| {
                    gather(x, c, cin, nb, &geo, sc, t, d, padded);
                    transform_input(sc, t, d, a, vc);
                },
            );
            // M_ξ [out][t] = U_ξ [out][in] · V_ξ [in][t], the products in parallel.
            let m = &mut m[..xis * cout * t];
            let v = &*v;
            m.par_chunks_mut(cout * t).enumerate().for_each(|(xi, mx)| {
                let rhs = MatRef {
                    data: &v[xi * t..],
                    rs: xis * t,
                    cs: 1,
                };
                matmul(mx, cout, t, cin, k.matrix(xi), rhs, false, false);
            });
            // Y = Aᵀ M A + bias, one output channel at a time over all the chunk's tiles.
            let m = &*m;
            let planes = Planes(out.as_mut_ptr(), out.len());
            (0..cout).into_par_iter().for_each_init(
                || (vec![0f32; sc.m * sc.a() * t], vec![0f32; sc.m * sc.m * t]),
                |(s, y), r| {
                    let b_bias = bias.map_or(0.0, |bs| bs[r]);
                    transform_output(sc, t, |xi| &m[(xi * cout + r) * t..][..t], b_bias, s, y);
                    // SAFETY: task `r` writes only the planes (b, r) of `out`, which no other task
                    // touches, and `out` outlives the loop.
                    unsafe { planes.scatter(y, r, cout, nb, &geo, sc.m) };
                },
            );
        }
    };
    // SAFETY: `write` gives every image's `cout` planes to `scatter`, which fills them.
    let out = unsafe { written(n * cout * ho * wo, write) };
    scratch.give_back();
    out
}

/// The output chunk's base pointer and length, shared by the per-channel output tasks.
#[derive(Clone, Copy)]
struct Planes(*mut MaybeUninit<f32>, usize);
// SAFETY: the tasks write disjoint planes (see `scatter`).
unsafe impl Send for Planes {}
unsafe impl Sync for Planes {}

impl Planes {
    /// Writes channel `r` of every image from `y` (`[m][m][t]`, tile `b·th·tw + ty·tw + tx`).
    ///
    /// # Safety
    /// No other thread may access plane (b, r) of the chunk meanwhile.
    unsafe fn scatter(
        &self,
        y: &[f32],
        r: usize,
        cout: usize,
        nb: usize,
        geo: &Geometry,
        m: usize,
    ) {
        let t = nb * geo.th * geo.tw;
        let hw = geo.ho * geo.wo;
        for b in 0..nb {
            let at = (b * cout + r) * hw;
            assert!(at + hw <= self.1);
            // SAFETY: in bounds (above); exclusive by the caller's contract.
            let plane = unsafe { std::slice::from_raw_parts_mut(self.0.add(at), hw) };
            for (ty, rows) in plane.chunks_mut(m * geo.wo).enumerate() {
                let base = b * geo.th * geo.tw + ty * geo.tw;
                for (u, row) in rows.chunks_mut(geo.wo).enumerate() {
                    for (tx, cols) in row.chunks_mut(m).enumerate() {
                        for (v, d) in cols.iter_mut().enumerate() {
                            d.write(y[(u * m + v) * t + base + tx]);
                        }
                    }
                }
            }
        }
    }
}

/// `dst = init + Σ_k coefs[k] · src(k)` in one pass, over the non-zero coefficients only
/// (most of `Bᵀ` and `Aᵀ`), summed in the order of `k`. Multiplying by ±1, 2, 4 or 8 is
/// exact, so this rounds as the additions and subtractions written out would.
fn combine<'a>(dst: &mut [f32], init: f32, coefs: &[f32], src: impl Fn(usize) -> &'a [f32]) {
    let len = dst.len();
    let mut c = [0f32; 6];
    let mut s: [&[f32]; 6] = [&[]; 6];
    let mut q = 0;
    for (k, &ck) in coefs.iter().enumerate() {
        if ck != 0.0 {
            c[q] = ck;
            s[q] = &src(k)[..len];
            q += 1;
        }
    }
    match q {
        1 => terms::<1>(dst, init, &c, &s),
        2 => terms::<2>(dst, init, &c, &s),
        3 => terms::<3>(dst, init, &c, &s),
        4 => terms::<4>(dst, init, &c, &s),
        5 => terms::<5>(dst, init, &c, &s),
        6 => terms::<6>(dst, init, &c, &s),
        _ => dst.fill(init),
    }
}

/// [`combine`] with `N` terms, unrolled so that the loop over the tiles vectorises.
#[inline(always)]
fn terms<const N: usize>(dst: &mut [f32], init: f32, c: &[f32; 6], s: &[&[f32]; 6]) {
    let len = dst.len();
    let s: [&[f32]; N] = std::array::from_fn(|q| &s[q][..len]);
    for (j, d) in dst.iter_mut().enumerate() {
        let mut acc = init;
        for q in 0..N {
            acc += c[q] * s[q][j];
        }
        *d = acc;
    }
}

/// The input tiles of channel `c` of the chunk's images, `d[i][j][t]` = element (i, j) of
/// tile `t` (zero outside the plane): one vector over the chunk's tiles per tile position,
/// so that the transforms below run on long vectors even where a feature map has few tiles.
#[allow(clippy::too_many_arguments)]
fn gather(
    x: &[f32],
    c: usize,
    cin: usize,
    nb: usize,
    geo: &Geometry,
    sc: &Scheme,
    t: usize,
    d: &mut [f32],
    padded: &mut [f32],
) {
    let (m, a, tw) = (sc.m, sc.a(), geo.tw);
    let width = m * (tw + 1);
    // The columns of a padded row that lie inside the plane.
    let lo = (-geo.at.dx).clamp(0, width as isize) as usize;
    let hi = (geo.w as isize - geo.at.dx).clamp(lo as isize, width as isize) as usize;
    for b in 0..nb {
        let plane = &x[(b * cin + c) * geo.h * geo.w..][..geo.h * geo.w];
        for ty in 0..geo.th {
            let base = b * geo.th * tw + ty * tw;
            for i in 0..a {
                let y = (m * ty + i) as isize + geo.at.dy;
                if y < 0 || y >= geo.h as isize || lo == hi {
                    for j in 0..a {
                        d[(i * a + j) * t + base..][..tw].fill(0.0);
                    }
                    continue;
                }
                let src =
                    &plane[y as usize * geo.w + (lo as isize + geo.at.dx) as usize..][..hi - lo];
                padded[..lo].fill(0.0);
                padded[lo..hi].copy_from_slice(src);
                padded[hi..width].fill(0.0);
                for j in 0..a {
                    let dst = &mut d[(i * a + j) * t + base..][..tw];
                    for (dv, &sv) in dst.iter_mut().zip(padded[j..].iter().step_by(m)) {
                        *dv = sv;
                    }
                }
            }
        }
    }
}

/// `V = Bᵀ d B` for every tile: `a[i][k] = Σ_l Bᵀ[i][l] d[l][k]`, then
/// `vc[i][j] = Σ_k Bᵀ[j][k] a[i][k]`, each a vector over the tiles.
fn transform_input(sc: &Scheme, t: usize, d: &[f32], a: &mut [f32], vc: &mut [f32]) {
    let n = sc.a();
    let row = |i: usize, j: usize| (i * n + j) * t..(i * n + j + 1) * t;
    for i in 0..n {
        for k in 0..n {
            combine(&mut a[row(i, k)], 0.0, &sc.bt[i * n..][..n], |l| {
                &d[row(l, k)]
            });
        }
    }
    let a = &*a;
    for i in 0..n {
        for j in 0..n {
            combine(&mut vc[row(i, j)], 0.0, &sc.bt[j * n..][..n], |k| {
                &a[row(i, k)]
            });
        }
    }
}

/// `Y = Aᵀ M A + bias` for every tile: `s[u][k] = Σ_i Aᵀ[u][i] M[i][k]`, then
/// `y[u][v] = bias + Σ_k Aᵀ[v][k] s[u][k]`, each a vector over the tiles.
fn transform_output<'a>(
    sc: &Scheme,
    t: usize,
    mrow: impl Fn(usize) -> &'a [f32],
    bias: f32,
    s: &mut [f32],
    y: &mut [f32],
) {
    let (m, n) = (sc.m, sc.a());
    for u in 0..m {
        for k in 0..n {
            combine(
                &mut s[(u * n + k) * t..][..t],
                0.0,
                &sc.at[u * n..][..n],
                |i| mrow(i * n + k),
            );
        }
    }
    let s = &*s;
    for u in 0..m {
        for v in 0..m {
            let src = |k: usize| &s[(u * n + k) * t..][..t];
            combine(
                &mut y[(u * m + v) * t..][..t],
                bias,
                &sc.at[v * n..][..n],
                src,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::conv::tests::pseudo;
    use super::super::conv::Padding;
    use super::super::gemm_conv;
    use super::*;

    /// Largest difference relative to the largest reference value.
    fn rel_max(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
        a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
    }

    /// Layers of every padding the exporters write (none, 1, asymmetric, wider than the
    /// kernel reaches), on odd and even sides, batches of 1 and 3.
    fn cases() -> Vec<(Conv2dParams, usize, usize, usize)> {
        let mk = |o: usize, i: usize, pad: Padding, bias: bool, seed: u32| {
            Conv2dParams::new(
                pseudo(o * i * 9, seed),
                [o, i, 3, 3],
                bias.then(|| pseudo(o, seed + 1)),
                1,
                pad,
                false,
            )
            .unwrap()
        };
        let uneven = Padding {
            left: 2,
            right: 0,
            top: 0,
            bottom: 1,
        };
        vec![
            (mk(24, 16, Padding::symmetric(1), true, 1), 3, 7, 6),
            (mk(16, 20, Padding::symmetric(1), false, 2), 1, 8, 8),
            (mk(16, 16, Padding::default(), true, 3), 2, 9, 5),
            (mk(17, 18, uneven, true, 4), 3, 6, 7),
            (mk(16, 16, Padding::symmetric(3), false, 5), 1, 3, 4),
            (mk(32, 16, Padding::symmetric(1), true, 6), 2, 1, 1),
        ]
    }

    const SCHEMES: [&Scheme; 2] = [&F2, &F4];

    #[test]
    fn forward_equals_im2col() {
        for sc in SCHEMES {
            for (p, n, h, w) in cases() {
                assert!(applies(&p));
                let (ho, wo) = p.output_size(h, w).unwrap();
                let x = pseudo(n * p.in_channels * h * w, 9);
                let want = gemm_conv::forward(&p, &x, n, h, w, ho, wo);
                let k = Kernels::forward_in(sc, &p);
                let got = forward(&p, &k, &x, n, h, w, ho, wo);
                let err = rel_max(&got, &want);
                assert!(err < 1e-5, "F({0}, 3) {p:?} {n}x{h}x{w}: {err:.1e}", sc.m);
                // Chunks of one image each.
                let at = Offset {
                    dy: -(p.padding.top as isize),
                    dx: -(p.padding.left as isize),
                };
                let bias = p.bias.as_deref();
                let chunked = correlate(&k, &x, n, (h, w), (ho, wo), at, bias, 1);
                assert_eq!(chunked, got, "{p:?}: chunking changes the result");
            }
        }
    }

    #[test]
    fn input_gradient_equals_col2im() {
        for sc in SCHEMES {
            for (p, n, h, w) in cases() {
                let (ho, wo) = p.output_size(h, w).unwrap();
                let g = pseudo(n * p.out_channels * ho * wo, 10);
                let want = gemm_conv::input_grad(&p, &g, n, h, w, ho, wo);
                let got = input_grad(&p, &Kernels::adjoint_in(sc, &p), &g, n, h, w, ho, wo);
                let err = rel_max(&got, &want);
                assert!(err < 1e-5, "F({0}, 3) {p:?} {n}x{h}x{w}: {err:.1e}", sc.m);
            }
        }
    }

    /// The error against a float64 direct convolution, on a layer of ResNet's widest 3 × 3
    /// kind, stays within a few float32 roundings of im2col's own.
    #[test]
    fn rounding_is_close_to_im2col() {
        let (c, h) = (256, 14);
        let p = Conv2dParams::new(
            pseudo(c * c * 9, 21),
            [c, c, 3, 3],
            None,
            1,
            Padding::symmetric(1),
            false,
        )
        .unwrap();
        let x = pseudo(c * h * h, 22);
        let mut exact = vec![0f64; c * h * h];
        for o in 0..c {
            for y in 0..h {
                for xx in 0..h {
                    let mut acc = 0f64;
                    for ci in 0..c {
                        for a in 0..3 {
                            for b in 0..3 {
                                let (iy, ix) =
                                    (y as isize + a as isize - 1, xx as isize + b as isize - 1);
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= h as isize {
                                    continue;
                                }
                                acc += x[(ci * h + iy as usize) * h + ix as usize] as f64
                                    * p.weight[((o * c + ci) * 3 + a) * 3 + b] as f64;
                            }
                        }
                    }
                    exact[(o * h + y) * h + xx] = acc;
                }
            }
        }
        let rel = |v: &[f32]| {
            let (mut d, mut e) = (0f64, 0f64);
            for (a, b) in v.iter().zip(&exact) {
                d += (*a as f64 - b).powi(2);
                e += b * b;
            }
            (d / e).sqrt()
        };
        let im2col = rel(&gemm_conv::forward(&p, &x, 1, h, h, h, h));
        for sc in SCHEMES {
            let got = rel(&forward(
                &p,
                &Kernels::forward_in(sc, &p),
                &x,
                1,
                h,
                h,
                h,
                h,
            ));
            println!(
                "F({}, 3): {got:.2e} relative L2 (im2col {im2col:.2e})",
                sc.m
            );
            assert!(
                got < 20.0 * im2col.max(1e-8),
                "F({}, 3): {got:.2e} vs {im2col:.2e}",
                sc.m
            );
        }
    }

    #[test]
    fn small_or_other_layers_stay_on_im2col() {
        let mk = |o, i, k, s, dw| {
            let ipg = if dw { 1 } else { i };
            Conv2dParams::new(
                vec![0.0; o * ipg * k * k],
                [o, ipg, k, k],
                None,
                s,
                Padding::symmetric(1),
                dw,
            )
            .unwrap()
        };
        assert!(applies(&mk(64, 64, 3, 1, false)));
        assert!(!applies(&mk(64, 3, 3, 1, false)), "an RGB stem");
        assert!(!applies(&mk(64, 64, 3, 2, false)), "stride 2");
        assert!(!applies(&mk(64, 64, 5, 1, false)), "5 × 5");
        assert!(!applies(&mk(64, 64, 3, 1, true)), "depthwise");
    }
}
