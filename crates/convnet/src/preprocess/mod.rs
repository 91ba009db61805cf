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
                let (rw, rh) = shorter_side_size(w, h, side);
                let resized = if (rw, rh) == (w, h) {
                    img.clone()
                } else {
                    pillow_bilinear(img, rw, rh)
                };
                centre_crop(&resized, self.width, self.height)
            }
        }
    }

    /// Where the model input made from a `width × height` image lies in that image: the
    /// whole image for [`Resize::Squash`], the centre crop's rectangle for
    /// [`Resize::ShorterSideThenCrop`] (partly outside the image when the crop is larger
    /// than the resized image, which is padded). Boxes and points found on the input map
    /// back through it.
    pub fn window(&self, width: u32, height: u32) -> InputWindow {
        match self.resize {
            Resize::Squash => InputWindow::stretch((self.width, self.height), (width, height)),
            Resize::ShorterSideThenCrop(side) => {
                let (rw, rh) = shorter_side_size(width, height, side);
                let (sx, sy) = (width as f64 / rw as f64, height as f64 / rh as f64);
                InputWindow {
                    left: crop_offset(rw, self.width) as f64 * sx,
                    top: crop_offset(rh, self.height) as f64 * sy,
                    scale_x: sx,
                    scale_y: sy,
                }
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

/// The rectangle of an image that a model input covers, in the image's continuous pixel
/// coordinates (pixel `i` spans `[i, i + 1)`): input pixel edge `x` lies at image
/// coordinate `left + x · scale_x`, and likewise down.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct InputWindow {
    pub left: f64,
    pub top: f64,
    pub scale_x: f64,
    pub scale_y: f64,
}

impl InputWindow {
    /// An input that is the image, resampled from `from` to `to` pixels.
    pub fn stretch(from: (u32, u32), to: (u32, u32)) -> Self {
        InputWindow {
            left: 0.0,
            top: 0.0,
            scale_x: to.0 as f64 / from.0.max(1) as f64,
            scale_y: to.1 as f64 / from.1.max(1) as f64,
        }
    }

    /// The same window in the pixels of the image resampled from `from` to `to` (e.g. the
    /// size an annotation's boxes refer to).
    pub fn rescaled(&self, from: (u32, u32), to: (u32, u32)) -> Self {
        let (fx, fy) = (
            to.0 as f64 / from.0.max(1) as f64,
            to.1 as f64 / from.1.max(1) as f64,
        );
        InputWindow {
            left: self.left * fx,
            top: self.top * fy,
            scale_x: self.scale_x * fx,
            scale_y: self.scale_y * fy,
        }
    }

    /// Image coordinates of the input coordinates `(x, y)`.
    pub fn to_image(&self, x: f64, y: f64) -> (f64, f64) {
        (self.left + x * self.scale_x, self.top + y * self.scale_y)
    }

    /// Input coordinates of the image coordinates `(x, y)`.
    pub fn to_input(&self, x: f64, y: f64) -> (f64, f64) {
        (
            (x - self.left) / self.scale_x,
            (y - self.top) / self.scale_y,
        )
    }
}

/// The size torchvision's `Resize(side)` gives a `w × h` image: the shorter side `side`,
/// the longer one in proportion, truncated.
fn shorter_side_size(w: u32, h: u32, side: u32) -> (u32, u32) {
    if w <= h {
        (side, (side as u64 * h as u64 / w.max(1) as u64) as u32)
    } else {
        ((side as u64 * w as u64 / h.max(1) as u64) as u32, side)
    }
}

/// torchvision's `CenterCrop` offset of a `crop` from a side of `len`: `round((len −
/// crop) / 2)` with Python's half-to-even rounding (negative when the crop is larger).
fn crop_offset(len: u32, crop: u32) -> i64 {
    ((len as f64 - crop as f64) / 2.0).round_ties_even() as i64
}

/// torchvision's `CenterCrop`: offsets `round((len − crop) / 2)` with Python's
/// half-to-even rounding; a crop larger than the image is padded with black, as there.
pub fn centre_crop(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (top, left) = (
        crop_offset(img.height(), height),
        crop_offset(img.width(), width),
    );
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
    fn the_window_maps_input_pixels_back_onto_the_image() {
        // A bright square at x 300..320, y 100..120 of a 500 × 375 image.
        let img = RgbImage::from_fn(500, 375, |x, y| {
            let on = (300..320).contains(&x) && (100..120).contains(&y);
            image::Rgb([if on { 255 } else { 0 }; 3])
        });
        let mut p = Preprocessing::torchvision_imagenet();
        for resize in [Resize::Squash, Resize::ShorterSideThenCrop(256)] {
            p.resize = resize;
            let shown = p.resize(&img);
            let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
            for (x, y, px) in shown.enumerate_pixels() {
                let v = px[0] as f64;
                (sx, sy, n) = (sx + v * (x as f64 + 0.5), sy + v * (y as f64 + 0.5), n + v);
            }
            let (cx, cy) = p.window(500, 375).to_image(sx / n, sy / n);
            assert!(
                (cx - 310.0).abs() < 1.0 && (cy - 110.0).abs() < 1.0,
                "{resize:?}: ({cx}, {cy})"
            );
            let w = p.window(500, 375);
            let (ix, iy) = w.to_input(cx, cy);
            assert!((ix - sx / n).abs() < 1e-9 && (iy - sy / n).abs() < 1e-9);
        }
        // 500 × 375 → 341 × 256, crop offsets round(58.5) = 58 and 16.
        p.resize = Resize::ShorterSideThenCrop(256);
        let w = p.window(500, 375);
        assert!((w.left - 58.0 * 500.0 / 341.0).abs() < 1e-12);
        assert!((w.top - 16.0 * 375.0 / 256.0).abs() < 1e-12);
        // In the pixels of the same image annotated at half size.
        let half = w.rescaled((500, 375), (250, 187));
        assert!((half.left - w.left / 2.0).abs() < 1e-12);
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
