//! Depthwise convolution (one k×k filter per channel) as direct loops over each plane.
//! candle runs a grouped convolution as one convolution per group, which is seconds per
//! layer pair for EfficientNet; here each plane is one cache-friendly pass per tap.
use super::conv::{valid_range, Conv2dParams};
use rayon::prelude::*;

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
    let (k, s) = (p.kernel, p.stride);
    let (pt, pl) = (p.padding.top, p.padding.left);
    let mut y = vec![0f32; x.len() / (h * w) * ho * wo];
    y.par_chunks_mut(ho * wo)
        .zip(x.par_chunks(h * w))
        .enumerate()
        .for_each(|(plane_idx, (out, plane))| {
            let ch = plane_idx % c;
            let wk = &p.weight[ch * k * k..(ch + 1) * k * k];
            out.fill(p.bias.as_ref().map_or(0.0, |b| b[ch]));
            for ky in 0..k {
                let (oy_lo, oy_hi) = valid_range(ho, h, s, ky, pt);
                for oy in oy_lo..oy_hi {
                    let src = &plane[(oy * s + ky - pt) * w..(oy * s + ky - pt + 1) * w];
                    let dst = &mut out[oy * wo..(oy + 1) * wo];
                    for kx in 0..k {
                        let wv = wk[ky * k + kx];
                        let (lo, hi) = valid_range(wo, w, s, kx, pl);
                        if lo >= hi {
                            continue;
                        }
                        if s == 1 {
                            let x0 = lo + kx - pl;
                            for (d, v) in dst[lo..hi].iter_mut().zip(&src[x0..x0 + hi - lo]) {
                                *d += wv * v;
                            }
                        } else {
                            for ox in lo..hi {
                                dst[ox] += wv * src[ox * s + kx - pl];
                            }
                        }
                    }
                }
            }
        });
    y
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
    let (k, s) = (p.kernel, p.stride);
    let (pt, pl) = (p.padding.top, p.padding.left);
    let mut dx = vec![0f32; g.len() / (ho * wo) * h * w];
    dx.par_chunks_mut(h * w)
        .zip(g.par_chunks(ho * wo))
        .enumerate()
        .for_each(|(plane_idx, (dplane, gplane))| {
            let ch = plane_idx % c;
            let wk = &p.weight[ch * k * k..(ch + 1) * k * k];
            for ky in 0..k {
                let (oy_lo, oy_hi) = valid_range(ho, h, s, ky, pt);
                for oy in oy_lo..oy_hi {
                    let iy = oy * s + ky - pt;
                    let src = &gplane[oy * wo..(oy + 1) * wo];
                    let dst = &mut dplane[iy * w..(iy + 1) * w];
                    for kx in 0..k {
                        let wv = wk[ky * k + kx];
                        let (lo, hi) = valid_range(wo, w, s, kx, pl);
                        if lo >= hi {
                            continue;
                        }
                        if s == 1 {
                            let x0 = lo + kx - pl;
                            for (d, v) in dst[x0..x0 + hi - lo].iter_mut().zip(&src[lo..hi]) {
                                *d += wv * v;
                            }
                        } else {
                            for ox in lo..hi {
                                dst[ox * s + kx - pl] += wv * src[ox];
                            }
                        }
                    }
                }
            }
        });
    dx
}
