// SPDX-License-Identifier: MIT OR Apache-2.0
//! Face detection and tracking over video frames, on top of [`crate::dlib`].
//!
//! The shape predictor needs a face box. dlib's HOG detector gives one, but costs tens of
//! milliseconds. Between detections the detector's box is carried along with the face: it is
//! moved by the similarity (fitted on the stable points, see [`crate::faceshape`]) that takes the
//! points found in the detection frame onto the previous frame's points, which costs about a
//! millisecond. (Deriving the box from the points alone is unstable: the predicted shape grows
//! with its box, and the box with the shape.) On a still image this gives exactly the detection
//! frame's points. The detector runs again every `detect_interval` frames, only to confirm the
//! face (the track is re-anchored when the detector's box and the carried box overlap by less
//! than half), and at once when the fitted shape is implausible; if it misses the face
//! [`MAX_MISSES`] times in a row, the track is dropped.

use gst_video::prelude::*;

use crate::dlib::{FaceLandmarker, FaceRect, N_LANDMARKS};
use crate::faceshape::{fit_similarity, stable_weights, Canonicalizer};
use crate::landmarks;

/// Consecutive detector misses after which a tracked face counts as lost.
pub const MAX_MISSES: u32 = 3;

/// RMS distance (canonical units, eye corners 0.4 apart) from the mean face after the rigid
/// alignment above which a fitted shape is taken as a failed fit.
pub const MAX_RESIDUAL: f32 = 0.08;

/// Largest image (pixels) the detector upsamples to.
pub const MAX_DETECT_PIXELS: usize = 16 << 20;

/// Smallest face box side the tracker follows, in pixels.
const MIN_BOX: f32 = 24.0;

type Points = [[f32; 2]; N_LANDMARKS];

/// A borrowed gray image.
#[derive(Clone, Copy)]
pub struct Gray<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub stride: usize,
}

/// Tracking settings.
#[derive(Debug, Clone, Copy)]
pub struct TrackerConfig {
    /// Re-detect every this many frames while tracking (1: detect on every frame; 0: only when the
    /// track is lost or the fit degrades).
    pub detect_interval: u32,
    /// Times the image is doubled before detection (0..=3).
    pub upsample: u32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            detect_interval: 10,
            upsample: 0,
        }
    }
}

/// What [`FaceTracker::process`] found in a frame.
#[derive(Debug, Clone, Copy)]
pub struct Found {
    pub points: Points,
    /// The detector ran on this frame (and found the face).
    pub detected: bool,
}

/// RMS distance from the mean face after the rigid alignment, in canonical units.
pub fn fit_residual(points: &Points) -> f32 {
    let Some(t) = Canonicalizer::align(points) else {
        return f32::INFINITY;
    };
    let m = landmarks::mean_face();
    let mut s = 0f32;
    for (p, q) in points.iter().zip(m.iter()) {
        let a = t.apply(*p);
        s += (a[0] - q[0]).powi(2) + (a[1] - q[1]).powi(2);
    }
    (s / N_LANDMARKS as f32).sqrt()
}

/// The detector box of a face in canonical units (centre x, centre y, side).
pub fn canonical_box(points: &Points, r: &FaceRect) -> Option<[f32; 3]> {
    let t = Canonicalizer::align(points)?;
    let c = t.apply([(r.left + r.right) / 2.0, (r.top + r.bottom) / 2.0]);
    Some([c[0], c[1], r.width().max(r.height()) * t.scale()])
}

fn iou(a: &FaceRect, b: &FaceRect) -> f32 {
    let w = (a.right.min(b.right) - a.left.max(b.left)).max(0.0);
    let h = (a.bottom.min(b.bottom) - a.top.max(b.top)).max(0.0);
    let i = w * h;
    let u = a.width() * a.height() + b.width() * b.height() - i;
    if u > 0.0 {
        i / u
    } else {
        0.0
    }
}

/// A detection the track is anchored to: the detector's box and the points found in it.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    rect: FaceRect,
    points: Points,
}

impl Anchor {
    /// The anchor's box moved by the motion of the face from the anchor's points to `points`.
    fn carry(&self, points: &Points) -> Option<FaceRect> {
        let m = fit_similarity(&self.points, points, &stable_weights())?;
        let c = m.apply([
            (self.rect.left + self.rect.right) / 2.0,
            (self.rect.top + self.rect.bottom) / 2.0,
        ]);
        let (hw, hh) = (
            self.rect.width() * m.scale() / 2.0,
            self.rect.height() * m.scale() / 2.0,
        );
        let r = FaceRect {
            left: c[0] - hw,
            top: c[1] - hh,
            right: c[0] + hw,
            bottom: c[1] + hh,
            score: self.rect.score,
        };
        [r.left, r.top, r.right, r.bottom]
            .iter()
            .all(|v| v.is_finite())
            .then_some(r)
    }
}

enum Detection {
    /// The detector sees the tracked face where the track has it.
    Confirmed,
    /// A face to (re)start the track from.
    New(Box<Anchor>),
    /// No usable face.
    None,
}

struct Track {
    anchor: Anchor,
    prev: Points,
}

/// Follows one face through video frames.
pub struct FaceTracker {
    lm: FaceLandmarker,
    track: Option<Track>,
    since_detect: u32,
    misses: u32,
    redetect: bool,
}

impl FaceTracker {
    pub fn new(lm: FaceLandmarker) -> Self {
        FaceTracker {
            lm,
            track: None,
            since_detect: 0,
            misses: 0,
            redetect: false,
        }
    }

    /// Forgets the tracked face.
    pub fn reset(&mut self) {
        self.track = None;
        self.since_detect = 0;
        self.misses = 0;
        self.redetect = false;
    }

    /// Whether a face is being tracked.
    pub fn tracking(&self) -> bool {
        self.track.is_some()
    }

    /// The landmarker, for direct use.
    pub fn landmarker(&mut self) -> &mut FaceLandmarker {
        &mut self.lm
    }

    fn usable_box(r: &FaceRect, img: &Gray) -> bool {
        let side = r.width().min(r.height());
        side >= MIN_BOX
            && r.right > 0.0
            && r.bottom > 0.0
            && r.left < img.width as f32
            && r.top < img.height as f32
    }

    fn fit(&mut self, img: &Gray, r: &FaceRect) -> Result<Option<Points>, String> {
        let p = self
            .lm
            .landmarks(img.data, img.width, img.height, img.stride, r)?;
        Ok((fit_residual(&p) <= MAX_RESIDUAL).then_some(p))
    }

    /// The box the tracked face would have in this frame, carried from its anchor.
    fn carried_box(&self, img: &Gray) -> Option<FaceRect> {
        let t = self.track.as_ref()?;
        t.anchor.carry(&t.prev).filter(|b| Self::usable_box(b, img))
    }

    /// Runs the detector.
    fn detect(&mut self, img: &Gray, cfg: &TrackerConfig) -> Result<Detection, String> {
        // Upsampling stops short of images beyond MAX_DETECT_PIXELS.
        let mut upsample = cfg.upsample.min(3);
        while upsample > 0 && (img.width * img.height) << (2 * upsample) > MAX_DETECT_PIXELS {
            upsample -= 1;
        }
        let rects = self
            .lm
            .detect(img.data, img.width, img.height, img.stride, upsample)?;
        let carried = self.carried_box(img);
        if let Some(cb) = carried {
            let best = rects
                .iter()
                .map(|r| (iou(r, &cb), *r))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match best {
                // The detector sees the tracked face where the track has it: confirmed.
                Some((o, _)) if o >= 0.5 => return Ok(Detection::Confirmed),
                // It sees it elsewhere (or another face): re-anchor.
                Some((o, r)) if o > 0.2 => {
                    return self.anchor_at(img, r);
                }
                _ => {}
            }
        }
        match rects.first() {
            Some(r) => self.anchor_at(img, *r),
            None => Ok(Detection::None),
        }
    }

    fn anchor_at(&mut self, img: &Gray, rect: FaceRect) -> Result<Detection, String> {
        Ok(match self.fit(img, &rect)? {
            Some(points) => Detection::New(Box::new(Anchor { rect, points })),
            None => Detection::None,
        })
    }

    /// Finds the face in one frame: by detection or by tracking, as the state and `cfg` say.
    pub fn process(&mut self, img: &Gray, cfg: &TrackerConfig) -> Result<Option<Found>, String> {
        let due = self.track.is_none()
            || self.redetect
            || cfg.detect_interval == 1
            || (cfg.detect_interval > 0 && self.since_detect + 1 >= cfg.detect_interval);
        if due {
            match self.detect(img, cfg)? {
                Detection::Confirmed => {
                    // Go on tracking from the same anchor.
                    self.since_detect = 0;
                    self.misses = 0;
                    self.redetect = false;
                }
                Detection::New(anchor) => {
                    let anchor = *anchor;
                    self.track = Some(Track {
                        anchor,
                        prev: anchor.points,
                    });
                    self.since_detect = 0;
                    self.misses = 0;
                    self.redetect = false;
                    return Ok(Some(Found {
                        points: anchor.points,
                        detected: true,
                    }));
                }
                Detection::None => {
                    if self.track.is_none() {
                        return Ok(None);
                    }
                    self.misses += 1;
                    if self.misses >= MAX_MISSES {
                        self.reset();
                        return Ok(None);
                    }
                    // The detector can miss a face it saw a moment ago (a turn, motion blur):
                    // keep tracking, and detect again on the next frame.
                    self.redetect = true;
                }
            }
        }
        let Some(b) = self.carried_box(img) else {
            self.reset();
            return Ok(None);
        };
        let tracked = self.fit(img, &b)?;
        match (tracked, &mut self.track) {
            (Some(p), Some(t)) => {
                t.prev = p;
                self.since_detect += 1;
                Ok(Some(Found {
                    points: p,
                    detected: false,
                }))
            }
            _ => {
                // The fit degraded: find the face afresh in this frame.
                self.reset();
                if due {
                    return Ok(None);
                }
                match self.detect(img, cfg)? {
                    Detection::New(anchor) => {
                        let anchor = *anchor;
                        self.track = Some(Track {
                            anchor,
                            prev: anchor.points,
                        });
                        Ok(Some(Found {
                            points: anchor.points,
                            detected: true,
                        }))
                    }
                    _ => Ok(None),
                }
            }
        }
    }
}

/// The gray picture dlib works on: the luma plane of YUV and gray frames as it is, the BT.601
/// luma of RGB frames (computed into `buf`).
pub fn luma<'a>(
    frame: &'a gst_video::VideoFrameRef<&gst::BufferRef>,
    buf: &'a mut Vec<u8>,
) -> Result<Gray<'a>, String> {
    let info = frame.info();
    let (w, h) = (info.width() as usize, info.height() as usize);
    let stride = frame.plane_stride()[0] as usize;
    let data = frame
        .plane_data(0)
        .map_err(|e| format!("cannot read the video frame: {e}"))?;
    let finfo = info.format_info();
    if !finfo.is_rgb() {
        return Ok(Gray {
            data,
            width: w,
            height: h,
            stride,
        });
    }
    let px = finfo.pixel_stride()[0] as usize;
    let off = finfo.poffset();
    let (ro, go, bo) = (off[0] as usize, off[1] as usize, off[2] as usize);
    if px == 0 || ro.max(go).max(bo) >= px {
        return Err(format!("unexpected pixel layout of {:?}", info.format()));
    }
    if w == 0 || h == 0 || stride < w * px || data.len() < stride * (h - 1) + w * px {
        return Err(format!(
            "video frame of {} bytes is too small for {w}x{h} {:?}",
            data.len(),
            info.format()
        ));
    }
    buf.resize(w * h, 0);
    for (y, row) in buf.chunks_exact_mut(w).enumerate() {
        let src = &data[y * stride..y * stride + w * px];
        for (o, p) in row.iter_mut().zip(src.chunks_exact(px)) {
            let v = 77 * p[ro] as u32 + 150 * p[go] as u32 + 29 * p[bo] as u32;
            *o = (v >> 8) as u8;
        }
    }
    Ok(Gray {
        data: buf,
        width: w,
        height: h,
        stride: w,
    })
}
