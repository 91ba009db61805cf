//! Depthwise convolution (one k×k filter per channel) over each plane.
//!
//! candle runs a grouped convolution as one convolution per group, which is seconds per
//! layer pair for EfficientNet. Here each plane is first split into its `stride²` *phases*
//! (phase (py, px) holds the zero-padded input at rows `s·r + py`, columns `s·j + px`), all
//! laid out with one row stride `wq`. Tap (ky, kx) of every output then reads phase
//! (ky mod s, kx mod s) at one fixed offset from the output's own index, so each tap is a
//! single contiguous multiply-add over the whole plane — no border tests, no strided
//! gathers, long vectors even for 7×7 planes. The `wq − wo` extra columns per row are
//! computed and dropped. The input gradient is the same walk with the roles swapped:
//! every tap scatters the (zero-extended) output gradient into the phases, which are then
//! interleaved back and the padding cut off. Per output (input) value the taps are summed
//! in the same (ky, kx) order as a direct loop.
use super::buffers::{copy, fill, written};
use super::conv::{valid_range, Conv2dParams};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// The phase layout of one plane for a given layer and input size.
struct Phases {
    s: usize,
    /// Rows and columns of each phase.
    hq: usize,
    wq: usize,
    /// Values per phase, including `tail` zeros so that the last tap's overrun stays inside.
    len: usize,
    h: usize,
    w: usize,
    pt: usize,
    pl: usize,
}

impl Phases {
    fn new(p: &Conv2dParams, h: usize, w: usize, ho: usize, wo: usize) -> Self {
        let (k, s) = (p.kernel, p.stride);
        let reach = (k - 1) / s;
        let (hq, wq) = (ho + reach, wo + reach);
        Phases {
            s,
            hq,
            wq,
            len: hq * wq + reach,
            h,
            w,
            pt: p.padding.top,
            pl: p.padding.left,
        }
    }

    /// Scratch values needed for all phases of one plane.
    fn scratch(&self) -> usize {
        self.s * self.s * self.len
    }

    /// Phase index and offset (from the output index `oy·wq + ox`) read by tap (ky, kx).
    #[inline]
    fn tap(&self, ky: usize, kx: usize) -> (usize, usize) {
        let s = self.s;
        ((ky % s) * s + kx % s, (ky / s) * self.wq + kx / s)
    }

    /// For every input row the phases hold, and each column phase `px`: the input row,
    /// the phase's first value for that row, and the phase columns `[lo, hi)` whose input
    /// column `s·j + px − pl` lies inside the image.
    fn runs(&self) -> impl Iterator<Item = (usize, usize, usize, usize, usize)> + '_ {
        let s = self.s;
        (0..s).flat_map(move |py| {
            let (lo_r, hi_r) = valid_range(self.hq, self.h, s, py, self.pt);
            (lo_r..hi_r).flat_map(move |rq| {
                let iy = rq * s + py - self.pt;
                (0..s).map(move |px| {
                    let (lo, hi) = valid_range(self.wq, self.w, s, px, self.pl);
                    (iy, (py * s + px) * self.len + rq * self.wq, px, lo, hi)
                })
            })
        })
    }

    /// Splits one zero-padded input plane into its phases.
    fn split(&self, plane: &[f32], phases: &mut [f32]) {
        phases.fill(0.0);
        for (iy, base, px, lo, hi) in self.runs() {
            let row = &plane[iy * self.w..(iy + 1) * self.w];
            let dst = &mut phases[base + lo..base + hi];
            if self.s == 1 {
                dst.copy_from_slice(&row[lo + px - self.pl..hi + px - self.pl]);
            } else {
                for (j, d) in (lo..hi).zip(dst) {
                    *d = row[j * self.s + px - self.pl];
                }
            }
        }
    }

    /// Interleaves the phases back into one input-sized plane, dropping the padding; input
    /// pixels the convolution never reads get 0. Every pixel of `plane` is written.
    fn merge(&self, phases: &[f32], plane: &mut [MaybeUninit<f32>]) {
        let plane = fill(plane, 0.0);
        for (iy, base, px, lo, hi) in self.runs() {
            let row = &mut plane[iy * self.w..(iy + 1) * self.w];
            let src = &phases[base + lo..base + hi];
            if self.s == 1 {
                row[lo + px - self.pl..hi + px - self.pl].copy_from_slice(src);
            } else {
                for (j, v) in (lo..hi).zip(src) {
                    row[j * self.s + px - self.pl] = *v;
                }
            }
        }
    }
}

pub(super) fn forward(
    p: &Conv2dParams,
    x: &[f32],
    _n: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
) -> Vec<f32> {
    let c = p.out_channels;
    let k = p.kernel;
    let geo = Phases::new(p, h, w, ho, wo);
    let span = ho * geo.wq;
    let write = |y: &mut [MaybeUninit<f32>]| {
        y.par_chunks_mut(ho * wo)
            .zip(x.par_chunks(h * w))
            .enumerate()
            .for_each_init(
                || vec![0f32; geo.scratch() + span],
                |scratch, (plane_idx, (out, plane))| {
                    let ch = plane_idx % c;
                    let wk = &p.weight[ch * k * k..(ch + 1) * k * k];
                    let (phases, acc) = scratch.split_at_mut(geo.scratch());
                    geo.split(plane, phases);
                    acc.fill(p.bias.as_ref().map_or(0.0, |b| b[ch]));
                    for ky in 0..k {
                        for kx in 0..k {
                            let wv = wk[ky * k + kx];
                            let (ph, off) = geo.tap(ky, kx);
                            let src = &phases[ph * geo.len + off..ph * geo.len + off + span];
                            for (a, v) in acc.iter_mut().zip(src) {
                                *a += wv * v;
                            }
                        }
                    }
                    for (dst, src) in out.chunks_exact_mut(wo).zip(acc.chunks_exact(geo.wq)) {
                        copy(dst, &src[..wo]);
                    }
                },
            );
    };
    // SAFETY: every output row of every plane is copied from the accumulator.
    unsafe { written(x.len() / (h * w) * ho * wo, write) }
}

pub(super) fn input_grad(
    p: &Conv2dParams,
    g: &[f32],
    _n: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
) -> Vec<f32> {
    let c = p.out_channels;
    let k = p.kernel;
    let geo = Phases::new(p, h, w, ho, wo);
    let span = ho * geo.wq;
    let write = |dx: &mut [MaybeUninit<f32>]| {
        dx.par_chunks_mut(h * w)
            .zip(g.par_chunks(ho * wo))
            .enumerate()
            .for_each_init(
                || vec![0f32; geo.scratch() + span],
                |scratch, (plane_idx, (dplane, gplane))| {
                    let ch = plane_idx % c;
                    let wk = &p.weight[ch * k * k..(ch + 1) * k * k];
                    let (phases, grad) = scratch.split_at_mut(geo.scratch());
                    // The output gradient in the phases' row stride; the extra columns stay 0
                    // so that what they scatter adds nothing.
                    grad.fill(0.0);
                    for (dst, src) in grad.chunks_exact_mut(geo.wq).zip(gplane.chunks_exact(wo)) {
                        dst[..wo].copy_from_slice(src);
                    }
                    phases.fill(0.0);
                    for ky in 0..k {
                        for kx in 0..k {
                            let wv = wk[ky * k + kx];
                            let (ph, off) = geo.tap(ky, kx);
                            let dst = &mut phases[ph * geo.len + off..ph * geo.len + off + span];
                            for (d, v) in dst.iter_mut().zip(&*grad) {
                                *d += wv * v;
                            }
                        }
                    }
                    geo.merge(phases, dplane);
                },
            );
    };
    // SAFETY: `merge` writes every pixel of every plane.
    unsafe { written(g.len() / (ho * wo) * h * w, write) }
}
