//! Gaussian-mixture colour models (full covariance): started from linfa-clustering's
//! K-means (or random responsibilities), fitted by EM as scikit-learn fits them ([`em`]),
//! scored with log-sum-exp. Fitting falls back to fewer components and stronger covariance
//! regularisation when a fit fails, and says so.
use image::RgbImage;
use linfa::prelude::*;
use linfa_clustering::{GaussianMixtureModel, GmmInitMethod, KMeans};
use ndarray::{Array1, Array2, Axis};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;

mod em;
pub use em::EmOutcome;

/// A fitted mixture of 3-D Gaussians, ready to score colours.
#[derive(Clone, Debug)]
pub struct ColourModel {
    /// `log w_k − ½ log|Σ_k| − (3/2) log 2π` per component.
    log_norm: Vec<f64>,
    weights: Vec<f64>,
    means: Vec<[f64; 3]>,
    precisions: Vec<[[f64; 3]; 3]>,
    /// Components actually used.
    pub components: usize,
}

/// How a fit went.
#[derive(Clone, Debug, Default)]
pub struct FitReport {
    pub notes: Vec<String>,
    /// EM iterations of the fit that was kept (0 for the one-Gaussian fallback and for
    /// linfa's fit, which does not report them).
    pub em_iterations: usize,
}

/// Fitting parameters.
#[derive(Clone, Debug)]
pub struct GmmParams {
    pub components: usize,
    /// Added to the covariance diagonals (in squared 0..255 colour units).
    pub reg_covariance: f64,
    pub max_iterations: u64,
    pub tolerance: f64,
    /// At most this many pixels are used to fit (a random subsample); all are scored.
    pub max_samples: usize,
    pub seed: u64,
    /// How the mixture starts: random responsibilities (fast) or K-means (as GrabCut and
    /// scikit-learn do; slower, fewer poor local optima).
    pub init: GmmInit,
    /// Which EM runs the fit.
    pub engine: GmmEngine,
}

/// The EM implementation of a fit. Both take the same start, components, regularisation,
/// tolerance and iteration limit; their models are scored the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GmmEngine {
    /// [`em`]: scikit-learn's update and stopping rule, one K-means run for the K-means
    /// start, no per-iteration copies (the default; 5–10× faster on large seed sets).
    Em,
    /// linfa-clustering's `GaussianMixtureModel` (`n_runs(1)`). Its K-means start restarts
    /// K-means ten times and its iterations copy the samples per component: one fit on the
    /// ≈ 15 000 background seeds of a 224² image took 200–340 ms here. Its errors
    /// (`NotConverged`, `EmptyCluster`, failed Cholesky) and panics lead to the same
    /// fallbacks as ours. It reports no iteration count.
    Linfa,
}

impl std::str::FromStr for GmmEngine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "em" => Ok(GmmEngine::Em),
            "linfa" => Ok(GmmEngine::Linfa),
            _ => Err(format!("GMM fit is em or linfa, got `{s}`")),
        }
    }
}

/// Initialisation of the EM fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GmmInit {
    Random,
    KMeans,
}

impl std::str::FromStr for GmmInit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "random" => Ok(GmmInit::Random),
            "kmeans" => Ok(GmmInit::KMeans),
            _ => Err(format!("GMM init is random or kmeans, got `{s}`")),
        }
    }
}

impl Default for GmmParams {
    fn default() -> Self {
        GmmParams {
            components: 5,
            reg_covariance: 1e-2,
            max_iterations: 100,
            tolerance: 1e-3,
            max_samples: 2048,
            seed: 0,
            init: GmmInit::Random,
            engine: GmmEngine::Em,
        }
    }
}

/// Below this log-ratio to the largest term, a term of a log-sum-exp is skipped: with at
/// most 16 components, all such terms together stay under 7e-17 of the largest (which
/// contributes 1), below the rounding of the f64 sum. Skipping their `exp` halves the cost
/// of scoring a pixel, whose other components are usually hundreds of nats away.
const NEGLIGIBLE_LOG_RATIO: f64 = -40.0;

/// `exp(t)` for a log-ratio `t ≤ 0` to the largest term of a sum, 0 where negligible.
#[inline]
pub(super) fn relative_exp(t: f64) -> f64 {
    if t < NEGLIGIBLE_LOG_RATIO {
        0.0
    } else {
        t.exp()
    }
}

fn det3(m: &[[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

fn subsample(points: &Array2<f64>, max: usize, seed: u64) -> Array2<f64> {
    let n = points.nrows();
    if n <= max {
        return points.clone();
    }
    // Evenly strided with a seeded offset: deterministic and spread over the whole image.
    let step = n as f64 / max as f64;
    let offset = (seed % 1000) as f64 / 1000.0 * step;
    let idx: Vec<usize> = (0..max)
        .map(|i| ((offset + i as f64 * step) as usize).min(n - 1))
        .collect();
    points.select(Axis(0), &idx)
}

impl ColourModel {
    /// Fits a mixture to `points` (`[n, 3]`, colours in 0..255).
    pub fn fit(points: &Array2<f64>, params: &GmmParams) -> (ColourModel, FitReport) {
        let mut report = FitReport::default();
        let data = subsample(points, params.max_samples, params.seed);
        if data.nrows() < points.nrows() {
            report.notes.push(format!(
                "fitted on {} of {} pixels",
                data.nrows(),
                points.nrows()
            ));
        }
        let mut k = params.components.min(data.nrows()).max(1);
        if k < params.components {
            report.notes.push(format!(
                "{} seed pixels: {k} components instead of {}",
                data.nrows(),
                params.components
            ));
        }
        let mut reg = params.reg_covariance;
        for _attempt in 0..6 {
            match try_fit(&data, k, reg, params) {
                Ok((model, outcome)) => {
                    report.em_iterations = outcome.iterations;
                    if !outcome.converged {
                        report.notes.push(format!(
                            "EM stopped after {} iterations without converging",
                            outcome.iterations
                        ));
                    }
                    return (model, report);
                }
                Err(e) => {
                    report.notes.push(format!(
                        "GMM with {k} components, reg {reg:.0e} failed ({e})"
                    ));
                    if k > 1 {
                        k -= 1;
                    } else {
                        reg *= 100.0;
                    }
                }
            }
        }
        report
            .notes
            .push("fell back to one Gaussian from the sample mean and covariance".into());
        (ColourModel::single(&data, reg.max(1.0)), report)
    }

    /// One Gaussian from the sample moments, regularised by `reg` on the diagonal (the
    /// M-step with every sample in the one component).
    pub fn single(data: &Array2<f64>, reg: f64) -> ColourModel {
        let points = rows3(data);
        em::m_step(&points, &vec![1.0; points.len()], 1, reg).unwrap_or_else(|_| {
            let mean = data.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(3));
            let p = 1.0 / reg;
            let precision = [[p, 0.0, 0.0], [0.0, p, 0.0], [0.0, 0.0, p]];
            ColourModel::from_parts(&[1.0], &[[mean[0], mean[1], mean[2]]], &[precision])
        })
    }

    fn from_parts(
        weights: &[f64],
        means: &[[f64; 3]],
        precisions: &[[[f64; 3]; 3]],
    ) -> ColourModel {
        let log_norm = weights
            .iter()
            .zip(precisions)
            .map(|(w, p)| {
                w.max(1e-300).ln() + 0.5 * det3(p).max(1e-300).ln()
                    - 1.5 * (2.0 * std::f64::consts::PI).ln()
            })
            .collect();
        ColourModel {
            log_norm,
            weights: weights.to_vec(),
            means: means.to_vec(),
            precisions: precisions.to_vec(),
            components: weights.len(),
        }
    }

    /// `−log p(x)` of every pixel of `image`, as a `height × width` map.
    pub fn neg_log_likelihoods(&self, image: &RgbImage) -> Array2<f64> {
        let (w, h) = (image.width() as usize, image.height() as usize);
        let px = image.as_raw();
        Array2::from_shape_fn((h, w), |(y, x)| {
            let i = 3 * (y * w + x);
            self.neg_log_likelihood([px[i] as f64, px[i + 1] as f64, px[i + 2] as f64])
        })
    }

    /// `−log p(x)` for a colour `x`.
    #[inline]
    pub fn neg_log_likelihood(&self, x: [f64; 3]) -> f64 {
        let mut terms = [0f64; 16];
        let terms = &mut terms[..self.components.min(16)];
        let best = self.component_log_densities(x, terms);
        let sum: f64 = terms.iter().map(|t| relative_exp(t - best)).sum();
        -(best + sum.ln())
    }

    /// `log w_k + log N(x; μ_k, Σ_k)` of each component into `out`; returns the largest.
    #[inline]
    fn component_log_densities(&self, x: [f64; 3], out: &mut [f64]) -> f64 {
        let mut best = f64::NEG_INFINITY;
        for (k, t) in out.iter_mut().enumerate() {
            let m = &self.means[k];
            let d = [x[0] - m[0], x[1] - m[1], x[2] - m[2]];
            let p = &self.precisions[k];
            let mut q = 0.0;
            for i in 0..3 {
                q += d[i] * (p[i][0] * d[0] + p[i][1] * d[1] + p[i][2] * d[2]);
            }
            *t = self.log_norm[k] - 0.5 * q;
            best = best.max(*t);
        }
        best
    }

    /// The mixing weight of component `k`.
    pub fn weight(&self, k: usize) -> f64 {
        self.weights[k]
    }
}

fn invert3(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let d = det3(m);
    if d.abs() < 1e-300 || !d.is_finite() {
        return None;
    }
    let c = |a: usize, b: usize, e: usize, f: usize| m[a][b] * m[e][f] - m[a][f] * m[e][b];
    Some([
        [c(1, 1, 2, 2) / d, -c(0, 1, 2, 2) / d, c(0, 1, 1, 2) / d],
        [-c(1, 0, 2, 2) / d, c(0, 0, 2, 2) / d, -c(0, 0, 1, 2) / d],
        [c(1, 0, 2, 1) / d, -c(0, 0, 2, 1) / d, c(0, 0, 1, 1) / d],
    ])
}

/// The rows of an `[n, 3]` array as colour triples.
fn rows3(data: &Array2<f64>) -> Vec<[f64; 3]> {
    data.rows()
        .into_iter()
        .map(|r| [r[0], r[1], r[2]])
        .collect()
}

/// One EM fit with `k` components from the start `params.init` asks for.
fn try_fit(
    data: &Array2<f64>,
    k: usize,
    reg: f64,
    params: &GmmParams,
) -> Result<(ColourModel, EmOutcome), String> {
    if params.engine == GmmEngine::Linfa {
        return linfa_fit(data, k, reg, params);
    }
    let points = rows3(data);
    let mut rng = Xoshiro256Plus::seed_from_u64(params.seed);
    let resp: Vec<f64> = match params.init {
        GmmInit::KMeans => {
            let dataset = DatasetBase::from(data.clone());
            let fitted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                KMeans::params_with_rng(k, rng.clone())
                    .n_runs(1)
                    .fit(&dataset)
            }))
            .map_err(|_| "linfa's K-means panicked".to_string())?
            .map_err(|e| format!("K-means: {e}"))?;
            let labels = fitted.predict(&dataset);
            labels
                .iter()
                .flat_map(|&l| (0..k).map(move |c| if c == l { 1.0 } else { 0.0 }))
                .collect()
        }
        GmmInit::Random => (0..points.len())
            .flat_map(|_| {
                let r: Vec<f64> = (0..k)
                    .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
                    .collect();
                let total: f64 = r.iter().sum::<f64>().max(f64::MIN_POSITIVE);
                r.into_iter().map(move |v| v / total)
            })
            .collect(),
    };
    let start = em::m_step(&points, &resp, k, reg)?;
    em::run(
        &points,
        start,
        reg,
        params.max_iterations as usize,
        params.tolerance,
    )
}

/// A fit by linfa-clustering's `GaussianMixtureModel` ([`GmmEngine::Linfa`]). linfa's errors
/// and panics become `Err` for the caller's fallbacks; its model is checked for finite,
/// positive-definite precisions before it is scored.
fn linfa_fit(
    data: &Array2<f64>,
    k: usize,
    reg: f64,
    params: &GmmParams,
) -> Result<(ColourModel, EmOutcome), String> {
    let dataset = DatasetBase::from(data.clone());
    let rng = Xoshiro256Plus::seed_from_u64(params.seed);
    let fitted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        GaussianMixtureModel::params(k)
            .n_runs(1)
            .tolerance(params.tolerance)
            .max_n_iterations(params.max_iterations)
            .reg_covariance(reg)
            .init_method(match params.init {
                GmmInit::Random => GmmInitMethod::Random,
                GmmInit::KMeans => GmmInitMethod::KMeans,
            })
            .with_rng(rng)
            .fit(&dataset)
    }))
    .map_err(|_| "linfa's GMM panicked".to_string())?
    .map_err(|e| format!("linfa's GMM: {e}"))?;
    let (w, means, prec) = (fitted.weights(), fitted.means(), fitted.precisions());
    if !w.iter().all(|v| v.is_finite()) {
        return Err("linfa's GMM: non-finite weights".into());
    }
    let ms: Vec<[f64; 3]> = (0..w.len())
        .map(|c| [means[(c, 0)], means[(c, 1)], means[(c, 2)]])
        .collect();
    let mut ps = Vec::with_capacity(w.len());
    for c in 0..w.len() {
        let p: [[f64; 3]; 3] = std::array::from_fn(|i| std::array::from_fn(|j| prec[(c, i, j)]));
        if !p.iter().flatten().all(|v| v.is_finite()) || det3(&p) <= 0.0 {
            return Err(format!(
                "linfa's GMM: precision {c} is not positive definite"
            ));
        }
        ps.push(p);
    }
    let weights: Vec<f64> = w.iter().copied().collect();
    // linfa returns `NotConverged` as an error, so a model here has converged.
    let outcome = EmOutcome {
        iterations: 0,
        converged: true,
    };
    Ok((ColourModel::from_parts(&weights, &ms, &ps), outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_gaussian_likelihood_by_hand() {
        // Identity covariance at the origin: −log p(x) = ½|x|² + (3/2) log 2π.
        let m = ColourModel::from_parts(
            &[1.0],
            &[[0.0; 3]],
            &[[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]],
        );
        let want = 0.5 * 14.0 + 1.5 * (2.0 * std::f64::consts::PI).ln();
        assert!((m.neg_log_likelihood([1.0, 2.0, 3.0]) - want).abs() < 1e-12);
    }

    #[test]
    fn linfa_and_our_em_agree_on_two_clusters() {
        // Two elongated clusters: both engines, from the same K-means-style start, must find
        // them (component means within 0.5 of the cluster means) and score alike.
        let mut pts = Vec::new();
        for i in 0..600 {
            let j = (i % 11) as f64 - 5.0;
            let k = (i % 7) as f64 - 3.0;
            pts.extend_from_slice(&[40.0 + j, 60.0 + k, 80.0 + 0.5 * j]);
            pts.extend_from_slice(&[200.0 + k, 150.0 - j, 30.0 + 0.3 * k]);
        }
        let a = Array2::from_shape_vec((1200, 3), pts).unwrap();
        let fit = |engine| {
            ColourModel::fit(
                &a,
                &GmmParams {
                    components: 2,
                    init: GmmInit::KMeans,
                    engine,
                    ..Default::default()
                },
            )
        };
        let ((ours, ours_report), (linfa, linfa_report)) =
            (fit(GmmEngine::Em), fit(GmmEngine::Linfa));
        assert!(ours_report.notes.is_empty(), "{:?}", ours_report.notes);
        assert!(linfa_report.notes.is_empty(), "{:?}", linfa_report.notes);
        for m in [&ours, &linfa] {
            let mut means = m.means.clone();
            means.sort_by(|x, y| x[0].total_cmp(&y[0]));
            for (got, want) in means.iter().zip([[40.0, 60.0, 80.0], [200.0, 150.0, 30.0]]) {
                for d in 0..3 {
                    assert!((got[d] - want[d]).abs() < 0.5, "{means:?}");
                }
            }
        }
        for x in [
            [41.0, 59.0, 80.0],
            [199.0, 151.0, 30.0],
            [120.0, 100.0, 60.0],
        ] {
            let (a, b) = (ours.neg_log_likelihood(x), linfa.neg_log_likelihood(x));
            assert!((a - b).abs() < 1e-3 * a.abs().max(1.0), "{x:?}: {a} vs {b}");
        }
    }

    #[test]
    fn two_clusters_are_separated() {
        let mut pts = Vec::new();
        for i in 0..400 {
            let j = (i % 7) as f64;
            pts.extend_from_slice(&[20.0 + j, 30.0 - j, 40.0 + j * 0.5]);
            pts.extend_from_slice(&[200.0 - j, 180.0 + j, 220.0 - j * 0.3]);
        }
        let a = Array2::from_shape_vec((800, 3), pts).unwrap();
        let (m, _) = ColourModel::fit(
            &a,
            &GmmParams {
                components: 2,
                ..Default::default()
            },
        );
        assert!(
            m.neg_log_likelihood([21.0, 29.0, 40.0]) < m.neg_log_likelihood([110.0, 100.0, 120.0])
        );
        assert!(
            m.neg_log_likelihood([199.0, 181.0, 220.0])
                < m.neg_log_likelihood([110.0, 100.0, 120.0])
        );
    }

    #[test]
    fn degenerate_data_falls_back_and_says_so() {
        // Three identical points: 5 components cannot be fitted, by either engine.
        let a = Array2::from_shape_vec((3, 3), vec![5.0; 9]).unwrap();
        for engine in [GmmEngine::Em, GmmEngine::Linfa] {
            let params = GmmParams {
                engine,
                ..Default::default()
            };
            let (m, r) = ColourModel::fit(&a, &params);
            assert!(m.components <= 3, "{engine:?}");
            assert!(!r.notes.is_empty(), "{engine:?}");
            assert!(m.neg_log_likelihood([5.0, 5.0, 5.0]).is_finite());
        }
    }
}
