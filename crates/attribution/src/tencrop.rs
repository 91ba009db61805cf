//! The paper's 10-crop saliency (Sect. 3.1): resize so the short side is 256, take the four
//! corner and the centre crops at the model's input size and their horizontal mirrors,
//! compute the ten maps in one batch, un-mirror them, put each back where its crop came
//! from and average by how many crops cover each pixel.
use crate::attribute::Pass;
use crate::error::{AttributionError, Result};
use crate::reduce::Reduction;
use convnet::preprocess::pillow_bilinear;
use convnet::{BackwardRule, ImageModel};
use convnet::{ResolvedTarget, Target};
use image::RgbImage;
use ndarray::{s, Array2};

/// Geometry of the 10-crop scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TenCrop {
    /// Short side after resizing (256 in the paper).
    pub short_side: u32,
}

impl Default for TenCrop {
    fn default() -> Self {
        TenCrop { short_side: 256 }
    }
}

/// The averaged map over the resized image, and what was attributed.
#[derive(Clone, Debug)]
pub struct TenCropResult {
    /// `[h, w]` of the resized image.
    pub map: Array2<f32>,
    /// The image the map covers (short side = `short_side`).
    pub resized: RgbImage,
    pub target: ResolvedTarget,
    /// Mean of the target's score over the ten crops.
    pub score: f32,
}

/// The most a 10-crop image's long side may exceed its short side by: past it the five
/// crops cover a sliver of the image (at 16:1, under a third of it), and the map grows with
/// the long side. A 1 × 5000 image would otherwise make a 256 × 1 280 000 map.
pub const MAX_ASPECT_RATIO: u64 = 16;

/// The most pixels a 10-crop map (the resized image) may have: 2^22, 16 MiB of float32 and a
/// 12 MiB RGB image. The paper's short side of 256 at the largest aspect ratio needs 2^20.
pub const MAX_MAP_PIXELS: u64 = 1 << 22;

impl TenCrop {
    /// The resized size of a `w × h` image, or an error naming the limit it is over
    /// ([`MAX_ASPECT_RATIO`], [`MAX_MAP_PIXELS`]).
    pub fn checked_size(&self, w: u32, h: u32) -> Result<(u32, u32)> {
        let (short, long) = (w.min(h) as u64, w.max(h) as u64);
        if short == 0 {
            return Err(AttributionError::Input(format!(
                "a {w} × {h} image has no pixels"
            )));
        }
        if long > MAX_ASPECT_RATIO * short {
            return Err(AttributionError::Input(format!(
                "a {w} × {h} image is over the 10-crop aspect-ratio limit of \
                 {MAX_ASPECT_RATIO}:1 (use one crop, which squashes it to the model's input)"
            )));
        }
        let (rw, rh) = self.resized_size(w, h);
        if rw as u64 * rh as u64 > MAX_MAP_PIXELS {
            return Err(AttributionError::Input(format!(
                "10-crop map of {rw} × {rh} pixels (short side {}) is over the limit of \
                 {MAX_MAP_PIXELS}",
                self.short_side
            )));
        }
        Ok((rw, rh))
    }

    /// Size of the resized image: short side to `short_side`, long side scaled and
    /// truncated (torchvision's `Resize(256)`).
    pub fn resized_size(&self, w: u32, h: u32) -> (u32, u32) {
        let s = self.short_side as u64;
        let scaled = |a: u32, b: u32| (s * a as u64 / b.max(1) as u64).min(u32::MAX as u64) as u32;
        if w <= h {
            (self.short_side, scaled(h, w))
        } else {
            (scaled(w, h), self.short_side)
        }
    }

    /// Top-left corners `(x, y)` of the five crops of size `c` in a `w × h` image:
    /// the four corners, then the centre.
    pub fn offsets(w: u32, h: u32, c: u32) -> [(u32, u32); 5] {
        let (dx, dy) = (w - c, h - c);
        [(0, 0), (dx, 0), (0, dy), (dx, dy), (dx / 2, dy / 2)]
    }
}

fn mirror(img: &RgbImage) -> RgbImage {
    image::imageops::flip_horizontal(img)
}

/// The ten crops of an image: the resized image, the five crop corners, and the crops
/// (five, then their mirrors) at the model's input size.
pub(crate) struct Crops {
    pub resized: RgbImage,
    pub offsets: [(u32, u32); 5],
    pub images: Vec<RgbImage>,
    pub crop_w: u32,
    pub crop_h: u32,
}

impl Crops {
    pub fn new(model: &dyn ImageModel, img: &RgbImage, geometry: TenCrop) -> Result<Self> {
        let pre = model.preprocessing();
        let (cw, ch) = (pre.width, pre.height);
        let (w, h) = geometry.checked_size(img.width(), img.height())?;
        let (w, h) = (w.max(cw), h.max(ch));
        let resized = pillow_bilinear(img, w, h);
        let offsets = TenCrop::offsets(w, h, cw.max(ch));
        let mut images = Vec::with_capacity(10);
        for &(x, y) in &offsets {
            images.push(image::imageops::crop_imm(&resized, x, y, cw, ch).to_image());
        }
        for i in 0..5 {
            let m = mirror(&images[i]);
            images.push(m);
        }
        Ok(Crops {
            resized,
            offsets,
            images,
            crop_w: cw,
            crop_h: ch,
        })
    }

    /// Un-mirrors the ten crop-sized maps, puts each back where its crop came from and
    /// averages by coverage: one map over the resized image.
    pub fn place(&self, maps: impl IntoIterator<Item = Array2<f32>>) -> Array2<f32> {
        let (w, h) = self.resized.dimensions();
        let mut acc = Array2::<f32>::zeros((h as usize, w as usize));
        let mut count = Array2::<f32>::zeros((h as usize, w as usize));
        for (i, mut m) in maps.into_iter().enumerate() {
            if i >= 5 {
                m.invert_axis(ndarray::Axis(1));
            }
            let (x0, y0) = self.offsets[i % 5];
            let (x0, y0) = (x0 as usize, y0 as usize);
            let region = s![y0..y0 + self.crop_h as usize, x0..x0 + self.crop_w as usize];
            acc.slice_mut(region).zip_mut_with(&m, |a, v| *a += v);
            count.slice_mut(region).mapv_inplace(|c| c + 1.0);
        }
        acc.zip_mut_with(&count, |a, &c| *a /= c.max(1.0));
        acc
    }
}

/// 10-crop averaged saliency of one image. A `Top1`/`Rank` target is the class ranked so by
/// the mean logits over the ten crops (one class for all crops, as in the paper).
pub fn ten_crop(
    model: &dyn ImageModel,
    img: &RgbImage,
    target: &Target,
    method: BackwardRule,
    reduction: Reduction,
    geometry: TenCrop,
) -> Result<TenCropResult> {
    let crops = Crops::new(model, img, geometry)?;
    let x = model.preprocessing().batch(&crops.images, model.device())?;
    let pass = Pass::new(model, &x, method, std::slice::from_ref(target))?;
    let attributions = match target {
        // The class is ranked on the mean logits of the ten crops, the same for every crop.
        Target::Top1 | Target::Rank(_) => {
            let n = pass.logits[0].len();
            let mean: Vec<f32> = (0..n)
                .map(|j| pass.logits.iter().map(|r| r[j]).sum::<f32>() / 10.0)
                .collect();
            pass.attribute(&target.fixed_for(&mean))?
        }
        _ => pass.attribute(target)?,
    };
    let map = crops.place(attributions.iter().map(|a| a.map(reduction)));
    let score = attributions.iter().map(|a| a.score).sum::<f32>() / attributions.len() as f32;
    Ok(TenCropResult {
        map,
        resized: crops.resized,
        target: attributions[0].target.clone(),
        score,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_matches_the_paper() {
        let g = TenCrop::default();
        assert_eq!(g.resized_size(500, 375), (341, 256));
        assert_eq!(g.resized_size(256, 256), (256, 256));
        assert_eq!(
            TenCrop::offsets(256, 256, 224),
            [(0, 0), (32, 0), (0, 32), (32, 32), (16, 16)]
        );
    }

    #[test]
    fn sizes_past_the_limits_are_refused_by_name() {
        let g = TenCrop::default();
        assert_eq!(g.checked_size(500, 375).unwrap(), (341, 256));
        assert_eq!(g.checked_size(1, 1).unwrap(), (256, 256));
        assert_eq!(g.checked_size(16, 256).unwrap(), (256, 4096));
        let e = g.checked_size(1, 5000).unwrap_err().to_string();
        assert!(e.contains("1 × 5000") && e.contains("16:1"), "{e}");
        let e = g.checked_size(0, 5).unwrap_err().to_string();
        assert!(e.contains("no pixels"), "{e}");
        let big = TenCrop { short_side: 4096 };
        let e = big.checked_size(1000, 1000).unwrap_err().to_string();
        assert!(
            e.contains("4096 × 4096") && e.contains("over the limit"),
            "{e}"
        );
        // The u32 long side cannot overflow.
        assert_eq!(g.resized_size(1, u32::MAX).1, u32::MAX);
    }
}
