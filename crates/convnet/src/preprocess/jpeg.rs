//! JPEG decoding through libjpeg-turbo's C code, the decoder Pillow uses.
//!
//! The `mozjpeg` crate compiles it with the `cc` crate alone (no cmake, no nasm). mozjpeg is a
//! fork of libjpeg-turbo whose changes are all in the encoder; built without nasm it runs the
//! C paths of the IDCT, upsampling and colour conversion, which libjpeg-turbo keeps bit-exact
//! with its SIMD paths. `tests/pillow_decode.rs` checks every decoded value against Pillow.
//!
//! libjpeg reports damaged data as *warnings* and decodes on (a truncated file is padded
//! with grey, and Pillow itself refuses only truncation). We turn every warning into an
//! error except three that concern metadata alone (see [`harmless`]).
use image::RgbImage;
use mozjpeg::{ColorSpace, Decompress};
use mozjpeg_sys::{jpeg_common_struct, jpeg_error_mgr, jpeg_std_error};
use std::os::raw::c_int;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// Why libjpeg did not give an RGB image.
#[derive(Debug)]
pub(super) enum JpegError {
    /// A colour space libjpeg cannot turn into RGB (CMYK, YCCK): another decoder may.
    Unsupported(String),
    /// Damaged or unreadable data.
    Bad(String),
}

/// The unwinding payload our error handlers raise through libjpeg's C frames.
struct Abort(String);

/// Decodes a JPEG into RGB, refusing images over `max_pixels` before their pixels are
/// allocated.
pub(super) fn decode(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, JpegError> {
    // libjpeg's handlers may not return, so ours unwind (mozjpeg-sys is built with
    // `-fexceptions` for that) and the decoder's Drop frees libjpeg's state.
    match catch_unwind(AssertUnwindSafe(|| decode_unguarded(bytes, max_pixels))) {
        Ok(result) => result,
        Err(payload) => match payload.downcast::<Abort>() {
            Ok(abort) => Err(JpegError::Bad(abort.0)),
            Err(other) => resume_unwind(other),
        },
    }
}

fn decode_unguarded(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, JpegError> {
    let io = |e: std::io::Error| JpegError::Bad(e.to_string());
    let header = Decompress::with_err(error_mgr())
        .from_mem(bytes)
        .map_err(io)?;
    let (width, height) = header.size();
    if width == 0 || height == 0 {
        return Err(JpegError::Bad("image has no pixels".into()));
    }
    if (width as u64).saturating_mul(height as u64) > max_pixels {
        return Err(JpegError::Bad(super::decode::over_limit(
            width as u64,
            height as u64,
        )));
    }
    let space = header.color_space();
    if matches!(space, ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK) {
        return Err(JpegError::Unsupported(format!(
            "libjpeg does not convert {space:?} to RGB"
        )));
    }
    let mut started = header.rgb().map_err(io)?;
    let data: Vec<u8> = started.read_scanlines().map_err(io)?;
    started.finish().map_err(io)?;
    RgbImage::from_raw(width as u32, height as u32, data)
        .ok_or_else(|| JpegError::Bad("decoded buffer has the wrong size".into()))
}

/// libjpeg's standard error manager with our two handlers.
fn error_mgr() -> jpeg_error_mgr {
    // SAFETY: jpeg_std_error fills every field of the zeroed struct.
    let mut err: jpeg_error_mgr = unsafe { std::mem::zeroed() };
    unsafe { jpeg_std_error(&mut err) };
    err.error_exit = Some(fatal);
    err.emit_message = Some(message);
    err
}

/// libjpeg's text for the current message.
fn text(cinfo: &mut jpeg_common_struct) -> String {
    // SAFETY: cinfo.err is the manager set up by `error_mgr`; format_message writes at most
    // JMSG_LENGTH_MAX (80) bytes, NUL-terminated. mozjpeg-sys declares its buffer `&[u8; 80]`
    // where libjpeg writes through it, so it is passed as a pointer to our own buffer.
    unsafe {
        let Some(format) = (*cinfo.err).format_message else {
            return format!("libjpeg message {}", (*cinfo.err).msg_code);
        };
        let mut buffer = [0u8; 80];
        format(cinfo, &*(buffer.as_mut_ptr() as *const [u8; 80]));
        let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
        String::from_utf8_lossy(&buffer[..end]).into_owned()
    }
}

extern "C-unwind" fn fatal(cinfo: &mut jpeg_common_struct) {
    let msg = text(cinfo);
    resume_unwind(Box::new(Abort(format!("corrupt JPEG: {msg}"))));
}

/// Warnings that concern metadata only: the pixels decode exactly as from an intact file.
/// Extraneous bytes before a marker are *not* among them: corrupt entropy data usually
/// decodes into valid-looking Huffman codes and shows only as bytes left over at the end.
fn harmless(code: c_int) -> bool {
    use mozjpeg_sys::{JWRN_ADOBE_XFORM, JWRN_BOGUS_ICC, JWRN_JFIF_MAJOR};
    [JWRN_JFIF_MAJOR, JWRN_ADOBE_XFORM, JWRN_BOGUS_ICC]
        .iter()
        .any(|&w| w as u32 == code as u32)
}

extern "C-unwind" fn message(cinfo: &mut jpeg_common_struct, level: c_int) {
    if level >= 0 {
        return; // trace messages
    }
    // SAFETY: cinfo.err is the manager set up by `error_mgr`.
    let code = unsafe { (*cinfo.err).msg_code };
    if harmless(code) {
        return;
    }
    let msg = text(cinfo);
    let reason = if code as u32 == mozjpeg_sys::JWRN_JPEG_EOF as u32 {
        format!("truncated: premature end of JPEG data (libjpeg: {msg})")
    } else {
        format!("corrupt JPEG data (libjpeg: {msg})")
    };
    resume_unwind(Box::new(Abort(reason)));
}
