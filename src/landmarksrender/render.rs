// SPDX-License-Identifier: MIT OR Apache-2.0
//! Drawing of landmark frames into an RGBA scratch image, and its conversion to the negotiated
//! video format.
//!
//! The canvas is allocated once per caps and reused for every frame; drawing and conversion
//! allocate nothing.

use gst_video::prelude::*;

use crate::landmarks::{LandmarkFrame, CONTOURS, FLAG_SPEECH};

/// Output formats the element writes itself.
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

    /// Writes the canvas into a mapped video frame of the same size in one of [`FORMATS`].
    pub fn write_frame(
        &self,
        frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<(), String> {
        if frame.width() as usize != self.width || frame.height() as usize != self.height {
            return Err(format!(
                "output frame is {}x{}, the canvas {}x{}",
                frame.width(),
                frame.height(),
                self.width,
                self.height
            ));
        }
        use gst_video::VideoFormat as F;
        // Byte positions of R, G, B and of alpha (or padding, written opaque) in a pixel.
        let (order, alpha, bpp): ([usize; 3], Option<usize>, usize) = match frame.format() {
            F::Rgba => ([0, 1, 2], Some(3), 4),
            F::Bgra => ([2, 1, 0], Some(3), 4),
            F::Argb => ([1, 2, 3], Some(0), 4),
            F::Abgr => ([3, 2, 1], Some(0), 4),
            F::Rgbx => ([0, 1, 2], None, 4),
            F::Bgrx => ([2, 1, 0], None, 4),
            F::Xrgb => ([1, 2, 3], None, 4),
            F::Xbgr => ([3, 2, 1], None, 4),
            F::Rgb => ([0, 1, 2], None, 3),
            F::Bgr => ([2, 1, 0], None, 3),
            F::I420 => return self.write_i420(frame),
            other => return Err(format!("output format {other:?} is not supported")),
        };
        let stride = frame.plane_stride()[0] as usize;
        let data = frame
            .plane_data_mut(0)
            .map_err(|e| format!("cannot map the output plane: {e}"))?;
        let w = self.width;
        for (y, src) in self.px.chunks_exact(w.max(1)).enumerate() {
            let Some(row) = data.get_mut(y * stride..y * stride + w * bpp) else {
                return Err("output plane is smaller than the frame".into());
            };
            for (d, s) in row.chunks_exact_mut(bpp).zip(src) {
                if bpp == 4 {
                    d[0] = 0xff;
                    d[1] = 0xff;
                    d[2] = 0xff;
                    d[3] = 0xff;
                }
                d[order[0]] = s[0];
                d[order[1]] = s[1];
                d[order[2]] = s[2];
                if let Some(a) = alpha {
                    d[a] = s[3];
                }
            }
        }
        Ok(())
    }

    fn write_i420(
        &self,
        frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<(), String> {
        let colorimetry = frame.info().colorimetry();
        let (kr, kb) = match colorimetry.matrix() {
            gst_video::VideoColorMatrix::Bt709 => (0.2126f32, 0.0722f32),
            gst_video::VideoColorMatrix::Bt2020 => (0.2627, 0.0593),
            gst_video::VideoColorMatrix::Smpte240m => (0.212, 0.087),
            gst_video::VideoColorMatrix::Fcc => (0.30, 0.11),
            _ => (0.299, 0.114),
        };
        let full = colorimetry.range() == gst_video::VideoColorRange::Range0_255;
        let (yo, ys, cs) = if full {
            (0.0f32, 255.0f32, 255.0f32)
        } else {
            (16.0, 219.0, 224.0)
        };
        let kg = 1.0 - kr - kb;
        let luma = |p: &[u8; 4]| (kr * p[0] as f32 + kg * p[1] as f32 + kb * p[2] as f32) / 255.0;
        let (w, h) = (self.width, self.height);
        let strides = [
            frame.plane_stride()[0] as usize,
            frame.plane_stride()[1] as usize,
            frame.plane_stride()[2] as usize,
        ];
        {
            let yplane = frame
                .plane_data_mut(0)
                .map_err(|e| format!("cannot map the Y plane: {e}"))?;
            for (y, src) in self.px.chunks_exact(w.max(1)).enumerate() {
                let Some(row) = yplane.get_mut(y * strides[0]..y * strides[0] + w) else {
                    return Err("Y plane is smaller than the frame".into());
                };
                for (d, s) in row.iter_mut().zip(src) {
                    *d = (yo + ys * luma(s) + 0.5).clamp(0.0, 255.0) as u8;
                }
            }
        }
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        for (plane, is_cr) in [(1u32, false), (2u32, true)] {
            let stride = strides[plane as usize];
            let data = frame
                .plane_data_mut(plane)
                .map_err(|e| format!("cannot map chroma plane {plane}: {e}"))?;
            for cy in 0..ch {
                let Some(row) = data.get_mut(cy * stride..cy * stride + cw) else {
                    return Err("chroma plane is smaller than the frame".into());
                };
                for (cx, d) in row.iter_mut().enumerate() {
                    // Average of the 2x2 block (clipped at odd edges).
                    let (mut sum, mut n) = (0f32, 0f32);
                    for y in 2 * cy..(2 * cy + 2).min(h) {
                        for x in 2 * cx..(2 * cx + 2).min(w) {
                            let p = &self.px[y * w + x];
                            let l = luma(p);
                            let c = if is_cr {
                                (p[0] as f32 / 255.0 - l) / (2.0 * (1.0 - kr))
                            } else {
                                (p[2] as f32 / 255.0 - l) / (2.0 * (1.0 - kb))
                            };
                            sum += c;
                            n += 1.0;
                        }
                    }
                    let c = if n > 0.0 { sum / n } else { 0.0 };
                    *d = (128.0 + cs * c + 0.5).clamp(0.0, 255.0) as u8;
                }
            }
        }
        Ok(())
    }
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
