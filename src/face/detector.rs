// SPDX-License-Identifier: MIT OR Apache-2.0
//! The face detector: a `face_detector` model (docs/facelandmarks-models.md) over the whole
//! picture, thresholded and merged by weighted non-maximum suppression.
//!
//! Model: input `image` f32 [1, 3, S, S] RGB in [0, 1]; outputs `scores` [1, A] (probability),
//! `boxes` [1, A, 4] (centre x, centre y, width, height in the input's unit square) and
//! `keypoints` [1, A, 6, 2] (right eye, left eye, nose tip, mouth, right ear, left ear; the
//! subject's right is the picture's left), all decoded from the anchors inside the model.

use std::path::Path;

use super::sample::{Border, Image};
use super::{Roi, ROI_SCALE};
use crate::onnx::{LoadGate, ModelHandle, Provider, SessionOptions};

/// Detections below this probability are dropped (MediaPipe's default).
pub const MIN_SCORE: f32 = 0.5;
/// Detections overlapping a surer one by more than this are merged into it.
const NMS_IOU: f32 = 0.3;
/// Keypoints per detection.
const N_KEYPOINTS: usize = 6;

/// A face found by the detector, in image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub score: f32,
    pub cx: f32,
    pub cy: f32,
    /// Box width and height along the axes of the ROI the detector looked through.
    pub width: f32,
    pub height: f32,
    pub keypoints: [[f32; 2]; N_KEYPOINTS],
}

impl Detection {
    /// The landmarker's ROI for this face: centred on the box, 1.5 times its longer side, turned
    /// so that the eyes are level.
    pub fn roi(&self) -> Roi {
        let [r, l] = [self.keypoints[0], self.keypoints[1]];
        Roi {
            cx: self.cx,
            cy: self.cy,
            size: self.width.max(self.height) * ROI_SCALE,
            angle: (l[1] - r[1]).atan2(l[0] - r[0]),
        }
    }
}

/// A detection in the input's unit square, before merging.
#[derive(Debug, Clone, Copy)]
struct Raw {
    score: f32,
    b: [f32; 4],
    k: [[f32; 2]; N_KEYPOINTS],
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = ((a[0] + a[2] / 2.0).min(b[0] + b[2] / 2.0)
        - (a[0] - a[2] / 2.0).max(b[0] - b[2] / 2.0))
    .max(0.0);
    let h = ((a[1] + a[3] / 2.0).min(b[1] + b[3] / 2.0)
        - (a[1] - a[3] / 2.0).max(b[1] - b[3] / 2.0))
    .max(0.0);
    let i = w * h;
    let u = a[2] * a[3] + b[2] * b[3] - i;
    if u > 0.0 {
        i / u
    } else {
        0.0
    }
}

/// Weighted non-maximum suppression: each surest remaining detection absorbs those overlapping
/// it, its box and keypoints becoming their score-weighted mean.
fn weighted_nms(mut raw: Vec<Raw>) -> Vec<Raw> {
    raw.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while let Some(top) = raw.first().copied() {
        let (group, rest): (Vec<Raw>, Vec<Raw>) =
            raw.into_iter().partition(|r| iou(&top.b, &r.b) > NMS_IOU);
        raw = rest;
        let total: f32 = group.iter().map(|r| r.score).sum();
        let mut m = Raw {
            score: top.score,
            b: [0.0; 4],
            k: [[0.0; 2]; N_KEYPOINTS],
        };
        for r in &group {
            let w = r.score / total;
            for (a, v) in m.b.iter_mut().zip(r.b) {
                *a += w * v;
            }
            for (a, v) in m.k.iter_mut().zip(r.k) {
                a[0] += w * v[0];
                a[1] += w * v[1];
            }
        }
        out.push(m);
    }
    out
}

pub struct Detector {
    pub(super) model: ModelHandle,
    size: usize,
    anchors: usize,
    input: Vec<f32>,
}

impl Detector {
    /// Opens the model on the CPU, checks it, and starts its GPU session (if the policy asks
    /// for one) in the background (see [`ModelHandle`]).
    pub fn load(path: &Path, opts: &SessionOptions, gate: LoadGate) -> Result<Detector, String> {
        let mut model = ModelHandle::open(path, opts, gate)?;
        let size = super::image_model_size(&model, "face_detector")?;
        let anchors = match model.output("scores").and_then(|s| s.shape.as_deref()) {
            Some([_, a]) if *a > 0 => *a as usize,
            other => {
                return Err(format!(
                    "model output \"scores\" has shape {other:?}, expected [1, anchors]"
                ))
            }
        };
        for (name, tail) in [("boxes", vec![4i64]), ("keypoints", vec![6, 2])] {
            let shape = model
                .output(name)
                .and_then(|s| s.shape.clone())
                .ok_or_else(|| format!("model has no float output named {name:?}"))?;
            if shape.len() != 2 + tail.len() || shape[1] != anchors as i64 || shape[2..] != tail[..]
            {
                return Err(format!(
                    "model output {name:?} has shape {shape:?}, expected [1, {anchors}, {tail:?}]"
                ));
            }
        }
        // Static shapes but the batch, which the profile pins to 1.
        model.start_gpu(&[])?;
        Ok(Detector {
            model,
            size,
            anchors,
            input: Vec::new(),
        })
    }

    /// The provider serving now (None while a strict provider loads).
    pub fn provider(&self) -> Option<Provider> {
        self.model.provider()
    }

    /// Faces inside `roi` of the picture, in image pixels.
    pub fn run(&mut self, img: &Image, roi: &Roi) -> Result<Vec<Detection>, String> {
        let out = super::run_on_roi(
            &mut self.model,
            img,
            roi,
            self.size,
            Border::Zero,
            &mut self.input,
            "face detector",
        )?;
        let get = |name: &str, per: usize| -> Result<&[f32], String> {
            let (_, v) = out[name]
                .try_extract_tensor::<f32>()
                .map_err(|e| format!("face detector output {name:?}: {e}"))?;
            if v.len() != self.anchors * per {
                return Err(format!(
                    "face detector output {name:?} has {} values, expected {}",
                    v.len(),
                    self.anchors * per
                ));
            }
            Ok(v)
        };
        let scores = get("scores", 1)?;
        let boxes = get("boxes", 4)?;
        let kps = get("keypoints", 2 * N_KEYPOINTS)?;
        let mut raw = Vec::new();
        for (i, &score) in scores.iter().enumerate() {
            if score.is_nan() || score < MIN_SCORE {
                continue;
            }
            let b = [
                boxes[4 * i],
                boxes[4 * i + 1],
                boxes[4 * i + 2],
                boxes[4 * i + 3],
            ];
            if !b.iter().all(|v| v.is_finite()) || b[2] <= 0.0 || b[3] <= 0.0 {
                continue;
            }
            let mut k = [[0f32; 2]; N_KEYPOINTS];
            for (j, kp) in k.iter_mut().enumerate() {
                let o = i * 2 * N_KEYPOINTS + 2 * j;
                *kp = [kps[o], kps[o + 1]];
            }
            raw.push(Raw { score, b, k });
        }
        Ok(weighted_nms(raw)
            .into_iter()
            .map(|r| {
                let c = roi.to_image([r.b[0], r.b[1]]);
                Detection {
                    score: r.score,
                    cx: c[0],
                    cy: c[1],
                    width: r.b[2] * roi.size,
                    height: r.b[3] * roi.size,
                    keypoints: r.k.map(|p| roi.to_image(p)),
                }
            })
            .filter(|d| d.cx.is_finite() && d.cy.is_finite())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(score: f32, x: f32) -> Raw {
        Raw {
            score,
            b: [x, 0.5, 0.2, 0.2],
            k: [[x, 0.5]; N_KEYPOINTS],
        }
    }

    #[test]
    fn nms_merges_overlapping_and_keeps_apart() {
        let out = weighted_nms(vec![raw(0.6, 0.52), raw(0.9, 0.5), raw(0.8, 0.1)]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        // Weighted mean of 0.5 (0.9) and 0.52 (0.6).
        let want = (0.5 * 0.9 + 0.52 * 0.6) / 1.5;
        assert!((out[0].b[0] - want).abs() < 1e-6);
        assert!((out[0].k[3][0] - want).abs() < 1e-6);
        assert_eq!(out[1].b[0], 0.1);
    }

    #[test]
    fn roi_levels_the_eyes() {
        let d = Detection {
            score: 1.0,
            cx: 50.0,
            cy: 50.0,
            width: 40.0,
            height: 30.0,
            keypoints: [
                [40.0, 40.0],
                [60.0, 50.0],
                [0.0; 2],
                [0.0; 2],
                [0.0; 2],
                [0.0; 2],
            ],
        };
        let r = d.roi();
        assert!((r.angle - (10f32).atan2(20.0)).abs() < 1e-6);
        assert_eq!(r.size, 60.0);
    }
}
