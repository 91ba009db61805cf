//! Foreground and background seeds from a saliency map: the pixels above a high quantile and
//! below a low one (the paper: 95 % and 30 %).
use ndarray::Array2;

/// Seed masks and the thresholds that made them.
#[derive(Clone, Debug)]
pub struct Seeds {
    pub foreground: Array2<bool>,
    pub background: Array2<bool>,
    pub fg_threshold: f32,
    pub bg_threshold: f32,
}

impl Seeds {
    pub fn fg_count(&self) -> usize {
        self.foreground.iter().filter(|v| **v).count()
    }
    pub fn bg_count(&self) -> usize {
        self.background.iter().filter(|v| **v).count()
    }
}

/// The `q` quantile of `values` with linear interpolation between order statistics
/// (NumPy's default), `q` in [0, 1].
pub fn quantile(values: &[f32], q: f64) -> f32 {
    assert!(!values.is_empty());
    quantile_in_place(&mut values.to_vec(), q)
}

/// [`quantile`], reordering `v`: the two order statistics around the position are found
/// by selection (linear time) instead of a sort, which took most of the seed step.
fn quantile_in_place(v: &mut [f32], q: f64) -> f32 {
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let t = (pos - lo as f64) as f32;
    let (_, &mut below, above) = v.select_nth_unstable_by(lo, f32::total_cmp);
    if t == 0.0 {
        return below;
    }
    let next = above
        .iter()
        .copied()
        .min_by(f32::total_cmp)
        .unwrap_or(below);
    below + (next - below) * t
}

/// Foreground: saliency strictly above the `fg_q` quantile; background: strictly below
/// the `bg_q` quantile.
pub fn quantile_seeds(saliency: &Array2<f32>, fg_q: f64, bg_q: f64) -> Seeds {
    let mut values: Vec<f32> = saliency.iter().copied().collect();
    let fg_threshold = quantile_in_place(&mut values, fg_q);
    let bg_threshold = quantile_in_place(&mut values, bg_q);
    Seeds {
        foreground: saliency.mapv(|s| s > fg_threshold),
        background: saliency.mapv(|s| s < bg_threshold),
        fg_threshold,
        bg_threshold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0f32, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 0.95), 4.8);
        assert!((quantile(&v, 0.3) - 2.2).abs() < 1e-6);
    }

    #[test]
    fn selection_gives_the_sorted_order_statistics() {
        let mut x = 0.37f32;
        let values: Vec<f32> = (0..1001)
            .map(|i| {
                x = (x * 97.0 + 0.13).fract();
                if i % 50 == 0 {
                    0.5
                } else {
                    x
                }
            })
            .collect();
        let mut sorted = values.clone();
        sorted.sort_unstable_by(f32::total_cmp);
        for q in [0.0, 0.3, 0.5, 0.95, 0.999, 1.0] {
            let pos = q * (sorted.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            let want = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64) as f32;
            assert_eq!(quantile(&values, q), want, "q = {q}");
        }
    }

    #[test]
    fn constant_maps_have_no_seeds() {
        let s = quantile_seeds(&Array2::from_elem((4, 4), 0.5), 0.95, 0.3);
        assert_eq!((s.fg_count(), s.bg_count()), (0, 0));
    }
}
