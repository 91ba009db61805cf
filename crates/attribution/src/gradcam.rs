//! Grad-CAM (Selvaraju et al. 2017): the gradient taken at a deep layer instead of the input.
//! Each channel k of layer A is weighted by the spatial mean of ∂S/∂A_k, the weighted sum is
//! rectified and upsampled to the input. It is the paper's idea (attribution by the gradient
//! of the class score) read out where the network's features are spatially coarse but
//! semantic, which is why its maps cover whole objects rather than scattered edges. For a
//! network ending in global average pooling and a linear layer it equals CAM (Zhou et al.
//! 2016).
use crate::error::{AttributionError, Result};
use candle_core::{Tensor, D};
use convnet::{BackwardRule, ForwardOptions, ImageModel};
use convnet::{ResolvedTarget, Target};
use ndarray::Array2;

/// A class activation map of one target for one image.
#[derive(Clone, Debug)]
pub struct CamMap {
    /// The map at the input's resolution (bilinear, half-pixel centres), ≥ 0.
    pub map: Array2<f32>,
    /// The map at the layer's resolution.
    pub coarse: Array2<f32>,
    pub target: ResolvedTarget,
    /// The value of the target's score for this image.
    pub score: f32,
}

/// The last layer of `model` with a spatial feature map (more than one pixel), the usual
/// Grad-CAM layer.
pub fn last_spatial_layer(model: &dyn ImageModel) -> Option<String> {
    model
        .layers()
        .iter()
        .rev()
        .find(|l| l.shape.len() == 3 && l.shape[1] * l.shape[2] > 1)
        .map(|l| l.name.clone())
}

/// How the channels of the layer are weighted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CamWeighting {
    /// Grad-CAM: α_k = mean over positions of ∂S/∂A_k.
    #[default]
    GradCam,
    /// Grad-CAM++ (Chattopadhay et al. 2018): α_k = Σ_ij a_ij ReLU(∂S/∂A_kij) with
    /// a = g² / (2g² + Σ_ij A_k · g³), the closed form for an exponential score that
    /// pytorch-grad-cam and the authors use; it weights every location that raises the
    /// score, so several instances of a class all show.
    GradCamPlusPlus,
}

impl CamWeighting {
    pub fn method_name(self) -> &'static str {
        match self {
            CamWeighting::GradCam => "gradcam",
            CamWeighting::GradCamPlusPlus => "gradcam++",
        }
    }
}

/// Checks that `layer` has a spatial feature map, the one thing Grad-CAM needs of it.
pub fn check_cam_layer(model: &dyn ImageModel, layer: &str) -> Result<()> {
    let info = model.layer(layer)?;
    if info.shape.len() != 3 {
        return Err(AttributionError::Target(format!(
            "Grad-CAM needs a layer with a spatial feature map [channels, height, width]; \
             layer {layer} of {} has shape {:?}{}",
            model.name(),
            info.shape,
            last_spatial_layer(model)
                .map(|l| format!(" (the last spatial layer is {l})"))
                .unwrap_or_default()
        )));
    }
    Ok(())
}

/// Grad-CAM maps of every target for every image of the normalised batch `x` at `layer`:
/// `result[image][target]`. One forward pass, one backward pass per target.
pub fn grad_cam(
    model: &dyn ImageModel,
    x: &Tensor,
    targets: &[Target],
    layer: &str,
) -> Result<Vec<Vec<CamMap>>> {
    grad_cam_weighted(model, x, targets, layer, CamWeighting::GradCam)
}

/// [`grad_cam`] with the channel weighting of Grad-CAM or Grad-CAM++.
pub fn grad_cam_weighted(
    model: &dyn ImageModel,
    x: &Tensor,
    targets: &[Target],
    layer: &str,
    weighting: CamWeighting,
) -> Result<Vec<Vec<CamMap>>> {
    check_cam_layer(model, layer)?;
    for t in targets {
        t.validate(model)?;
    }
    let mut capture = Target::layers_of(targets);
    if !capture.iter().any(|l| l == layer) {
        capture.push(layer.to_string());
    }
    let out = model.forward_with(
        x,
        &ForwardOptions {
            rule: BackwardRule::Gradient,
            capture,
            probe: vec![layer.to_string()],
        },
    )?;
    let logits = out.logits.to_vec2::<f32>()?;
    let act = &out.activations[layer];
    let probe = &out.probes[layer];
    let (b, _, h, w) = act.dims4()?;
    let (in_h, in_w) = (x.dim(2)?, x.dim(3)?);
    let mut result: Vec<Vec<CamMap>> = (0..b).map(|_| Vec::with_capacity(targets.len())).collect();
    for t in targets {
        let (scores, resolved) = t.scores(model, &out, &logits)?;
        let values = scores.to_vec1::<f32>()?;
        let grads = scores.sum_all()?.backward()?;
        // No gradient means the score does not depend on the layer: all weights zero.
        let g = match grads.get(probe.as_tensor()) {
            Some(g) => g.clone(),
            None => probe.as_tensor().zeros_like()?,
        };
        let a = act.detach();
        let alpha = match weighting {
            // α_k = mean over positions of ∂S/∂A_k; map = ReLU(Σ_k α_k A_k).
            CamWeighting::GradCam => g.mean_keepdim(D::Minus1)?.mean_keepdim(D::Minus2)?,
            CamWeighting::GradCamPlusPlus => {
                let g2 = g.sqr()?;
                let g3 = (&g2 * &g)?;
                let sum_a = a.sum_keepdim(D::Minus1)?.sum_keepdim(D::Minus2)?;
                let denom = ((&g2 * 2.0)?.broadcast_add(&g3.broadcast_mul(&sum_a)?)? + 1e-7)?;
                // Where g = 0 the coefficient is 0 (and so is its product with ReLU(g)).
                let coeff = (g2 / denom)?;
                (coeff * g.relu()?)?
                    .sum_keepdim(D::Minus1)?
                    .sum_keepdim(D::Minus2)?
            }
        };
        let cam = a.broadcast_mul(&alpha)?.sum(1)?.relu()?;
        let cam = cam.flatten_all()?.to_vec1::<f32>()?;
        for (i, r) in resolved.into_iter().enumerate() {
            let coarse = Array2::from_shape_vec((h, w), cam[i * h * w..(i + 1) * h * w].to_vec())
                .expect("sizes match");
            result[i].push(CamMap {
                map: upsample_bilinear(&coarse, in_h, in_w),
                coarse,
                target: r,
                score: values[i],
            });
        }
    }
    Ok(result)
}

/// Guided Grad-CAM (Selvaraju et al. 2017): guided backprop's `[3, h, w]` attribution times
/// the Grad-CAM map upsampled to the input, high-resolution detail gated by class
/// localisation. The upsampling is nearest-neighbour, Captum's `GuidedGradCam` default.
pub fn guided_grad_cam(
    model: &dyn ImageModel,
    x: &Tensor,
    targets: &[Target],
    layer: &str,
) -> Result<Vec<Vec<crate::Attribution>>> {
    let cams = grad_cam(model, x, targets, layer)?;
    let mut guided = crate::attribute(model, x, targets, BackwardRule::GuidedBackprop)?;
    for (per_image, cams) in guided.iter_mut().zip(&cams) {
        for (a, cam) in per_image.iter_mut().zip(cams) {
            let (_, h, w) = a.raw.dim();
            let up = upsample_nearest(&cam.coarse, h, w);
            for mut plane in a.raw.outer_iter_mut() {
                plane *= &up;
            }
        }
    }
    Ok(guided)
}

/// Grad-CAM of each class target averaged over the paper's ten crops (Sect. 3.1's scheme
/// applied to the deep-layer map): the crops are shifted by fractions of a feature cell
/// (16 and 32 pixels against 32-pixel cells at stride 32) and mirrored, so their average
/// resolves the object's extent more finely than one 7×7 map. Returns one map per target
/// over the resized image (short side `geometry.short_side`), and that image's size.
pub fn grad_cam_ten_crop(
    model: &dyn ImageModel,
    img: &image::RgbImage,
    targets: &[Target],
    layer: &str,
    geometry: crate::TenCrop,
) -> Result<Vec<CamMap>> {
    for t in targets {
        if matches!(t, Target::Top1 | Target::Rank(_)) {
            return Err(AttributionError::Target(
                "10-crop Grad-CAM needs fixed targets (classes, neurons, channels)".into(),
            ));
        }
    }
    let crops = crate::tencrop::Crops::new(model, img, geometry)?;
    let x = model.preprocessing().batch(&crops.images, model.device())?;
    let per_crop = grad_cam(model, &x, targets, layer)?;
    Ok((0..targets.len())
        .map(|t| {
            let map = crops.place(per_crop.iter().map(|c| c[t].map.clone()));
            CamMap {
                coarse: per_crop[0][t].coarse.clone(),
                target: per_crop[0][t].target.clone(),
                score: per_crop.iter().map(|c| c[t].score).sum::<f32>() / per_crop.len() as f32,
                map,
            }
        })
        .collect())
}

/// Nearest-neighbour resize in PyTorch's `interpolate(..., mode="nearest")` convention
/// (source index ⌊o · n_in / n_out⌋), Captum's default for guided Grad-CAM.
pub fn upsample_nearest(m: &Array2<f32>, out_h: usize, out_w: usize) -> Array2<f32> {
    let (h, w) = m.dim();
    Array2::from_shape_fn((out_h, out_w), |(y, x)| {
        m[(((y * h) / out_h).min(h - 1), ((x * w) / out_w).min(w - 1))]
    })
}

/// Bilinear resize with half-pixel centres and edge clamping (PyTorch's
/// `interpolate(..., mode="bilinear", align_corners=False)`, OpenCV's `INTER_LINEAR`).
pub fn upsample_bilinear(m: &Array2<f32>, out_h: usize, out_w: usize) -> Array2<f32> {
    let (h, w) = m.dim();
    let coord = |o: usize, n_out: usize, n_in: usize| {
        let s = ((o as f32 + 0.5) * n_in as f32 / n_out as f32 - 0.5).max(0.0);
        let i0 = (s.floor() as usize).min(n_in - 1);
        let i1 = (i0 + 1).min(n_in - 1);
        (i0, i1, s - i0 as f32)
    };
    Array2::from_shape_fn((out_h, out_w), |(y, x)| {
        let (y0, y1, fy) = coord(y, out_h, h);
        let (x0, x1, fx) = coord(x, out_w, w);
        let top = m[(y0, x0)] * (1.0 - fx) + m[(y0, x1)] * fx;
        let bottom = m[(y1, x0)] * (1.0 - fx) + m[(y1, x1)] * fx;
        top * (1.0 - fy) + bottom * fy
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsampling_keeps_constants_and_interpolates_between_centres() {
        let c = Array2::from_elem((2, 3), 4.0f32);
        assert!(upsample_bilinear(&c, 7, 9)
            .iter()
            .all(|v| (v - 4.0).abs() < 1e-6));
        let m = Array2::from_shape_vec((1, 2), vec![0.0f32, 1.0]).unwrap();
        let u = upsample_bilinear(&m, 1, 4);
        // Output centres 0.5, 1.5, 2.5, 3.5 map to input −0.25 (clamped), 0.25, 0.75, 1.25.
        let want = [0.0, 0.25, 0.75, 1.0];
        for (g, w) in u.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{u:?}");
        }
    }
}
