// SPDX-License-Identifier: MIT OR Apache-2.0
//! Drawing of landmark frames into an RGBA scratch image, and its conversion to the negotiated
//! video format (gst_video's converter for every format but RGBA).
//!
//! The canvas is allocated once per caps and reused for every frame; drawing and conversion
//! allocate nothing.

use gst_video::prelude::*;

use crate::landmarks::{LandmarkFrame, CONTOURS, FLAG_SPEECH};

/// Output formats offered (drawn in RGBA, converted by gst_video for the others).
pub const FORMATS: &[gst_video::VideoFormat] = &[
    gst_video::VideoFormat::Rgba,
    gst_video::VideoFormat::Bgra,
    gst_video::VideoFormat::Argb,
    gst_video::VideoFormat::Abgr,
    gst_video::VideoFormat::Rgbx,
    gst_video::VideoFormat::Bgrx,
    gst_video::VideoFormat::Xrgb,
    gst_video::VideoFormat::Xbgr,
    gst_video::VideoFormat::Rgb,
    gst_video::VideoFormat::Bgr,
    gst_video::VideoFormat::I420,
];

/// Colour of each contour of [`CONTOURS`], in its order.
const CONTOUR_COLOURS: [[u8; 3]; 9] = [
    [0xc8, 0xc8, 0xd0], // jaw: light grey
    [0xff, 0xa0, 0x30], // right brow: orange
    [0xff, 0xa0, 0x30], // left brow: orange
    [0xf0, 0xe0, 0x50], // nose bridge: yellow
    [0xf0, 0xe0, 0x50], // nostrils: yellow
    [0x40, 0xd0, 0xff], // right eye: cyan
    [0x40, 0xd0, 0xff], // left eye: cyan
    [0xff, 0x40, 0x60], // outer lips: red
    [0xff, 0x90, 0xc0], // inner lips: pink
];
const POINT_COLOUR: [u8; 3] = [0xff, 0xff, 0xff];
const NO_FACE_COLOUR: [u8; 3] = [0x70, 0x70, 0x70];
const SPEECH_COLOUR: [u8; 3] = [0x40, 0xe0, 0x60];

/// What to draw, from the element's settings.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Line width in pixels.
    pub line_width: f32,
    /// Whether to draw the points as dots.
    pub draw_points: bool,
    /// Background colour as ARGB.
    pub background: u32,
}

/// An RGBA (straight alpha) scratch image.
pub struct Canvas {
    width: usize,
    height: usize,
    px: Vec<[u8; 4]>,
}

fn argb_to_rgba(c: u32) -> [u8; 4] {
    [(c >> 16) as u8, (c >> 8) as u8, c as u8, (c >> 24) as u8]
}

impl Canvas {
    pub fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            px: vec![[0, 0, 0, 0xff]; width * height],
        }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    /// The pixels, row by row, RGBA.
    #[cfg(test)]
    pub fn pixels(&self) -> &[[u8; 4]] {
        &self.px
    }

    /// Where a canonical point lands: the unit square scaled to the smaller side, centred.
    pub fn to_pixel(&self, p: [f32; 2]) -> [f32; 2] {
        let s = self.width.min(self.height) as f32;
        let ox = (self.width as f32 - s) * 0.5;
        let oy = (self.height as f32 - s) * 0.5;
        [ox + p[0] * s, oy + p[1] * s]
    }

    /// Draws one frame over a cleared background.
    pub fn render(&mut self, frame: &LandmarkFrame, style: &Style) {
        let bg = argb_to_rgba(style.background);
        self.px.fill(bg);
        let side = self.width.min(self.height) as f32;
        let lw = style.line_width.max(0.1);

        if frame.flags & FLAG_SPEECH != 0 {
            let r = (side / 64.0).max(2.0);
            self.dot([r * 2.0, r * 2.0], r, SPEECH_COLOUR);
        }

        if frame.confidence <= 0.0 {
            // No face: a small grey cross in the middle.
            let c = self.to_pixel([0.5, 0.5]);
            let d = side / 32.0;
            self.line(
                [c[0] - d, c[1] - d],
                [c[0] + d, c[1] + d],
                lw,
                NO_FACE_COLOUR,
            );
            self.line(
                [c[0] - d, c[1] + d],
                [c[0] + d, c[1] - d],
                lw,
                NO_FACE_COLOUR,
            );
            return;
        }

        let pts = frame.posed_points().map(|p| self.to_pixel(p));
        for ((range, closed), colour) in CONTOURS.iter().zip(CONTOUR_COLOURS) {
            let Some(seg) = pts.get(range.clone()) else {
                continue;
            };
            for w in seg.windows(2) {
                self.line(w[0], w[1], lw, colour);
            }
            if *closed && seg.len() > 2 {
                self.line(seg[seg.len() - 1], seg[0], lw, colour);
            }
        }
        if style.draw_points {
            let r = lw * 0.75 + 0.5;
            for p in pts {
                self.dot(p, r, POINT_COLOUR);
            }
        }
    }

    /// Blends `colour` with coverage `a` (0..1) over pixel `i` ("over", straight alpha).
    #[inline]
    fn blend(&mut self, i: usize, colour: [u8; 3], a: f32) {
        let Some(d) = self.px.get_mut(i) else {
            return;
        };
        let da = d[3] as f32 / 255.0;
        let oa = a + da * (1.0 - a);
        if oa <= 0.0 {
            return;
        }
        let k = da * (1.0 - a);
        for c in 0..3 {
            d[c] = ((colour[c] as f32 * a + d[c] as f32 * k) / oa + 0.5).clamp(0.0, 255.0) as u8;
        }
        d[3] = (oa * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
    }

    /// Visits the pixels of the box around `lo`..`hi` grown by `pad`, clipped to the canvas,
    /// blending `colour` with the coverage `cov` gives each pixel centre.
    fn fill_box(
        &mut self,
        lo: [f32; 2],
        hi: [f32; 2],
        pad: f32,
        colour: [u8; 3],
        cov: impl Fn(f32, f32) -> f32,
    ) {
        if !(lo[0].is_finite() && lo[1].is_finite() && hi[0].is_finite() && hi[1].is_finite()) {
            return;
        }
        let (w, h) = (self.width as f32, self.height as f32);
        let x0 = (lo[0] - pad).floor().clamp(0.0, w) as usize;
        let x1 = (hi[0] + pad).ceil().clamp(0.0, w) as usize;
        let y0 = (lo[1] - pad).floor().clamp(0.0, h) as usize;
        let y1 = (hi[1] + pad).ceil().clamp(0.0, h) as usize;
        for y in y0..y1 {
            let py = y as f32 + 0.5;
            for x in x0..x1 {
                let a = cov(x as f32 + 0.5, py);
                if a > 0.0 {
                    self.blend(y * self.width + x, colour, a.min(1.0));
                }
            }
        }
    }

    /// An anti-aliased line of width `width` with round ends.
    pub fn line(&mut self, p0: [f32; 2], p1: [f32; 2], width: f32, colour: [u8; 3]) {
        let r = width * 0.5;
        let (dx, dy) = (p1[0] - p0[0], p1[1] - p0[1]);
        let len2 = dx * dx + dy * dy;
        let lo = [p0[0].min(p1[0]), p0[1].min(p1[1])];
        let hi = [p0[0].max(p1[0]), p0[1].max(p1[1])];
        self.fill_box(lo, hi, r + 1.0, colour, |x, y| {
            let t = if len2 > 0.0 {
                (((x - p0[0]) * dx + (y - p0[1]) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (ex, ey) = (x - (p0[0] + t * dx), y - (p0[1] + t * dy));
            let d = (ex * ex + ey * ey).sqrt();
            // Thin lines keep a 1-px footprint but fade with their width.
            (r + 0.5 - d).min(1.0) * width.min(1.0)
        });
    }

    /// An anti-aliased disc of radius `r`.
    pub fn dot(&mut self, c: [f32; 2], r: f32, colour: [u8; 3]) {
        self.fill_box(c, c, r + 1.0, colour, |x, y| {
            let (ex, ey) = (x - c[0], y - c[1]);
            r + 0.5 - (ex * ex + ey * ey).sqrt()
        });
    }

    /// The canvas as tightly packed RGBA bytes.
    pub fn bytes(&self) -> &[u8] {
        self.px.as_flattened()
    }
}

/// The canvas into the negotiated video frame: RGBA is copied row by row; every other format
/// goes through gst_video's converter (colour matrix, range and chroma siting from the caps).
pub struct Writer {
    out: gst_video::VideoInfo,
    rgba: gst_video::VideoInfo,
    converter: Option<gst_video::VideoConverter>,
    scratch: Option<gst::Buffer>,
}

impl Writer {
    pub fn new(out: &gst_video::VideoInfo) -> Result<Writer, String> {
        if !FORMATS.contains(&out.format()) {
            return Err(format!("output format {:?} is not supported", out.format()));
        }
        let rgba =
            gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgba, out.width(), out.height())
                .fps(out.fps())
                .par(out.par())
                .build()
                .map_err(|e| format!("cannot describe the RGBA canvas: {e}"))?;
        if out.format() == gst_video::VideoFormat::Rgba {
            return Ok(Writer {
                out: out.clone(),
                rgba,
                converter: None,
                scratch: None,
            });
        }
        let mut cfg = gst_video::VideoConverterConfig::new();
        cfg.set_threads(1);
        let converter = gst_video::VideoConverter::new(&rgba, out, Some(cfg))
            .map_err(|e| format!("cannot convert RGBA to {:?}: {e}", out.format()))?;
        let scratch = gst::Buffer::with_size(rgba.size())
            .map_err(|e| format!("cannot allocate the RGBA canvas frame: {e}"))?;
        Ok(Writer {
            out: out.clone(),
            rgba,
            converter: Some(converter),
            scratch: Some(scratch),
        })
    }

    /// Writes `canvas` (of the output's size) into `outbuf`.
    pub fn write(&mut self, canvas: &Canvas, outbuf: &mut gst::BufferRef) -> Result<(), String> {
        if canvas.width() != self.out.width() as usize
            || canvas.height() != self.out.height() as usize
        {
            return Err(format!(
                "output frame is {}x{}, the canvas {}x{}",
                self.out.width(),
                self.out.height(),
                canvas.width(),
                canvas.height()
            ));
        }
        let mut dst = gst_video::VideoFrameRef::from_buffer_ref_writable(outbuf, &self.out)
            .map_err(|_| "cannot map the output buffer as a video frame".to_string())?;
        match (&self.converter, &mut self.scratch) {
            (Some(conv), Some(scratch)) => {
                let mut src = gst_video::VideoFrameRef::from_buffer_ref_writable(
                    scratch.make_mut(),
                    &self.rgba,
                )
                .map_err(|_| "cannot map the RGBA canvas frame".to_string())?;
                copy_rows(canvas, &mut src)?;
                conv.frame_ref(&src, &mut dst);
                Ok(())
            }
            _ => copy_rows(canvas, &mut dst),
        }
    }
}

/// Copies the canvas into an RGBA frame of its size, row by row (the frame may be padded).
fn copy_rows(
    canvas: &Canvas,
    frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
) -> Result<(), String> {
    let stride = frame.plane_stride()[0] as usize;
    let row = canvas.width() * 4;
    let data = frame
        .plane_data_mut(0)
        .map_err(|e| format!("cannot map the output plane: {e}"))?;
    for (y, src) in canvas.bytes().chunks_exact(row.max(1)).enumerate() {
        let Some(d) = data.get_mut(y * stride..y * stride + row) else {
            return Err("output plane is smaller than the frame".into());
        };
        d.copy_from_slice(src);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style() -> Style {
        Style {
            line_width: 2.0,
            draw_points: true,
            background: 0xff000000,
        }
    }

    #[test]
    fn mean_face_is_drawn_inside() {
        let mut c = Canvas::new(64, 48);
        c.render(&LandmarkFrame::default(), &style());
        let lit = c.pixels().iter().filter(|p| p[..3] != [0, 0, 0]).count();
        assert!(lit > 200, "{lit} pixels drawn");
        // The square is centred: nothing in the side bands.
        for y in 0..48 {
            for x in 0..8 {
                assert_eq!(c.pixels()[y * 64 + x][..3], [0, 0, 0]);
                assert_eq!(c.pixels()[y * 64 + 63 - x][..3], [0, 0, 0]);
            }
        }
    }

    #[test]
    fn wild_values_do_not_panic() {
        let mut c = Canvas::new(17, 9);
        let mut f = LandmarkFrame::default();
        f.pose[5] = 80.0; // exp overflows to infinity
        c.render(&f, &style());
        f.pose = [0.0, 0.0, 0.0, 1e30, -1e30, 0.0];
        c.render(&f, &style());
        let mut z = Canvas::new(0, 0);
        z.render(&f, &style());
    }
}
