//! Text on figures, anti-aliased in DejaVu Sans (bundled: `fonts/`, Bitstream Vera licence),
//! drawn by imageproc with ab_glyph, so captions and values read at 100 % zoom.
use ab_glyph::{FontRef, PxScale};
use image::{Rgb, RgbImage};
use std::sync::OnceLock;

/// The caption font's size in pixels: legible at 100 % beside 224-pixel tiles.
pub const CAPTION_PX: f32 = 14.0;

/// Height of one caption line.
pub const LINE_HEIGHT: u32 = 17;

/// The bundled font file (DejaVu Sans), for other renderers (plots).
pub const FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The bundled font.
pub fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).expect("the bundled font parses"))
}

/// Width in pixels of `text` at `px`.
pub fn text_width(text: &str, px: f32) -> u32 {
    imageproc::drawing::text_size(PxScale::from(px), font(), text).0
}

/// Draws `text` with its top-left corner at (`x`, `y`), `px` pixels high; what falls
/// outside the image is clipped.
pub fn draw_text(img: &mut RgbImage, text: &str, x: u32, y: u32, px: f32, colour: Rgb<u8>) {
    imageproc::drawing::draw_text_mut(
        img,
        colour,
        x as i32,
        y as i32,
        PxScale::from(px),
        font(),
        text,
    );
}

/// Splits `text` at newlines and then at spaces into lines at most `width` pixels wide at
/// `px` (a single word wider than that keeps a line of its own).
pub fn wrap(text: &str, width: u32, px: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.lines() {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let longer = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if !line.is_empty() && text_width(&longer, px) > width {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            } else {
                line = longer;
            }
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_in_the_colour_and_measured() {
        let mut img = RgbImage::from_pixel(80, 20, Rgb([255; 3]));
        draw_text(&mut img, "Hi 0.93", 2, 2, CAPTION_PX, Rgb([0; 3]));
        let dark = img.pixels().filter(|p| p[0] < 100).count();
        assert!(dark > 20, "{dark} dark pixels");
        let w = text_width("Hi 0.93", CAPTION_PX);
        assert!((30..70).contains(&w), "{w}");
        assert!(text_width("Hi 0.93 and more", CAPTION_PX) > w);
    }

    #[test]
    fn wrapping_keeps_lines_within_the_width() {
        let lines = wrap("a quick brown fox jumps over\nthe lazy dog", 80, CAPTION_PX);
        assert!(lines.len() >= 3, "{lines:?}");
        assert_eq!(lines.last().unwrap(), "the lazy dog");
        assert!(lines
            .iter()
            .all(|l| text_width(l, CAPTION_PX) <= 80 || !l.contains(' ')));
    }
}
