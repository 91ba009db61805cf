//! The map of each class, from the preset's source: the input gradient under a backward
//! rule, or Grad-CAM on the image, its ten crops, or its ten crops at several scales.
use super::preset::{MapSource, Preset};
use crate::error::{Error, Result};
use attribution::{
    attribute, grad_cam, grad_cam_ten_crop, last_spatial_layer, upsample_bilinear, Method,
    Reduction, TenCrop,
};
use convnet::{ImageModel, Target};
use image::RgbImage;
use ndarray::Array2;

/// A class's map at the input size, the class it is for, and that class's score.
pub(crate) type ClassMap = (Array2<f32>, Option<usize>, f32);

impl Preset {
    /// The map of every target for the one image of `x`.
    pub(crate) fn maps(
        &self,
        model: &dyn ImageModel,
        image: &RgbImage,
        x: &candle_core::Tensor,
        targets: &[Target],
    ) -> Result<Vec<ClassMap>> {
        Ok(match &self.maps {
            MapSource::Saliency { method, reduction } => attribute(model, x, targets, *method)?
                .remove(0)
                .into_iter()
                .map(|a| (a.map(*reduction), a.target.class, a.score))
                .collect(),
            MapSource::GradCam {
                layer,
                crops,
                scales,
                guide,
            } => {
                let mut maps = cam_maps(model, image, x, targets, layer, *crops, scales)?;
                if let Some(sigma) = guide {
                    let guided = attribute(model, x, targets, Method::GuidedBackprop)?.remove(0);
                    for (m, g) in maps.iter_mut().zip(guided) {
                        let fine = convnet::blur::blurred(&g.map(Reduction::MaxAbs), *sigma);
                        let (c, f) = (unit_max(&m.0), unit_max(&fine));
                        m.0 = ndarray::Zip::from(&c)
                            .and(&f)
                            .map_collect(|a, b| (a * b).sqrt());
                    }
                }
                maps
            }
        })
    }
}

/// A non-negative map divided by its maximum (all zeros if it has none), so that maps of
/// different scales or sources can be averaged or multiplied.
fn unit_max(a: &Array2<f32>) -> Array2<f32> {
    let max = a.fold(0f32, |x, &v| x.max(v));
    a.mapv(|v| if max > 0.0 { v.max(0.0) / max } else { 0.0 })
}

/// Grad-CAM maps of `targets` at the input size: single crop, or 10-crop at each scale.
fn cam_maps(
    model: &dyn ImageModel,
    image: &RgbImage,
    x: &candle_core::Tensor,
    targets: &[Target],
    layer: &Option<String>,
    crops: u8,
    scales: &[u32],
) -> Result<Vec<ClassMap>> {
    let layer = match layer {
        Some(l) => l.clone(),
        None => last_spatial_layer(model).ok_or_else(|| {
            Error::Layer(format!("{} has no feature map for Grad-CAM", model.name()))
        })?,
    };
    if crops == 1 {
        return Ok(grad_cam(model, x, targets, &layer)?
            .remove(0)
            .into_iter()
            .map(|c| (c.map, c.target.class, c.score))
            .collect());
    }
    // Ranks are decided on the image itself, as for the single-crop maps.
    let logits: Vec<f32> = model.forward(x)?.get(0)?.to_vec1()?;
    let fixed: Vec<Target> = targets.iter().map(|t| t.fixed_for(&logits)).collect();
    let (h, w) = (image.height() as usize, image.width() as usize);
    let mut sum: Vec<ClassMap> = Vec::new();
    for &short_side in scales {
        let maps = grad_cam_ten_crop(model, image, &fixed, &layer, TenCrop { short_side })?;
        for (i, c) in maps.into_iter().enumerate() {
            let mut m = upsample_bilinear(&c.map, h, w);
            if scales.len() > 1 {
                m = unit_max(&m);
            }
            match sum.get_mut(i) {
                Some(acc) => acc.0 += &m,
                None => {
                    let class = c.target.class;
                    let score = class.map_or(c.score, |k| logits[k]);
                    sum.push((m, class, score));
                }
            }
        }
    }
    Ok(sum)
}
