// SPDX-License-Identifier: MIT OR Apache-2.0
//! One face followed through video frames with the ONNX detector and landmarker.
//!
//! The detector runs when no face is tracked (upright first; turned pictures only when nothing is
//! upright and `rotations` is on) and every `detect_interval` frames while one is, to notice a
//! lost or replaced face: the track keeps its own ROI where a detection overlaps it, and moves to
//! the largest detection otherwise. In between, each frame's ROI comes from the previous frame's
//! landmarks (MediaPipe's tracking), which costs one landmarker run. A landmark fit whose
//! presence score falls below [`super::MIN_PRESENCE`] drops the track; the detector then looks
//! again in the same frame.

use super::{FaceAnalyzer, Image, MeshResult, Points68, Roi};

/// Overlap above which a detection is the tracked face.
const SAME_FACE_IOU: f32 = 0.3;

/// The landmarker's points depend a little on its ROI and the ROI on the points: taken afresh
/// every frame, the ROI of a still face wobbles between two states (about 1.5 degrees and a
/// pixel or two apart on a 300 px face) and so do the points. The ROI therefore only follows the
/// face once it has moved by more than this much: its centre by this fraction of its side, ...
const ROI_MOVE: f32 = 0.02;
/// ... its side by this fraction, ...
const ROI_RESIZE: f32 = 0.04;
/// ... or its angle by this many radians (3 degrees).
const ROI_TURN: f32 = 0.052;

/// `next` where the face has moved enough from `prev`, else `prev`.
fn steady(prev: &Roi, next: Roi) -> Roi {
    let moved = (next.cx - prev.cx).hypot(next.cy - prev.cy) > ROI_MOVE * prev.size;
    let resized = (next.size / prev.size).ln().abs() > ROI_RESIZE;
    let d = next.angle - prev.angle;
    let turned = d.sin().atan2(d.cos()).abs() > ROI_TURN;
    if moved || resized || turned {
        next
    } else {
        *prev
    }
}

/// Tracking settings.
#[derive(Debug, Clone, Copy)]
pub struct TrackerConfig {
    /// Detect every this many frames while tracking (1: every frame; 0: only when lost).
    pub detect_interval: u32,
    /// Try the picture turned by quarter turns when no upright face is found.
    pub rotations: bool,
    /// Index of the face to start from among those found, largest first.
    pub face_index: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            detect_interval: 10,
            rotations: true,
            face_index: 0,
        }
    }
}

/// What [`Tracker::process`] found in a frame.
#[derive(Debug, Clone, Copy)]
pub struct Found {
    pub points: Points68,
    pub score: f32,
    /// The detector ran on this frame.
    pub detected: bool,
}

/// Follows one face through video frames.
pub struct Tracker {
    analyzer: FaceAnalyzer,
    roi: Option<Roi>,
    since_detect: u32,
    /// Widths of all faces found when the track last started on one of several, largest first.
    crowd: Option<Vec<f32>>,
}

impl Tracker {
    pub fn new(analyzer: FaceAnalyzer) -> Tracker {
        Tracker {
            analyzer,
            roi: None,
            since_detect: 0,
            crowd: None,
        }
    }

    /// When the track last started on one face of several: the widths of all of them (largest
    /// first), once.
    pub fn take_crowd(&mut self) -> Option<Vec<f32>> {
        self.crowd.take()
    }

    /// Forgets the tracked face.
    pub fn reset(&mut self) {
        self.roi = None;
        self.since_detect = 0;
    }

    pub fn tracking(&self) -> bool {
        self.roi.is_some()
    }

    pub fn analyzer(&mut self) -> &mut FaceAnalyzer {
        &mut self.analyzer
    }

    /// A ROI to start from: the tracked face if a detection confirms it (false), else the chosen
    /// one (true).
    fn detect(&mut self, img: &Image, cfg: &TrackerConfig) -> Result<Option<(Roi, bool)>, String> {
        let faces = if self.roi.is_none() && cfg.rotations {
            self.analyzer.detect_any_rotation(img)?.0
        } else {
            self.analyzer.detect(img, 0)?
        };
        if let Some(cur) = self.roi {
            if faces.iter().any(|f| f.roi().overlap(&cur) > SAME_FACE_IOU) {
                return Ok(Some((cur, false)));
            }
        }
        if faces.len() > 1 {
            self.crowd = Some(faces.iter().map(|f| f.width).collect());
        }
        Ok(faces
            .get(cfg.face_index)
            .or(faces.first())
            .map(|f| (f.roi(), true)))
    }

    fn fit(&mut self, img: &Image, roi: &Roi) -> Result<Option<MeshResult>, String> {
        let m = self.analyzer.landmarks(img, roi)?;
        Ok((m.score >= super::MIN_PRESENCE).then_some(m))
    }

    /// On a detection frame, a second pass on the ROI of the first pass's landmarks, so that the
    /// detection frame's points are those tracking converges to (a still picture gives the same
    /// points in every frame).
    fn refine(&mut self, img: &Image, m: Option<MeshResult>) -> Result<Option<MeshResult>, String> {
        let Some(m) = m else {
            return Ok(None);
        };
        let Some(roi) = m.next_roi() else {
            return Ok(Some(m));
        };
        Ok(Some(self.fit(img, &roi)?.unwrap_or(m)))
    }

    /// Finds the face in one frame.
    pub fn process(&mut self, img: &Image, cfg: &TrackerConfig) -> Result<Option<Found>, String> {
        let due = self.roi.is_none()
            || cfg.detect_interval == 1
            || (cfg.detect_interval > 0 && self.since_detect + 1 >= cfg.detect_interval);
        let mut detected = false;
        let mut new_face = false;
        if due {
            let d = self.detect(img, cfg)?;
            self.roi = d.map(|(r, _)| r);
            new_face = d.is_some_and(|(_, new)| new);
            self.since_detect = 0;
            detected = true;
        } else {
            self.since_detect += 1;
        }
        let Some(roi) = self.roi else {
            return Ok(None);
        };
        let mut found = self.fit(img, &roi)?;
        if new_face {
            found = self.refine(img, found)?;
        }
        if found.is_none() && !detected {
            // Lost while tracking: look for the face afresh in this frame.
            self.roi = None;
            if let Some((roi, _)) = self.detect(img, cfg)? {
                detected = true;
                self.since_detect = 0;
                found = self.fit(img, &roi)?;
                found = self.refine(img, found)?;
            }
        }
        match found {
            Some(m) => {
                self.roi = m.next_roi().map(|n| steady(&m.roi, n));
                Ok(Some(Found {
                    points: m.points68,
                    score: m.score,
                    detected,
                }))
            }
            None => {
                self.reset();
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roi_follows_only_real_motion() {
        let a = Roi {
            cx: 100.0,
            cy: 100.0,
            size: 300.0,
            angle: 0.0,
        };
        let wobble = Roi {
            cx: 102.0,
            cy: 99.0,
            size: 302.0,
            angle: 0.03,
        };
        assert_eq!(steady(&a, wobble), a);
        for moved in [
            Roi { cx: 110.0, ..a },
            Roi { size: 320.0, ..a },
            Roi { angle: -0.1, ..a },
        ] {
            assert_eq!(steady(&a, moved), moved);
        }
    }
}
