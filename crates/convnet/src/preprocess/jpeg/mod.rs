//! JPEG decoding through libjpeg-turbo's C code, the decoder Pillow uses.
//!
//! `mozjpeg-sys` compiles it with the `cc` crate alone (no cmake, no nasm). mozjpeg is a fork
//! of libjpeg-turbo whose changes are all in the encoder. libjpeg-turbo's SIMD kernels are
//! nasm assembly, so without nasm its C versions of the inverse DCT, the chroma upsampling and
//! the colour conversion would run, at half the speed. For the common files (sequential
//! YCbCr or grayscale, chroma subsampled by 1 or 2 each way) we let libjpeg do what only it
//! does, reading the file and Huffman-decoding the coefficients, and run those three stages
//! ourselves ([`idct`], [`upsample`], [`colour`]): the C code's integer arithmetic, written so
//! that the compiler vectorises it. Other files (progressive, CMYK-like colour spaces, odd
//! sampling factors) take libjpeg's own pipeline. `tests/pillow_decode.rs` checks every
//! decoded value of both paths against Pillow.
//!
//! libjpeg reports damaged data as *warnings* and decodes on (a truncated file is padded
//! with grey, and Pillow itself refuses only truncation). We turn every warning into an
//! error except three that concern metadata alone (see [`harmless`]).
mod colour;
mod idct;
mod upsample;

use image::RgbImage;
use mozjpeg_sys::{
    boolean, jpeg_common_struct, jpeg_decompress_struct, jpeg_error_mgr, jpeg_std_error,
    J_COLOR_SPACE,
};
use std::os::raw::{c_int, c_ulong};
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

/// libjpeg's decompressor over a byte slice, destroyed on drop (also when an error unwinds
/// through a libjpeg call).
struct Decompressor<'a> {
    cinfo: Box<jpeg_decompress_struct>,
    _err: Box<jpeg_error_mgr>,
    _bytes: std::marker::PhantomData<&'a [u8]>,
}

impl<'a> Decompressor<'a> {
    /// Creates the decompressor and reads the header (up to the first scan).
    fn new(bytes: &'a [u8]) -> Self {
        let mut err = Box::new(error_mgr());
        // SAFETY: a zeroed struct is what jpeg_create_decompress expects; the error manager
        // and the bytes outlive the decompressor (boxed here, borrowed for 'a).
        let mut d = unsafe {
            let mut cinfo: Box<jpeg_decompress_struct> = Box::new(std::mem::zeroed());
            cinfo.common.err = &mut *err;
            mozjpeg_sys::jpeg_create_decompress(&mut *cinfo);
            Decompressor {
                cinfo,
                _err: err,
                _bytes: std::marker::PhantomData,
            }
        };
        // SAFETY: the decompressor was created above; the source is the borrowed slice.
        unsafe {
            mozjpeg_sys::jpeg_mem_src(&mut d.cinfo, bytes.as_ptr(), bytes.len() as c_ulong);
            mozjpeg_sys::jpeg_read_header(&mut d.cinfo, true as boolean);
        }
        d
    }
}

impl Drop for Decompressor<'_> {
    fn drop(&mut self) {
        // SAFETY: created in `new`; destroying is valid in every state.
        unsafe { mozjpeg_sys::jpeg_destroy_decompress(&mut self.cinfo) }
    }
}

/// The sampling factors of each component, if every one is an integer fraction of 1 or 2
/// of the largest in each direction (4:4:4, 4:2:2, 4:2:0, 4:4:0): the cases our stages run.
fn upsampling(cinfo: &jpeg_decompress_struct) -> Option<Vec<(usize, usize, usize, usize)>> {
    let (mh, mv) = (cinfo.max_h_samp_factor, cinfo.max_v_samp_factor);
    (0..cinfo.num_components as usize)
        .map(|c| {
            // SAFETY: comp_info holds num_components entries after the header.
            let comp = unsafe { &*cinfo.comp_info.add(c) };
            let (h, v) = (comp.h_samp_factor, comp.v_samp_factor);
            let ok = h > 0 && v > 0 && [1, 2].contains(&(mh / h)) && [1, 2].contains(&(mv / v));
            (ok && mh % h == 0 && mv % v == 0).then_some((
                h as usize,
                v as usize,
                (mh / h) as usize,
                (mv / v) as usize,
            ))
        })
        .collect()
}

fn decode_unguarded(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, JpegError> {
    let mut d = Decompressor::new(bytes);
    let (width, height) = (d.cinfo.image_width as usize, d.cinfo.image_height as usize);
    if width == 0 || height == 0 {
        return Err(JpegError::Bad("image has no pixels".into()));
    }
    if (width as u64).saturating_mul(height as u64) > max_pixels {
        return Err(JpegError::Bad(super::decode::over_limit(
            width as u64,
            height as u64,
        )));
    }
    let space = d.cinfo.jpeg_color_space;
    if matches!(space, J_COLOR_SPACE::JCS_CMYK | J_COLOR_SPACE::JCS_YCCK) {
        return Err(JpegError::Unsupported(format!(
            "libjpeg does not convert {space:?} to RGB"
        )));
    }
    let ours = match (space, d.cinfo.num_components) {
        (J_COLOR_SPACE::JCS_YCbCr, 3) | (J_COLOR_SPACE::JCS_GRAYSCALE, 1) => upsampling(&d.cinfo),
        _ => None,
    };
    if let Some(factors) = ours {
        if let Some(img) = from_coefficients(&mut d, &factors) {
            return Ok(img);
        }
        // Progressive: libjpeg smooths blocks of unfinished scans; let it do all of it.
        d = Decompressor::new(bytes);
    }
    scanlines(&mut d)
}

/// libjpeg's own pipeline: start, read every scanline as RGB, finish.
fn scanlines(d: &mut Decompressor) -> Result<RgbImage, JpegError> {
    let cinfo = &mut *d.cinfo;
    cinfo.out_color_space = J_COLOR_SPACE::JCS_RGB;
    // SAFETY: the header was read; each row pointer covers one output row of the buffer.
    unsafe {
        mozjpeg_sys::jpeg_start_decompress(cinfo);
        let (w, h) = (cinfo.output_width as usize, cinfo.output_height as usize);
        let mut data = vec![0u8; w * h * 3];
        while (cinfo.output_scanline as usize) < h {
            let mut row = data
                .as_mut_ptr()
                .add(cinfo.output_scanline as usize * w * 3);
            if mozjpeg_sys::jpeg_read_scanlines(cinfo, &mut row, 1) == 0 {
                return Err(JpegError::Bad("libjpeg returned no scanline".into()));
            }
        }
        mozjpeg_sys::jpeg_finish_decompress(cinfo);
        RgbImage::from_raw(w as u32, h as u32, data)
            .ok_or_else(|| JpegError::Bad("decoded buffer has the wrong size".into()))
    }
}

/// Reads the quantised coefficients with libjpeg, then runs our inverse DCT, upsampling and
/// colour conversion. `None` for a progressive file (libjpeg's output may smooth it).
fn from_coefficients(
    d: &mut Decompressor,
    factors: &[(usize, usize, usize, usize)],
) -> Option<RgbImage> {
    let cinfo = &mut *d.cinfo;
    let (width, height) = (cinfo.image_width as usize, cinfo.image_height as usize);
    let (mh, mv) = (
        cinfo.max_h_samp_factor as usize,
        cinfo.max_v_samp_factor as usize,
    );
    // SAFETY: after the header, jpeg_read_coefficients returns one virtual block array per
    // component, each `height_in_blocks` rows of `width_in_blocks` blocks, accessed one row
    // at a time (within every array's access limit); quant_table is latched by then.
    let planes = unsafe {
        let arrays = mozjpeg_sys::jpeg_read_coefficients(cinfo);
        if !cinfo.coef_bits.is_null() {
            return None;
        }
        let access = (*cinfo.common.mem).access_virt_barray?;
        let mut planes = Vec::with_capacity(factors.len());
        for (c, &(h, v, _, _)) in factors.iter().enumerate() {
            let comp = &*cinfo.comp_info.add(c);
            let (bw, bh) = (
                comp.width_in_blocks as usize,
                comp.height_in_blocks as usize,
            );
            let quant: [i32; 64] = (*comp.quant_table).quantval.map(i32::from);
            let stride = bw * 8;
            let mut plane = vec![0u8; stride * bh * 8];
            for by in 0..bh {
                let rows = access(&mut cinfo.common, *arrays.add(c), by as u32, 1, 0);
                let blocks = std::slice::from_raw_parts(*rows, bw);
                idct::blocks(blocks, &quant, &mut plane[by * 8 * stride..], stride);
            }
            // jdinput.c: a component's size is the image's scaled by its sampling, rounded up.
            let (w, h) = ((width * h).div_ceil(mh), (height * v).div_ceil(mv));
            planes.push((plane, stride, w, h));
        }
        mozjpeg_sys::jpeg_finish_decompress(cinfo);
        planes
    };
    let planes: Vec<upsample::Plane> = planes
        .iter()
        .map(|(data, stride, width, height)| upsample::Plane {
            data,
            stride: *stride,
            width: *width,
            height: *height,
        })
        .collect();
    let mut scratch: Vec<upsample::Rows> = planes.iter().map(upsample::Rows::new).collect();
    // Row by row, so the upsampled chroma never leaves the cache.
    let mut rgb = vec![0u8; width * height * 3];
    for (oy, out) in rgb.chunks_exact_mut(width * 3).enumerate() {
        let mut rows: [&[u8]; 3] = [&[]; 3];
        for (((row, p), s), &(_, _, uh, uv)) in
            rows.iter_mut().zip(&planes).zip(&mut scratch).zip(factors)
        {
            *row = &s.row(p, (uh, uv), oy)[..width];
        }
        match (planes.len(), rows) {
            (3, [y, cb, cr]) => colour::ycc_to_rgb(y, cb, cr, out),
            (1, [y, _, _]) => colour::gray_to_rgb(y, out),
            _ => return None,
        }
    }
    RgbImage::from_raw(width as u32, height as u32, rgb)
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

#[cfg(test)]
mod tests {
    use super::*;
    use mozjpeg_sys::jpeg_compress_struct;

    /// Encodes `rgb` (`w × h`) with libjpeg at quality 85, each component's sampling factors
    /// given as (h, v), optionally progressive, optionally as one grayscale component.
    fn encode(
        rgb: &[u8],
        w: u32,
        h: u32,
        sampling: [(i32, i32); 3],
        progressive: bool,
        gray: bool,
    ) -> Vec<u8> {
        // SAFETY: the usual libjpeg compression sequence over a zeroed struct; the output
        // buffer is libjpeg's malloc, copied out and freed.
        unsafe {
            let mut err = error_mgr();
            let mut c: jpeg_compress_struct = std::mem::zeroed();
            c.common.err = &mut err;
            mozjpeg_sys::jpeg_create_compress(&mut c);
            let (mut buf, mut size): (*mut u8, c_ulong) = (std::ptr::null_mut(), 0);
            mozjpeg_sys::jpeg_mem_dest(&mut c, &mut buf, &mut size);
            c.image_width = w;
            c.image_height = h;
            c.input_components = if gray { 1 } else { 3 };
            c.in_color_space = if gray {
                J_COLOR_SPACE::JCS_GRAYSCALE
            } else {
                J_COLOR_SPACE::JCS_RGB
            };
            mozjpeg_sys::jpeg_c_set_int_param(
                &mut c,
                mozjpeg_sys::J_INT_PARAM::JINT_COMPRESS_PROFILE,
                mozjpeg_sys::JCP_FASTEST as c_int,
            );
            mozjpeg_sys::jpeg_set_defaults(&mut c);
            mozjpeg_sys::jpeg_set_quality(&mut c, 85, true as boolean);
            if !gray {
                for (i, (sh, sv)) in sampling.iter().enumerate() {
                    let comp = &mut *c.comp_info.add(i);
                    comp.h_samp_factor = *sh;
                    comp.v_samp_factor = *sv;
                }
            }
            if progressive {
                mozjpeg_sys::jpeg_simple_progression(&mut c);
            }
            mozjpeg_sys::jpeg_start_compress(&mut c, true as boolean);
            let channels = if gray { 1 } else { 3 };
            let gray_rows: Vec<u8> = rgb.chunks_exact(3).map(|p| p[1]).collect();
            let src = if gray { &gray_rows[..] } else { rgb };
            for y in 0..h as usize {
                let row = src.as_ptr().add(y * w as usize * channels);
                mozjpeg_sys::jpeg_write_scanlines(&mut c, &row, 1);
            }
            mozjpeg_sys::jpeg_finish_compress(&mut c);
            mozjpeg_sys::jpeg_destroy_compress(&mut c);
            let out = std::slice::from_raw_parts(buf, size as usize).to_vec();
            libc_free(buf.cast());
            out
        }
    }

    extern "C" {
        #[link_name = "free"]
        fn libc_free(p: *mut std::ffi::c_void);
    }

    fn picture(w: u32, h: u32) -> Vec<u8> {
        (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                [
                    (x * 255 / w.max(1)) as u8,
                    (y * 7 % 256) as u8,
                    ((x ^ y) * 13 % 256) as u8,
                ]
            })
            .collect()
    }

    /// Our stages against libjpeg's own pipeline on the same file.
    fn same_as_libjpeg(bytes: &[u8], what: &str) {
        let ours = decode(bytes, u64::MAX).unwrap();
        let mut d = Decompressor::new(bytes);
        let theirs = scanlines(&mut d).unwrap();
        assert_eq!(ours.dimensions(), theirs.dimensions(), "{what}");
        let differing = ours
            .as_raw()
            .iter()
            .zip(theirs.as_raw())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            differing, 0,
            "{what}: {differing} values differ from libjpeg"
        );
    }

    #[test]
    fn every_sampling_and_size_decodes_as_libjpeg_does() {
        let samplings = [
            ("4:4:4", [(1, 1), (1, 1), (1, 1)]),
            ("4:2:2", [(2, 1), (1, 1), (1, 1)]),
            ("4:2:0", [(2, 2), (1, 1), (1, 1)]),
            ("4:4:0", [(1, 2), (1, 1), (1, 1)]),
            ("4:1:1 (libjpeg's path)", [(4, 1), (1, 1), (1, 1)]),
        ];
        for (w, h) in [
            (1, 1),
            (2, 3),
            (3, 2),
            (5, 5),
            (17, 9),
            (33, 64),
            (227, 227),
            (641, 17),
        ] {
            let rgb = picture(w, h);
            for (name, s) in samplings {
                let bytes = encode(&rgb, w, h, s, false, false);
                same_as_libjpeg(&bytes, &format!("{name} {w}×{h}"));
            }
            let bytes = encode(&rgb, w, h, samplings[2].1, true, false);
            same_as_libjpeg(&bytes, &format!("progressive {w}×{h}"));
            let bytes = encode(&rgb, w, h, samplings[0].1, false, true);
            same_as_libjpeg(&bytes, &format!("grayscale {w}×{h}"));
        }
    }
}
