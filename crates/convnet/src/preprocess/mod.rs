//! Turning image files into the normalised NCHW tensors a model expects, bit-identical to
//! the PyTorch reference pipeline (libjpeg-turbo decode, Pillow's antialiased bilinear
//! resize rounded to uint8, then per-channel normalisation in float32).
mod decode;
mod jpeg;
mod resize;

pub use decode::{decode_rgb, load_rgb};
pub use resize::pillow_bilinear;

use crate::error::{ConvnetError, Result};
use candle_core::{Device, Tensor};
use image::RgbImage;
use std::path::Path;

/// How an image is brought to the input size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resize {
    /// Resized to exactly the input size, ignoring the aspect ratio.
    #[default]
    Squash,
    /// The shorter side resized to this many pixels (the longer one in proportion,
    /// truncated as torchvision's `Resize(int)`), then the centre cropped to the input
    /// size with torchvision's `CenterCrop` offsets (`round((len − crop) / 2)`, half to even).
    ShorterSideThenCrop(u32),
}

/// How a model wants its input: size, resize rule and normalisation.
///
/// A pixel value `p` in 0..=255 becomes `(p / pixel_scale − mean[c]) / std[c]`, computed in
/// float32 in that order (torchvision's `ToTensor` + `Normalize` when `pixel_scale` is 255).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Preprocessing {
    /// Input width and height in pixels.
    pub width: u32,
    pub height: u32,
    pub resize: Resize,
    pub pixel_scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Preprocessing {
    /// EfficientNet-Lite's `(x − 127) / 128` on 0..255 RGB at 224×224.
    pub fn efficientnet_lite() -> Self {
        Preprocessing {
            width: 224,
            height: 224,
            resize: Resize::Squash,
            pixel_scale: 1.0,
            mean: [127.0; 3],
            std: [128.0; 3],
        }
    }

    /// torchvision's ImageNet normalisation on `x / 255` at 224×224.
    pub fn torchvision_imagenet() -> Self {
        Preprocessing {
            width: 224,
            height: 224,
            resize: Resize::Squash,
            pixel_scale: 255.0,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }

    /// Mean-image subtraction on 0..255 RGB (the paper's own preprocessing).
    pub fn mean_subtraction() -> Self {
        Preprocessing {
            width: 224,
            height: 224,
            resize: Resize::Squash,
            pixel_scale: 1.0,
            mean: [123.675, 116.28, 103.53],
            std: [1.0; 3],
        }
    }

    /// Brings an image to the input size with Pillow's bilinear filter: squashed, or its
    /// shorter side resized and the centre cropped (see [`Resize`]).
    pub fn resize(&self, img: &RgbImage) -> RgbImage {
        match self.resize {
            Resize::Squash => pillow_bilinear(img, self.width, self.height),
            Resize::ShorterSideThenCrop(side) => {
                let (w, h) = img.dimensions();
                let (rw, rh) = if w <= h {
                    (side, (side as u64 * h as u64 / w.max(1) as u64) as u32)
                } else {
                    ((side as u64 * w as u64 / h.max(1) as u64) as u32, side)
                };
                let resized = if (rw, rh) == (w, h) {
                    img.clone()
                } else {
                    pillow_bilinear(img, rw, rh)
                };
                centre_crop(&resized, self.width, self.height)
            }
        }
    }

    /// Normalises an RGB image of any size into CHW float32 values.
    pub fn normalise(&self, img: &RgbImage) -> Vec<f32> {
        let (w, h) = img.dimensions();
        let plane = (w * h) as usize;
        let mut out = vec![0f32; 3 * plane];
        for (i, px) in img.pixels().enumerate() {
            for c in 0..3 {
                out[c * plane + i] = (px[c] as f32 / self.pixel_scale - self.mean[c]) / self.std[c];
            }
        }
        out
    }

    /// Inverse of [`normalise`](Self::normalise), rounded and clamped to 0..=255.
    pub fn denormalise(&self, chw: &[f32], width: u32, height: u32) -> RgbImage {
        let plane = (width * height) as usize;
        RgbImage::from_fn(width, height, |x, y| {
            let i = (y * width + x) as usize;
            let v = |c: usize| {
                let p = (chw[c * plane + i] * self.std[c] + self.mean[c]) * self.pixel_scale;
                p.round().clamp(0.0, 255.0) as u8
            };
            image::Rgb([v(0), v(1), v(2)])
        })
    }

    /// Value of a normalised input that corresponds to the pixel value `p` in channel `c`.
    pub fn normalised_value(&self, c: usize, p: f32) -> f32 {
        (p / self.pixel_scale - self.mean[c]) / self.std[c]
    }

    /// Resizes and normalises a batch of images into one `[n, 3, h, w]` tensor.
    pub fn batch(&self, images: &[RgbImage], device: &Device) -> Result<Tensor> {
        let mut data = Vec::with_capacity(images.len() * 3 * (self.width * self.height) as usize);
        for img in images {
            if img.dimensions() == (self.width, self.height) {
                data.extend(self.normalise(img));
            } else {
                data.extend(self.normalise(&self.resize(img)));
            }
        }
        let t = Tensor::from_vec(
            data,
            (images.len(), 3, self.height as usize, self.width as usize),
            device,
        )?;
        Ok(t)
    }

    /// The image as the model sees it (resized to the input size) and its normalised
    /// `[1, 3, h, w]` tensor: what pictures are drawn on and what the model is run on.
    pub fn prepare(&self, img: &RgbImage, device: &Device) -> Result<(RgbImage, Tensor)> {
        let shown = self.resize(img);
        let x = self.batch(std::slice::from_ref(&shown), device)?;
        Ok((shown, x))
    }

    /// Loads an image file and prepares it: decode, convert to RGB, resize, normalise.
    pub fn load(&self, path: &Path, device: &Device) -> Result<Tensor> {
        let img = load_rgb(path)?;
        self.batch(std::slice::from_ref(&img), device)
    }

    /// Checks that `x` is a `[n, 3, h, w]` batch at this input size.
    pub fn check_input(&self, model: &str, x: &Tensor) -> Result<()> {
        let dims = x.dims();
        if dims.len() != 4
            || dims[1] != 3
            || dims[2] != self.height as usize
            || dims[3] != self.width as usize
        {
            return Err(ConvnetError::Shape {
                model: model.to_string(),
                got: dims.to_vec(),
                expected: format!("[batch, 3, {}, {}]", self.height, self.width),
            });
        }
        Ok(())
    }
}

/// torchvision's `CenterCrop`: offsets `round((len − crop) / 2)` with Python's
/// half-to-even rounding; a crop larger than the image is padded with black, as there.
pub fn centre_crop(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let offset = |len: u32, crop: u32| ((len as f64 - crop as f64) / 2.0).round_ties_even() as i64;
    let (top, left) = (offset(img.height(), height), offset(img.width(), width));
    RgbImage::from_fn(width, height, |x, y| {
        let (sx, sy) = (x as i64 + left, y as i64 + top);
        if sx < 0 || sy < 0 || sx >= img.width() as i64 || sy >= img.height() as i64 {
            image::Rgb([0, 0, 0])
        } else {
            *img.get_pixel(sx as u32, sy as u32)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_and_denormalise_round_trip() {
        let img = RgbImage::from_fn(5, 4, |x, y| {
            image::Rgb([(x * 50) as u8, (y * 60) as u8, 255])
        });
        for p in [
            Preprocessing::efficientnet_lite(),
            Preprocessing::torchvision_imagenet(),
            Preprocessing::mean_subtraction(),
        ] {
            let v = p.normalise(&img);
            assert_eq!(p.denormalise(&v, 5, 4), img);
        }
        let e = Preprocessing::efficientnet_lite();
        assert_eq!(
            e.normalise(&RgbImage::from_pixel(1, 1, image::Rgb([127, 255, 0]))),
            vec![0.0, 1.0, -127.0 / 128.0]
        );
    }

    #[test]
    fn centre_crop_rounds_half_to_even_like_torchvision() {
        let img = RgbImage::from_fn(7, 4, |x, y| image::Rgb([x as u8, y as u8, 0]));
        // (7 − 2) / 2 = 2.5 rounds to 2; (4 − 1) / 2 = 1.5 rounds to 2.
        let c = centre_crop(&img, 2, 1);
        assert_eq!(c.get_pixel(0, 0).0, [2, 2, 0]);
        // (7 − 4) / 2 = 1.5 → 2.
        assert_eq!(centre_crop(&img, 4, 4).get_pixel(0, 0).0, [2, 0, 0]);
    }

    #[test]
    fn wrong_shapes_are_rejected_with_the_expected_shape() {
        let p = Preprocessing::efficientnet_lite();
        let x = Tensor::zeros((1, 3, 100, 224), candle_core::DType::F32, &Device::Cpu).unwrap();
        let e = p
            .check_input("efficientnet-lite0", &x)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[batch, 3, 224, 224]") && e.contains("100"),
            "{e}"
        );
    }
}
