//! Reading image files as 8-bit RGB. JPEGs go through libjpeg-turbo's C decoder (the one
//! Pillow uses, so decoded values match the reference bit for bit; see the `jpeg` module); everything
//! else through the `image` crate. Grayscale, alpha and 16-bit images are converted, as
//! Pillow's `convert("RGB")` does. Damaged files are errors that name the file.
use super::jpeg::{self, JpegError};
use crate::error::{ConvnetError, Result};
use image::RgbImage;
use std::io::Cursor;
use std::path::Path;

fn err(path: &Path, reason: impl Into<String>) -> ConvnetError {
    ConvnetError::Image {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The largest image accepted, in pixels: Pillow's decompression-bomb limit
/// (2 × `Image.MAX_IMAGE_PIXELS`), so a tiny file claiming a huge size is refused before
/// gigabytes are allocated.
pub const MAX_PIXELS: u64 = 2 * 89_478_485;

/// The error text for an image over [`MAX_PIXELS`].
pub(super) fn over_limit(width: u64, height: u64) -> String {
    format!("{width} × {height} pixels is over the limit of {MAX_PIXELS} (a decompression bomb?)")
}

fn check_size(width: u64, height: u64) -> std::result::Result<(), String> {
    if width.saturating_mul(height) > MAX_PIXELS {
        return Err(over_limit(width, height));
    }
    Ok(())
}

/// Reads and decodes an image file into RGB.
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(|e| err(path, format!("cannot read file: {e}")))?;
    decode_rgb(&bytes, path)
}

/// Decodes image bytes into RGB; `path` only names the input in errors.
pub fn decode_rgb(bytes: &[u8], path: &Path) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(err(path, "file is empty"));
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return match jpeg::decode(bytes, MAX_PIXELS) {
            Ok(img) => Ok(img),
            // libjpeg does not convert CMYK to RGB; the image crate does.
            Err(JpegError::Unsupported(why)) => {
                decode_generic(bytes).map_err(|e| err(path, format!("{why}; {e}")))
            }
            Err(JpegError::Bad(why)) => Err(err(path, why)),
        };
    }
    decode_generic(bytes).map_err(|e| err(path, e))
}

/// A reader of `bytes` with the `image` crate's decompression-bomb limits set to ours: no
/// side over 2^24 and no allocation over what [`MAX_PIXELS`] of 16-bit RGBA need.
fn reader(bytes: &[u8]) -> std::result::Result<image::ImageReader<Cursor<&[u8]>>, String> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("not a readable image: {e}"))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(1 << 24);
    limits.max_image_height = Some(1 << 24);
    limits.max_alloc = Some(MAX_PIXELS * 8);
    reader.limits(limits);
    Ok(reader)
}

fn decode_generic(bytes: &[u8]) -> std::result::Result<RgbImage, String> {
    let (w, h) = reader(bytes)?
        .into_dimensions()
        .map_err(|e| format!("not a readable image: {e}"))?;
    check_size(w as u64, h as u64)?;
    let img = reader(bytes)?
        .decode()
        .map_err(|e| format!("not a readable image: {e}"))?;
    if img.width() == 0 || img.height() == 0 {
        return Err("image has no pixels".into());
    }
    Ok(img.to_rgb8())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, ImageFormat, Luma, LumaA, Rgba};

    fn encode(img: DynamicImage, fmt: ImageFormat) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        img.write_to(&mut buf, fmt).unwrap();
        buf.into_inner()
    }

    #[test]
    fn grayscale_alpha_and_16_bit_are_converted() {
        let p = Path::new("x.png");
        let gray = DynamicImage::ImageLuma8(image::ImageBuffer::from_pixel(3, 2, Luma([77u8])));
        let rgb = decode_rgb(&encode(gray, ImageFormat::Png), p).unwrap();
        assert_eq!(rgb.get_pixel(1, 1).0, [77, 77, 77]);
        let rgba = DynamicImage::ImageRgba8(image::ImageBuffer::from_pixel(
            2,
            2,
            Rgba([10u8, 20, 30, 0]),
        ));
        assert_eq!(
            decode_rgb(&encode(rgba, ImageFormat::Png), p)
                .unwrap()
                .get_pixel(0, 0)
                .0,
            [10, 20, 30]
        );
        let deep =
            DynamicImage::ImageLumaA16(image::ImageBuffer::from_pixel(2, 1, LumaA([65535u16, 1])));
        assert_eq!(
            decode_rgb(&encode(deep, ImageFormat::Png), p)
                .unwrap()
                .get_pixel(0, 0)
                .0,
            [255, 255, 255]
        );
    }

    #[test]
    fn jpeg_goes_through_libjpeg_turbo() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_fn(16, 8, |x, y| {
            image::Rgb([(x * 16) as u8, (y * 30) as u8, 99])
        }));
        let bytes = encode(img, ImageFormat::Jpeg);
        let rgb = decode_rgb(&bytes, Path::new("a.jpg")).unwrap();
        assert_eq!(rgb.dimensions(), (16, 8));
    }

    #[test]
    fn a_header_claiming_a_huge_image_is_refused_before_decoding() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(16, 8, image::Rgb([1, 2, 3])));
        let mut bytes = encode(img, ImageFormat::Jpeg);
        // SOF0 segment: FF C0, length (2), precision (1), height (2), width (2).
        let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        // 60 000 × 60 000: under libjpeg's own 65 500 limit, over ours.
        bytes[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
        let e = decode_rgb(&bytes, Path::new("bomb.jpg"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bomb.jpg") && e.contains("over the limit"),
            "{e}"
        );
    }

    #[test]
    fn empty_truncated_and_garbage_files_name_the_file() {
        let p = Path::new("bad/img.jpg");
        let e = decode_rgb(&[], p).unwrap_err().to_string();
        assert!(e.contains("bad/img.jpg") && e.contains("empty"), "{e}");
        let e = decode_rgb(b"hello world", p).unwrap_err().to_string();
        assert!(
            e.contains("bad/img.jpg") && e.contains("not a readable image"),
            "{e}"
        );
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(64, 64, image::Rgb([1, 2, 3])));
        let bytes = encode(img, ImageFormat::Jpeg);
        let e = decode_rgb(&bytes[..40], p).unwrap_err().to_string();
        assert!(e.contains("bad/img.jpg"), "{e}");
        let e = load_rgb(Path::new("/nonexistent/none.png"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("none.png") && e.contains("cannot read"), "{e}");
    }
}
