// SPDX-License-Identifier: MIT OR Apache-2.0
//! Model inputs sampled from a picture: a [`Roi`] resampled bilinearly to an `S x S` CHW RGB
//! tensor in [0, 1].

use super::Roi;

/// A borrowed picture of packed 8-bit pixels with R, G, B first (RGB or RGBA/RGBx).
#[derive(Clone, Copy)]
pub struct Image<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    /// Bytes per row.
    pub stride: usize,
    /// Bytes per pixel: 3 or 4.
    pub channels: usize,
}

impl<'a> Image<'a> {
    /// Checks that the geometry fits the buffer.
    pub fn new(
        data: &'a [u8],
        width: usize,
        height: usize,
        stride: usize,
        channels: usize,
    ) -> Result<Image<'a>, String> {
        if width == 0 || height == 0 {
            return Err(format!("empty picture ({width}x{height})"));
        }
        if !(3..=4).contains(&channels) {
            return Err(format!("{channels} bytes per pixel (3 or 4 expected)"));
        }
        let row = width
            .checked_mul(channels)
            .ok_or("picture size overflows")?;
        if stride < row {
            return Err(format!("row stride {stride} is less than a row ({row})"));
        }
        let need = stride
            .checked_mul(height - 1)
            .and_then(|v| v.checked_add(row))
            .ok_or("picture size overflows")?;
        if data.len() < need {
            return Err(format!(
                "picture buffer has {} bytes, {width}x{height} needs {need}",
                data.len()
            ));
        }
        Ok(Image {
            data,
            width,
            height,
            stride,
            channels,
        })
    }

    /// A tightly packed RGBA picture.
    pub fn rgba(data: &'a [u8], width: usize, height: usize) -> Result<Image<'a>, String> {
        Image::new(data, width, height, width.saturating_mul(4), 4)
    }
}

/// What a sample outside the picture reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Border {
    /// Black (the detector's letterbox).
    Zero,
    /// The nearest edge pixel (the landmarker's crop of a face near the edge).
    Replicate,
}

/// Fills `out` (3 x size x size, CHW, RGB in [0, 1]) with `roi` of `img`, bilinearly.
pub fn sample_roi(img: &Image, roi: &Roi, size: usize, border: Border, out: &mut Vec<f32>) {
    let plane = size * size;
    out.clear();
    out.resize(3 * plane, 0.0);
    let (w, h) = (img.width as isize, img.height as isize);
    let inv = 1.0 / size as f32;
    let px = |x: isize, y: isize, c: usize| -> f32 {
        img.data[y as usize * img.stride + x as usize * img.channels + c] as f32
    };
    for v in 0..size {
        for u in 0..size {
            let p = roi.to_image([(u as f32 + 0.5) * inv, (v as f32 + 0.5) * inv]);
            // Pixel centres at +0.5.
            let (xf, yf) = (p[0] - 0.5, p[1] - 0.5);
            let o = v * size + u;
            if !(xf.is_finite() && yf.is_finite()) {
                continue;
            }
            if border == Border::Zero && (xf < -1.0 || yf < -1.0 || xf > w as f32 || yf > h as f32)
            {
                continue;
            }
            let (x0, y0) = (xf.floor(), yf.floor());
            let (fx, fy) = (xf - x0, yf - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            let taps = [
                (x0, y0, (1.0 - fx) * (1.0 - fy)),
                (x0 + 1, y0, fx * (1.0 - fy)),
                (x0, y0 + 1, (1.0 - fx) * fy),
                (x0 + 1, y0 + 1, fx * fy),
            ];
            let mut acc = [0f32; 3];
            for (x, y, wgt) in taps {
                let inside = x >= 0 && y >= 0 && x < w && y < h;
                if !inside && border == Border::Zero {
                    continue;
                }
                let (x, y) = (x.clamp(0, w - 1), y.clamp(0, h - 1));
                for (c, a) in acc.iter_mut().enumerate() {
                    *a += wgt * px(x, y, c);
                }
            }
            for (c, a) in acc.iter().enumerate() {
                out[c * plane + o] = a / 255.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_roi_reproduces_pixels() {
        // A 4x4 RGB picture sampled by a ROI that covers it exactly gives its pixels back.
        let data: Vec<u8> = (0..48).map(|i| (i * 5) as u8).collect();
        let img = Image::new(&data, 4, 4, 12, 3).unwrap();
        let mut out = Vec::new();
        sample_roi(&img, &Roi::whole(4, 4, 0), 4, Border::Zero, &mut out);
        for y in 0..4 {
            for x in 0..4 {
                for c in 0..3 {
                    let want = data[y * 12 + x * 3 + c] as f32 / 255.0;
                    let got = out[c * 16 + y * 4 + x];
                    assert!((want - got).abs() < 1e-5, "{x},{y},{c}: {want} {got}");
                }
            }
        }
    }

    #[test]
    fn letterbox_is_black_and_turns_move_pixels() {
        let mut data = vec![255u8; 4 * 2 * 4];
        data[0] = 0; // top-left pixel's red
        let img = Image::rgba(&data, 4, 2).unwrap();
        let mut out = Vec::new();
        sample_roi(&img, &Roi::whole(4, 2, 0), 4, Border::Zero, &mut out);
        // Rows 0 and 3 are the letterbox.
        assert!(out[0..4].iter().all(|v| *v == 0.0));
        assert_eq!(out[4], 0.0); // the dark red pixel at (0, 1)
        assert!((out[5] - 1.0).abs() < 1e-6);
        // Half a turn: the dark pixel lands at the bottom right of the picture rows.
        sample_roi(&img, &Roi::whole(4, 2, 2), 4, Border::Zero, &mut out);
        assert!(out[2 * 4 + 3] < 1e-4);
        assert!((out[2 * 4 + 2] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn rejects_short_buffers() {
        assert!(Image::new(&[0u8; 10], 2, 2, 6, 3).is_err());
        assert!(Image::new(&[0u8; 12], 2, 2, 6, 3).is_ok());
        assert!(Image::new(&[0u8; 12], 2, 2, 6, 2).is_err());
        assert!(Image::new(&[0u8; 12], 2, 2, 5, 3).is_err());
    }
}
