// SPDX-License-Identifier: MIT OR Apache-2.0
//! The output picture: the generated crop as it is, or pasted back into the whole portrait
//! (blended by the model's mask through the identity's table of taps), rendered RGBA at its natural
//! size and converted by GStreamer's video converter to the negotiated format and size.

use gst_video::prelude::*;

use super::identity::Identity;
use super::Mode;

/// The negotiated output and how to get there from the RGBA rendering.
pub struct Output {
    /// What downstream gets.
    pub info: gst_video::VideoInfo,
    /// RGBA at the natural size (the crop, or the portrait).
    rgba_info: gst_video::VideoInfo,
    /// From `rgba_info` to `info`, where they differ.
    converter: Option<gst_video::VideoConverter>,
    /// The RGBA frame the converter reads (kept between frames).
    rgba: Option<gst::Buffer>,
    /// Rows of a frame whose stride is not the tight one.
    scratch: Vec<u8>,
}

impl Output {
    /// The output `info`, rendered at `natural` size (width, height).
    pub fn new(info: gst_video::VideoInfo, natural: (u32, u32)) -> Result<Output, String> {
        let rgba_info =
            gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgba, natural.0, natural.1)
                .fps(info.fps())
                .build()
                .map_err(|_| format!("bad output size {}x{}", natural.0, natural.1))?;
        let converter = if info.format() == gst_video::VideoFormat::Rgba
            && info.width() == natural.0
            && info.height() == natural.1
        {
            None
        } else {
            Some(
                gst_video::VideoConverter::new(&rgba_info, &info, None).map_err(|e| {
                    format!(
                        "cannot convert RGBA {}x{} to {:?} {}x{}: {e}",
                        natural.0,
                        natural.1,
                        info.format(),
                        info.width(),
                        info.height()
                    )
                })?,
            )
        };
        Ok(Output {
            info,
            rgba_info,
            converter,
            rgba: None,
            scratch: Vec::new(),
        })
    }

    /// Renders the generated crop `frame` (CHW RGB in [0, 1], with the model's `mask` if any) of
    /// identity `id` into `out`, a buffer of the negotiated format (its video meta, if any, says
    /// its layout).
    pub fn render(
        &mut self,
        id: &Identity,
        mode: Mode,
        frame: &[f32],
        mask: Option<&[f32]>,
        out: &mut gst::BufferRef,
    ) -> Result<(), String> {
        let write_rgba = |dst: &mut [u8]| match mode {
            Mode::Crop => crop_to_rgba(id, frame, dst),
            Mode::Full => paste_to_rgba(id, frame, mask, dst),
        };
        match &self.converter {
            None => {
                let mut vf = gst_video::VideoFrameRef::from_buffer_ref_writable(out, &self.info)
                    .map_err(|_| "cannot map the output frame".to_string())?;
                write_strided(&mut vf, &mut self.scratch, write_rgba)
            }
            Some(conv) => {
                let size = self.rgba_info.size();
                let mut rgba = match self.rgba.take() {
                    Some(b) if b.size() == size && b.is_writable() => b,
                    _ => gst::Buffer::with_size(size)
                        .map_err(|_| "cannot allocate a frame".to_string())?,
                };
                {
                    let rb = rgba.get_mut().ok_or("frame not writable")?;
                    let mut vf =
                        gst_video::VideoFrameRef::from_buffer_ref_writable(rb, &self.rgba_info)
                            .map_err(|_| "cannot map the frame".to_string())?;
                    write_strided(&mut vf, &mut self.scratch, write_rgba)?;
                }
                {
                    let src = gst_video::VideoFrameRef::from_buffer_ref_readable(
                        rgba.as_ref(),
                        &self.rgba_info,
                    )
                    .map_err(|_| "cannot map the frame".to_string())?;
                    let mut dst =
                        gst_video::VideoFrameRef::from_buffer_ref_writable(out, &self.info)
                            .map_err(|_| "cannot map the output frame".to_string())?;
                    conv.frame_ref(&src, &mut dst);
                }
                self.rgba = Some(rgba);
                Ok(())
            }
        }
    }
}

/// Calls `write` with tightly packed RGBA rows for the single plane of `vf`: directly where its
/// stride is the tight one, through `scratch` where it is not.
fn write_strided(
    vf: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    scratch: &mut Vec<u8>,
    write: impl Fn(&mut [u8]),
) -> Result<(), String> {
    let w = vf.width() as usize * 4;
    let h = vf.height() as usize;
    let stride = usize::try_from(vf.plane_stride()[0]).map_err(|_| "negative stride")?;
    let data = vf
        .plane_data_mut(0)
        .map_err(|_| "cannot map the frame plane".to_string())?;
    if stride == w && data.len() >= w * h {
        write(&mut data[..w * h]);
    } else {
        scratch.clear();
        scratch.resize(w * h, 0);
        write(scratch);
        for (row, src) in data.chunks_mut(stride).zip(scratch.chunks(w)) {
            let n = w.min(row.len());
            row[..n].copy_from_slice(&src[..n]);
        }
    }
    Ok(())
}

/// Writes the generated crop (CHW RGB in [0, 1]) as tightly packed RGBA, size x size.
pub fn crop_to_rgba(id: &Identity, frame: &[f32], out: &mut [u8]) {
    let n = id.crop.size * id.crop.size;
    for (i, px) in out.chunks_exact_mut(4).enumerate().take(n) {
        for (c, o) in px.iter_mut().take(3).enumerate() {
            *o = (frame[c * n + i] * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
        }
        px[3] = 255;
    }
}

/// Writes the whole portrait with the generated crop blended in by `mask` (or wholly where
/// the model has no mask), tightly packed RGBA, width x height.
pub fn paste_to_rgba(id: &Identity, frame: &[f32], mask: Option<&[f32]>, out: &mut [u8]) {
    out[..id.rgba.len()].copy_from_slice(&id.rgba);
    let s = id.crop.size;
    let n = s * s;
    for t in &id.taps {
        let i0 = t.crop0 as usize;
        let (i1, i2, i3) = (i0 + 1, i0 + s, i0 + s + 1);
        let (w0, w1, w2, w3) = (
            (1.0 - t.fx) * (1.0 - t.fy),
            t.fx * (1.0 - t.fy),
            (1.0 - t.fx) * t.fy,
            t.fx * t.fy,
        );
        let m = match mask {
            Some(m) => (m[i0] * w0 + m[i1] * w1 + m[i2] * w2 + m[i3] * w3).clamp(0.0, 1.0),
            None => 1.0,
        };
        if m <= 0.0 {
            continue;
        }
        let p = t.pixel as usize * 4;
        for c in 0..3 {
            let f = &frame[c * n..(c + 1) * n];
            let g = (f[i0] * w0 + f[i1] * w1 + f[i2] * w2 + f[i3] * w3) * 255.0;
            let v = out[p + c] as f32 * (1.0 - m) + g * m;
            out[p + c] = (v + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
}
