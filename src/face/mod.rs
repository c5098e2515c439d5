// SPDX-License-Identifier: MIT OR Apache-2.0
//! Face detection and landmarks on ONNX Runtime, with models free for commercial use.
//!
//! The default models are Google's MediaPipe face detector (BlazeFace, short range) and face
//! landmarker (468 points), Apache-2.0, converted to ONNX by training/convert_mediapipe.py
//! (models/LICENSE-mediapipe.txt says where they come from). The landmarker also outputs the 68 iBUG
//! points through a fixed linear map of its 468 (documented in docs/facelandmarks-models.md), so
//! the landmark stream stays `ibug68` and the training kit, which runs the same ONNX files, gets
//! the same points.
//!
//! Geometry: image coordinates are continuous, pixel `i` covers `[i, i + 1)`. A [`Roi`] is a
//! rotated square of the image; a model input of `S x S` pixels samples it at the pixel centres
//! `((u + 0.5) / S, (v + 0.5) / S)` of the ROI's unit square, and the models' outputs are in that
//! unit square too. The detector sees the whole image letterboxed into its square (optionally
//! turned by a quarter, half or three quarters for rotated pictures); the landmarker sees a square
//! 1.5 times the face, turned so that the eyes are level, from a detection or from the previous
//! frame's landmarks.
//!
//! Nothing here knows about GStreamer: [`FaceAnalyzer`] takes packed RGB(A) pixels.

mod detector;
mod mesh;
mod sample;
pub mod tracker;

use std::path::{Path, PathBuf};

pub use detector::Detection;
pub use mesh::MeshResult;
pub use sample::{sample_roi, Border, Image};

use crate::landmarks::N_POINTS;
use crate::onnx::{self, SessionOptions};

/// File name of the default face detector in the models folder.
pub const DETECTOR_FILE: &str = "face_detector.onnx";
/// File name of the default face landmarker in the models folder.
pub const LANDMARKER_FILE: &str = "face_landmarks.onnx";

/// Face presence (landmarker score) below which a fit counts as no face.
pub const MIN_PRESENCE: f32 = 0.5;

/// The 68 iBUG points of one face, in image pixels.
pub type Points68 = [[f32; 2]; N_POINTS];

/// The default detector model (source tree first, then the installed copy).
pub fn default_detector_path() -> PathBuf {
    onnx::default_model_path(DETECTOR_FILE)
}

/// The default landmark model (source tree first, then the installed copy).
pub fn default_landmarker_path() -> PathBuf {
    onnx::default_model_path(LANDMARKER_FILE)
}

/// A rotated square of the image: centre, side (pixels) and the angle (radians, image y down) of
/// its x axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roi {
    pub cx: f32,
    pub cy: f32,
    pub size: f32,
    pub angle: f32,
}

impl Roi {
    /// The whole image letterboxed into a square, turned by `quarter_turns` quarters (the ROI's x
    /// axis along the image's +x for 0, +y for 1, and so on).
    pub fn whole(width: usize, height: usize, quarter_turns: u32) -> Roi {
        Roi {
            cx: width as f32 / 2.0,
            cy: height as f32 / 2.0,
            size: width.max(height) as f32,
            angle: (quarter_turns % 4) as f32 * std::f32::consts::FRAC_PI_2,
        }
    }

    /// The image point of a point of the ROI's unit square.
    pub fn to_image(&self, p: [f32; 2]) -> [f32; 2] {
        let (s, c) = self.angle.sin_cos();
        let (x, y) = ((p[0] - 0.5) * self.size, (p[1] - 0.5) * self.size);
        [self.cx + x * c - y * s, self.cy + x * s + y * c]
    }

    /// The ROI unit-square point of an image point.
    pub fn from_image(&self, p: [f32; 2]) -> [f32; 2] {
        let (s, c) = self.angle.sin_cos();
        let (x, y) = (p[0] - self.cx, p[1] - self.cy);
        [
            (x * c + y * s) / self.size + 0.5,
            (-x * s + y * c) / self.size + 0.5,
        ]
    }

    /// The square around points, 1.5 times their extent along the axes of `angle`.
    pub fn around(points: impl Iterator<Item = [f32; 2]> + Clone, angle: f32) -> Option<Roi> {
        let (s, c) = angle.sin_cos();
        let (mut x0, mut x1, mut y0, mut y1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for p in points {
            let (u, v) = (p[0] * c + p[1] * s, -p[0] * s + p[1] * c);
            x0 = x0.min(u);
            x1 = x1.max(u);
            y0 = y0.min(v);
            y1 = y1.max(v);
        }
        let side = (x1 - x0).max(y1 - y0) * ROI_SCALE;
        let (u, v) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        let roi = Roi {
            cx: u * c - v * s,
            cy: u * s + v * c,
            size: side,
            angle,
        };
        (roi.cx.is_finite() && roi.cy.is_finite() && side.is_finite() && side > 1.0).then_some(roi)
    }

    /// Intersection over union with another ROI, as axis-aligned squares (enough to tell
    /// whether two finds are the same face).
    pub fn overlap(&self, o: &Roi) -> f32 {
        let (a, b) = (self.size / 2.0, o.size / 2.0);
        let w = ((self.cx + a).min(o.cx + b) - (self.cx - a).max(o.cx - b)).max(0.0);
        let h = ((self.cy + a).min(o.cy + b) - (self.cy - a).max(o.cy - b)).max(0.0);
        let i = w * h;
        let u = self.size * self.size + o.size * o.size - i;
        if u > 0.0 {
            i / u
        } else {
            0.0
        }
    }
}

/// Checks a face model's kind and its `image` input ([1, 3, S, S], S = its `talkingface.size`);
/// returns S.
fn image_model_size(model: &crate::onnx::ModelHandle, kind: &str) -> Result<usize, String> {
    model.check_kind(kind)?;
    let size: usize = model.meta_parse("size")?;
    if !(16..=1024).contains(&size) {
        return Err(format!("talkingface.size = {size} is out of range"));
    }
    match model.input("image").and_then(|s| s.shape.as_deref()) {
        Some([_, 3, h, w]) if *h == size as i64 && *w == size as i64 => Ok(size),
        other => Err(format!(
            "model input \"image\" has shape {other:?}, expected [1, 3, {size}, {size}]"
        )),
    }
}

/// Samples `roi` of the picture into `input` (the model's `image`, 1 x 3 x size x size) and runs
/// the model on it; `what` names the model in the error.
fn run_on_roi<'s>(
    model: &'s mut crate::onnx::ModelHandle,
    img: &Image,
    roi: &Roi,
    size: usize,
    border: Border,
    input: &mut Vec<f32>,
    what: &str,
) -> Result<ort::session::SessionOutputs<'s>, String> {
    sample_roi(img, roi, size, border, input);
    let t = ort::value::TensorRef::from_array_view(([1usize, 3, size, size], &input[..]))
        .map_err(|e| e.to_string())?;
    model
        .session()?
        .run(ort::inputs!["image" => t])
        .map_err(|e| format!("ONNX Runtime failed to run the {what}: {e}"))
}

/// Side of the landmarker's ROI over the face's extent (MediaPipe's rect transformation).
pub const ROI_SCALE: f32 = 1.5;

/// One face found in a still picture.
#[derive(Debug, Clone)]
pub struct PortraitFace {
    /// The 68 points, image pixels.
    pub points: Points68,
    /// Landmarker presence score.
    pub score: f32,
    /// Width of the face (detector box), pixels.
    pub width: f32,
    /// Quarter turns of the picture the face was found in (0 = upright).
    pub quarter_turns: u32,
    /// Widths of the other faces found, largest first.
    pub others: Vec<f32>,
}

/// The detector and the landmarker.
pub struct FaceAnalyzer {
    detector: detector::Detector,
    mesh: mesh::Mesh,
}

impl FaceAnalyzer {
    /// Opens both models under the provider policy of `opts`: on the CPU at once, their GPU
    /// sessions (where the policy asks for them) in the background (see [`onnx::ModelHandle`]).
    pub fn load(
        detector: &Path,
        landmarker: &Path,
        opts: &SessionOptions,
    ) -> Result<FaceAnalyzer, String> {
        Self::load_with_gate(detector, landmarker, opts, onnx::LoadGate::default())
    }

    /// [`FaceAnalyzer::load`] with the gate an element flushes to stop a streaming thread that
    /// waits for a background load.
    pub fn load_with_gate(
        detector: &Path,
        landmarker: &Path,
        opts: &SessionOptions,
        gate: onnx::LoadGate,
    ) -> Result<FaceAnalyzer, String> {
        let detector = detector::Detector::load(detector, opts, gate.clone())
            .map_err(|e| format!("face detector model {}: {e}", detector.display()))?;
        let mesh = mesh::Mesh::load(landmarker, opts, gate)
            .map_err(|e| format!("face landmark model {}: {e}", landmarker.display()))?;
        Ok(FaceAnalyzer { detector, mesh })
    }

    /// The execution providers the two models run on now (detector, landmarker); None for one
    /// whose strict provider is still loading.
    pub fn providers(&self) -> (Option<onnx::Provider>, Option<onnx::Provider>) {
        (self.detector.provider(), self.mesh.provider())
    }

    /// What both models said about their providers since the last call (see
    /// [`onnx::ModelHandle::take_reports`]).
    pub fn take_reports(&mut self) -> Vec<onnx::ProviderReport> {
        let mut r = self.detector.model.take_reports();
        r.extend(self.mesh.model.take_reports());
        r
    }

    /// Something to wait with (holding no lock) for each model whose strict provider is still
    /// loading in the background.
    pub fn waiters(&self) -> Vec<(onnx::Waiter<onnx::Opened>, onnx::LoadGate)> {
        self.detector
            .model
            .waiter()
            .into_iter()
            .chain(self.mesh.model.waiter())
            .collect()
    }

    /// Faces in the upright picture, largest first.
    pub fn detect(&mut self, img: &Image, quarter_turns: u32) -> Result<Vec<Detection>, String> {
        let mut d = self
            .detector
            .run(img, &Roi::whole(img.width, img.height, quarter_turns))?;
        d.sort_by(|a, b| b.width.total_cmp(&a.width));
        Ok(d)
    }

    /// Faces, largest first, in the picture turned by the quarter turns (0 to 3) where the
    /// detector is surest of its best face. (On a turned picture the upright detector still fires,
    /// with its eye keypoints the wrong way round: trying only upright first is not enough.)
    /// Returns the faces and the turns they were found at.
    pub fn detect_any_rotation(&mut self, img: &Image) -> Result<(Vec<Detection>, u32), String> {
        let mut best: Option<(f32, Vec<Detection>, u32)> = None;
        for q in 0..4 {
            let d = self.detect(img, q)?;
            let top = d.iter().map(|f| f.score).fold(f32::MIN, f32::max);
            if !d.is_empty() && best.as_ref().is_none_or(|b| top > b.0) {
                best = Some((top, d, q));
            }
        }
        Ok(best.map(|(_, d, q)| (d, q)).unwrap_or((Vec::new(), 0)))
    }

    /// The landmarks of the face in `roi`.
    pub fn landmarks(&mut self, img: &Image, roi: &Roi) -> Result<MeshResult, String> {
        self.mesh.run(img, roi)
    }

    /// The face of a portrait: the `index`-th largest face found (0: the largest), its 68 points
    /// refined by a second landmark pass on the ROI of the first. Errors name what is wrong (no
    /// face, too small, no such index).
    pub fn portrait(
        &mut self,
        img: &Image,
        index: usize,
        min_face_px: f32,
    ) -> Result<PortraitFace, String> {
        let (faces, quarter_turns) = self.detect_any_rotation(img)?;
        if faces.is_empty() {
            return Err(format!(
                "no face found in the portrait ({}x{}; also tried it turned by 90, 180 and 270 degrees)",
                img.width, img.height
            ));
        }
        let Some(face) = faces.get(index) else {
            return Err(format!(
                "face-index is {index} but only {} face(s) were found in the portrait ({})",
                faces.len(),
                widths(&faces)
            ));
        };
        if face.width < min_face_px {
            return Err(format!(
                "the face in the portrait is too small ({:.0} px wide; at least {min_face_px:.0} px needed)",
                face.width
            ));
        }
        let first = self.mesh.run(img, &face.roi())?;
        if first.score < MIN_PRESENCE {
            return Err(format!(
                "the face detector found a face ({:.0} px wide) but the landmarker does not see one there (presence {:.2})",
                face.width, first.score
            ));
        }
        // A second pass on the ROI the first pass's landmarks give (as when tracking video):
        // the detector's box is coarse, the landmarks' own extent is not.
        let result = match first.next_roi() {
            Some(roi) => {
                let second = self.mesh.run(img, &roi)?;
                if second.score >= first.score.min(MIN_PRESENCE) {
                    second
                } else {
                    first
                }
            }
            None => first,
        };
        let others = faces
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, f)| f.width)
            .collect();
        Ok(PortraitFace {
            points: result.points68,
            score: result.score,
            width: face.width,
            quarter_turns,
            others,
        })
    }
}

/// The face analysis of portraits: the ONNX models, or dlib where the `dlib` feature is built and
/// asked for.
pub enum PortraitAnalyzer {
    Onnx(Box<FaceAnalyzer>),
    #[cfg(feature = "dlib")]
    Dlib(Box<crate::dlib::FaceLandmarker>),
}

impl PortraitAnalyzer {
    /// The `index`-th largest face of a tightly packed RGBA picture (see
    /// [`FaceAnalyzer::portrait`]).
    pub fn portrait(
        &mut self,
        rgba: &[u8],
        width: usize,
        height: usize,
        index: usize,
        min_face_px: f32,
    ) -> Result<PortraitFace, String> {
        match self {
            PortraitAnalyzer::Onnx(a) => {
                let img = Image::rgba(rgba, width, height)?;
                a.portrait(&img, index, min_face_px)
            }
            #[cfg(feature = "dlib")]
            PortraitAnalyzer::Dlib(lm) => {
                dlib_portrait(lm, rgba, width, height, index, min_face_px)
            }
        }
    }
}

#[cfg(feature = "dlib")]
fn dlib_portrait(
    lm: &mut crate::dlib::FaceLandmarker,
    rgba: &[u8],
    width: usize,
    height: usize,
    index: usize,
    min_face_px: f32,
) -> Result<PortraitFace, String> {
    let gray: Vec<u8> = rgba
        .chunks_exact(4)
        .map(|p| ((p[0] as u32 * 77 + p[1] as u32 * 150 + p[2] as u32 * 29) >> 8) as u8)
        .collect();
    let mut faces = lm.detect(&gray, width, height, width, 1)?;
    if faces.is_empty() {
        return Err(format!(
            "no face found in the portrait ({width}x{height}); dlib needs a frontal, upright face"
        ));
    }
    faces.sort_by(|a, b| (b.width() * b.height()).total_cmp(&(a.width() * a.height())));
    let face = *faces.get(index).ok_or_else(|| {
        format!(
            "face-index is {index} but only {} face(s) were found in the portrait",
            faces.len()
        )
    })?;
    if face.width() < min_face_px {
        return Err(format!(
            "the face in the portrait is too small ({:.0} px wide; at least {min_face_px:.0} px needed)",
            face.width()
        ));
    }
    let raw = lm.landmarks(&gray, width, height, width, &face)?;
    let points = raw.map(|r| [r[0] + 0.5, r[1] + 0.5]);
    Ok(PortraitFace {
        points,
        score: 1.0,
        width: face.width(),
        quarter_turns: 0,
        others: faces
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, f)| f.width())
            .collect(),
    })
}

/// "556px, 186px" for an error or warning.
pub fn widths(faces: &[Detection]) -> String {
    faces
        .iter()
        .map(|f| format!("{:.0}px", f.width))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roi_round_trip() {
        let r = Roi {
            cx: 100.0,
            cy: 50.0,
            size: 80.0,
            angle: 0.3,
        };
        for p in [[0.0, 0.0], [0.5, 0.5], [1.0, 0.25], [0.1, 0.9]] {
            let q = r.from_image(r.to_image(p));
            assert!((q[0] - p[0]).abs() < 1e-5 && (q[1] - p[1]).abs() < 1e-5);
        }
        assert_eq!(r.to_image([0.5, 0.5]), [100.0, 50.0]);
        // The x axis of the ROI runs along its angle.
        let a = r.to_image([1.0, 0.5]);
        assert!((a[0] - (100.0 + 40.0 * 0.3f32.cos())).abs() < 1e-4);
        assert!((a[1] - (50.0 + 40.0 * 0.3f32.sin())).abs() < 1e-4);
    }

    #[test]
    fn whole_image_quarter_turns() {
        let r = Roi::whole(200, 100, 1);
        // Turned a quarter: the ROI's x axis runs down the image.
        let a = r.to_image([1.0, 0.5]);
        assert!((a[0] - 100.0).abs() < 1e-3 && (a[1] - 150.0).abs() < 1e-3);
        let r = Roi::whole(200, 100, 0);
        assert_eq!(r.to_image([0.0, 0.0]), [0.0, -50.0]);
    }

    #[test]
    fn around_is_rotation_aware() {
        // A 10x10 square turned by 30 degrees: the ROI along its own axes is 15 wide.
        let a = 30f32.to_radians();
        let (s, c) = a.sin_cos();
        let pts: Vec<[f32; 2]> = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]]
            .iter()
            .map(|p: &[f32; 2]| [p[0] * c - p[1] * s + 50.0, p[0] * s + p[1] * c + 20.0])
            .collect();
        let r = Roi::around(pts.iter().copied(), a).unwrap();
        assert!((r.size - 15.0).abs() < 1e-3, "{r:?}");
        let centre = [5.0 * c - 5.0 * s + 50.0, 5.0 * s + 5.0 * c + 20.0];
        assert!((r.cx - centre[0]).abs() < 1e-3 && (r.cy - centre[1]).abs() < 1e-3);
        assert!(Roi::around([[1.0, 1.0]].iter().copied(), 0.0).is_none());
    }
}
