// SPDX-License-Identifier: MIT OR Apache-2.0
//! The portrait: decoding, its landmarks, the aligned crop the model takes, and the map that pastes
//! the generated crop back into the whole portrait.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::face::{sample_roi, Border, Image, PortraitAnalyzer, PortraitFace, Roi};
use crate::faceshape::{close_mouth, fit_similarity, mouth_opening, neutralise_smile, Smile};
use crate::landmarks::N_POINTS;

/// Smallest face (width of the detector's box) accepted, in pixels.
pub const MIN_FACE_PX: f32 = 64.0;

/// How the crop is aligned to the reference landmarks: the model's `crop` metadata,
/// `eyes:x36,y36,x45,y45` (where points 36 and 45, the outer eye corners, go, as fractions of the crop).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crop {
    pub size: usize,
    pub eye_r: [f32; 2],
    pub eye_l: [f32; 2],
}

impl Crop {
    pub fn parse(s: &str, size: usize) -> Result<Crop, String> {
        let spec = s
            .strip_prefix("eyes:")
            .ok_or_else(|| format!("crop {s:?} is not of the form eyes:x36,y36,x45,y45"))?;
        let v: Vec<f32> = spec
            .split(',')
            .map(|x| x.trim().parse::<f32>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("crop {s:?} has a value that is not a number"))?;
        if v.len() != 4 || v.iter().any(|x| !x.is_finite() || *x < 0.0 || *x > 1.0) {
            return Err(format!(
                "crop {s:?} needs four numbers between 0 and 1 (x36,y36,x45,y45)"
            ));
        }
        if (v[2] - v[0]).abs() + (v[3] - v[1]).abs() < 0.05 {
            return Err(format!("crop {s:?} puts both eyes at the same place"));
        }
        Ok(Crop {
            size,
            eye_r: [v[0], v[1]],
            eye_l: [v[2], v[3]],
        })
    }

    /// Crop units per canonical unit (the canonical frame has its eye corners 0.4 apart).
    pub fn canonical_scale(&self) -> f32 {
        let d = ((self.eye_l[0] - self.eye_r[0]).powi(2) + (self.eye_l[1] - self.eye_r[1]).powi(2))
            .sqrt();
        d / 0.4
    }
}

/// One portrait pixel that the generated crop covers, with its bilinear taps in the crop.
#[derive(Debug, Clone, Copy)]
pub(super) struct PasteTap {
    pub(super) pixel: u32,
    pub(super) crop0: u32,
    pub(super) fx: f32,
    pub(super) fy: f32,
}

/// Numbers the identities made by this process ([`Identity::serial`]).
static SERIAL: AtomicU64 = AtomicU64::new(1);

/// A portrait ready to be driven.
pub struct Identity {
    /// Unique to this identity in the process: what the model's bound inputs were made from
    /// ([`super::generator`]).
    pub serial: u64,
    pub width: usize,
    pub height: usize,
    /// The portrait, tightly packed RGBA.
    pub rgba: Vec<u8>,
    /// The aligned crop, CHW RGB in [0, 1], size x size.
    pub reference: Vec<f32>,
    /// The landmarks in crop coordinates scaled to [0, 1].
    pub reference_landmarks: [[f32; 2]; N_POINTS],
    /// The same face with a neutral mouth: closed ([`crate::faceshape::close_mouth`]), and a smile
    /// beyond a neutral mouth's limits taken back to them ([`crate::faceshape::neutralise_smile`]);
    /// what the stream's expression is added to with `portrait-expression=neutral`.
    pub neutral_landmarks: [[f32; 2]; N_POINTS],
    /// The portrait's own mouth opening (inner-lip gap over mouth width).
    pub mouth_opening: f32,
    /// The portrait's own smile, measured with its mouth closed (None for degenerate landmarks).
    pub smile: Option<Smile>,
    pub crop: Crop,
    /// Every portrait pixel the crop covers ([`super::composite`] pastes through them).
    pub(super) taps: Vec<PasteTap>,
}

/// Portraits with a longer side than this are scaled down to it after decoding (full mode outputs
/// video of the portrait's size; nothing gains from more).
pub const MAX_PORTRAIT_SIDE: u32 = 4096;
/// Pictures larger than this on a side are not decoded at all.
pub const MAX_DECODE_SIDE: u32 = 16384;
/// What the decoder may allocate for one picture.
pub const MAX_DECODE_ALLOC: u64 = 1 << 30;

/// A decoded portrait: tightly packed RGBA, and the size of the picture before any scaling down.
pub struct Decoded {
    pub rgba: Vec<u8>,
    pub width: usize,
    pub height: usize,
    pub original: (u32, u32),
}

/// Decodes a PNG or JPEG file to RGBA, within [`MAX_DECODE_SIDE`] and [`MAX_DECODE_ALLOC`], and
/// scales it down to [`MAX_PORTRAIT_SIDE`] on its longer side where it is larger.
pub fn decode_image(path: &Path) -> Result<Decoded, String> {
    let mut reader = image::ImageReader::open(path)
        .map_err(|e| format!("cannot open portrait {}: {e}", path.display()))?
        .with_guessed_format()
        .map_err(|e| format!("cannot read portrait {}: {e}", path.display()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_DECODE_SIDE);
    limits.max_image_height = Some(MAX_DECODE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(l) => format!(
            "portrait {} is too large to decode ({l}; at most {MAX_DECODE_SIDE} pixels a side and {} MiB): scale it down first",
            path.display(),
            MAX_DECODE_ALLOC >> 20
        ),
        e => format!(
            "cannot decode portrait {} (PNG or JPEG expected): {e}",
            path.display()
        ),
    })?;
    let original = (img.width(), img.height());
    let img = if original.0.max(original.1) > MAX_PORTRAIT_SIDE {
        // thumbnail keeps the aspect ratio within the bounds, with an area filter.
        img.thumbnail(MAX_PORTRAIT_SIDE, MAX_PORTRAIT_SIDE)
    } else {
        img
    };
    let rgba = img.to_rgba8();
    let (width, height) = (rgba.width() as usize, rgba.height() as usize);
    Ok(Decoded {
        rgba: rgba.into_raw(),
        width,
        height,
        original,
    })
}

impl Identity {
    /// Prepares the crop and paste-back map of a portrait (tightly packed RGBA) whose face has
    /// the 68 `points` (image pixels, found by [`crate::face`]).
    pub fn new(
        rgba: Vec<u8>,
        width: usize,
        height: usize,
        points: &[[f32; 2]; N_POINTS],
        crop: Crop,
    ) -> Result<Identity, String> {
        if width < 16 || height < 16 || rgba.len() < width * height * 4 {
            return Err(format!("portrait of {width}x{height} is too small"));
        }
        if !points.iter().flatten().all(|v| v.is_finite()) {
            return Err("the portrait's landmarks are not finite".into());
        }
        let points = *points;
        let to_crop = fit_similarity(
            &[points[36], points[45]],
            &[crop.eye_r, crop.eye_l],
            &[1.0, 1.0],
        )
        .ok_or("the portrait's eye corners coincide; cannot align the face")?;
        let s = crop.size;
        let mut reference_landmarks = [[0f32; 2]; N_POINTS];
        for (r, p) in reference_landmarks.iter_mut().zip(points.iter()) {
            *r = to_crop.apply(*p);
        }
        // The crop, sampled from the portrait: the crop's unit square is a rotated square of the
        // portrait (a similarity), i.e. a ROI of the face analysis' sampler.
        let from_crop = to_crop.inverse();
        let centre = from_crop.apply([0.5, 0.5]);
        let roi = Roi {
            cx: centre[0],
            cy: centre[1],
            size: from_crop.scale(),
            angle: from_crop.angle(),
        };
        let mut reference = Vec::new();
        sample_roi(
            &Image::rgba(&rgba, width, height)?,
            &roi,
            s,
            Border::Replicate,
            &mut reference,
        );
        // Paste-back taps: every portrait pixel inside the crop's footprint.
        let corners = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]].map(|c| from_crop.apply(c));
        let minx = corners
            .iter()
            .map(|c| c[0])
            .fold(f32::MAX, f32::min)
            .floor()
            .max(0.0) as usize;
        let maxx =
            (corners.iter().map(|c| c[0]).fold(f32::MIN, f32::max).ceil() as usize).min(width);
        let miny = corners
            .iter()
            .map(|c| c[1])
            .fold(f32::MAX, f32::min)
            .floor()
            .max(0.0) as usize;
        let maxy =
            (corners.iter().map(|c| c[1]).fold(f32::MIN, f32::max).ceil() as usize).min(height);
        let mut taps = Vec::new();
        for y in miny..maxy {
            for x in minx..maxx {
                let c = to_crop.apply([x as f32 + 0.5, y as f32 + 0.5]);
                let (cx, cy) = (c[0] * s as f32 - 0.5, c[1] * s as f32 - 0.5);
                if cx < 0.0 || cy < 0.0 || cx >= (s - 1) as f32 || cy >= (s - 1) as f32 {
                    continue;
                }
                let (x0, y0) = (cx.floor() as usize, cy.floor() as usize);
                taps.push(PasteTap {
                    pixel: (y * width + x) as u32,
                    crop0: (y0 * s + x0) as u32,
                    fx: cx - x0 as f32,
                    fy: cy - y0 as f32,
                });
            }
        }
        let (neutral_landmarks, smile) = neutralise_smile(&close_mouth(&reference_landmarks));
        Ok(Identity {
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            width,
            height,
            rgba,
            reference,
            neutral_landmarks,
            mouth_opening: mouth_opening(&reference_landmarks),
            smile,
            reference_landmarks,
            crop,
            taps,
        })
    }

    /// Finds the `face_index`-th largest face of a portrait (tightly packed RGBA) with the face
    /// analysis and prepares it; also says what was found (for the element's messages).
    pub fn analyse(
        analyzer: &mut PortraitAnalyzer,
        rgba: Vec<u8>,
        width: usize,
        height: usize,
        face_index: usize,
        crop: Crop,
    ) -> Result<(Identity, PortraitFace), String> {
        let face = analyzer.portrait(&rgba, width, height, face_index, MIN_FACE_PX)?;
        let id = Identity::new(rgba, width, height, &face.points, crop)?;
        Ok((id, face))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_metadata() {
        let c = Crop::parse("eyes:0.3,0.333333,0.7,0.333333", 256).unwrap();
        assert!((c.canonical_scale() - 1.0).abs() < 1e-5);
        assert!(Crop::parse("centre:0.5", 256).is_err());
        assert!(Crop::parse("eyes:0.3,0.3,0.3,0.3", 256).is_err());
        assert!(Crop::parse("eyes:0.3,x,0.7,0.3", 256).is_err());
    }

    #[test]
    fn large_portraits_are_scaled_down_and_huge_ones_refused() {
        let dir = std::env::temp_dir().join(format!("identity-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // 5000x3000, a flat colour: decoded, then scaled to 4096 on the longer side.
        let big = dir.join("big.png");
        image::RgbImage::from_pixel(5000, 3000, image::Rgb([90, 120, 150]))
            .save(&big)
            .unwrap();
        let d = decode_image(&big).unwrap();
        assert_eq!(d.original, (5000, 3000));
        assert_eq!((d.width, d.height), (4096, 2458));
        assert_eq!(d.rgba.len(), 4096 * 2458 * 4);
        assert_eq!(&d.rgba[..4], &[90, 120, 150, 255]);
        // A PNG whose header claims 20000x20000: refused before any pixel is allocated.
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(b"IHDR");
        ihdr.extend_from_slice(&20000u32.to_be_bytes());
        ihdr.extend_from_slice(&20000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut huge = b"\x89PNG\r\n\x1a\n".to_vec();
        huge.extend_from_slice(&13u32.to_be_bytes());
        huge.extend_from_slice(&ihdr);
        huge.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        let hp = dir.join("huge.png");
        std::fs::write(&hp, &huge).unwrap();
        let e = decode_image(&hp).err().unwrap();
        assert!(e.contains("too large"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// PNG's CRC-32 (for the test's hand-made header).
    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
}
