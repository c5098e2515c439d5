// SPDX-License-Identifier: MIT OR Apache-2.0
//! The face landmarker: a `face_landmarks` model (docs/facelandmarks-models.md) on a ROI of the
//! picture.
//!
//! Model: input `image` f32 [1, 3, S, S] RGB in [0, 1]; outputs `landmarks` [1, M, 3] (x, y in the
//! input's unit square, z scaled alike), `score` [1] (probability that a face fills the input) and
//! `ibug68` [1, 68, 2] (the 68 iBUG points, in the unit square).

use std::path::Path;

use super::sample::{Border, Image};
use super::{Points68, Roi};
use crate::landmarks::N_POINTS;
use crate::onnx::{LoadGate, ModelHandle, Provider, SessionOptions};

/// Dense points whose line gives the ROI's angle when tracking: the outer eye corners of the
/// 468-point mesh (subject's right, then left).
const EYE_CORNERS: [usize; 2] = [33, 263];

/// What the landmarker found in a ROI, in image pixels.
#[derive(Debug, Clone)]
pub struct MeshResult {
    pub points68: Points68,
    /// The dense points (x, y).
    pub dense: Vec<[f32; 2]>,
    pub score: f32,
    pub roi: Roi,
}

impl MeshResult {
    /// The ROI for the next frame of a video, or a refining pass: around the dense points, turned
    /// so that the outer eye corners are level.
    pub fn next_roi(&self) -> Option<Roi> {
        let angle = if self.dense.len() > EYE_CORNERS[1] {
            let [r, l] = EYE_CORNERS.map(|i| self.dense[i]);
            (l[1] - r[1]).atan2(l[0] - r[0])
        } else {
            let (r, l) = (self.points68[36], self.points68[45]);
            (l[1] - r[1]).atan2(l[0] - r[0])
        };
        if self.dense.is_empty() {
            Roi::around(self.points68.iter().copied(), angle)
        } else {
            Roi::around(self.dense.iter().copied(), angle)
        }
    }
}

pub struct Mesh {
    pub(super) model: ModelHandle,
    size: usize,
    dense: usize,
    input: Vec<f32>,
}

impl Mesh {
    /// Opens the model on the CPU, checks it, and starts its GPU session (if the policy asks
    /// for one) in the background (see [`ModelHandle`]).
    pub fn load(path: &Path, opts: &SessionOptions, gate: LoadGate) -> Result<Mesh, String> {
        let mut model = ModelHandle::open(path, opts, gate)?;
        let size = super::image_model_size(&model, "face_landmarks")?;
        match model.output("ibug68").and_then(|s| s.shape.as_deref()) {
            Some([_, n, 2]) if *n == N_POINTS as i64 => {}
            other => {
                return Err(format!(
                    "model output \"ibug68\" has shape {other:?}, expected [1, 68, 2]"
                ))
            }
        }
        if model.output("score").is_none() {
            return Err("model has no output named \"score\"".into());
        }
        let dense = match model.output("landmarks").and_then(|s| s.shape.as_deref()) {
            Some([_, m, 3]) if *m > 0 => *m as usize,
            None => 0,
            other => {
                return Err(format!(
                    "model output \"landmarks\" has shape {other:?}, expected [1, M, 3]"
                ))
            }
        };
        // Static shapes but the batch, which the profile pins to 1.
        model.start_gpu(&[])?;
        Ok(Mesh {
            model,
            size,
            dense,
            input: Vec::new(),
        })
    }

    /// The provider serving now (None while a strict provider loads).
    pub fn provider(&self) -> Option<Provider> {
        self.model.provider()
    }

    /// The landmarks of the face in `roi`.
    pub fn run(&mut self, img: &Image, roi: &Roi) -> Result<MeshResult, String> {
        let out = super::run_on_roi(
            &mut self.model,
            img,
            roi,
            self.size,
            Border::Replicate,
            &mut self.input,
            "face landmarker",
        )?;
        let (_, p68) = out["ibug68"]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("face landmarker output \"ibug68\": {e}"))?;
        if p68.len() != 2 * N_POINTS {
            return Err(format!(
                "face landmarker output \"ibug68\" has {} values, expected {}",
                p68.len(),
                2 * N_POINTS
            ));
        }
        let (_, score) = out["score"]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("face landmarker output \"score\": {e}"))?;
        let score = score.first().copied().unwrap_or(0.0);
        let mut points68 = [[0f32; 2]; N_POINTS];
        for (p, q) in points68.iter_mut().zip(p68.chunks_exact(2)) {
            *p = roi.to_image([q[0], q[1]]);
        }
        let mut dense = Vec::new();
        if self.dense > 0 {
            let (_, d) = out["landmarks"]
                .try_extract_tensor::<f32>()
                .map_err(|e| format!("face landmarker output \"landmarks\": {e}"))?;
            if d.len() == 3 * self.dense {
                dense = d
                    .chunks_exact(3)
                    .map(|q| roi.to_image([q[0], q[1]]))
                    .collect();
            }
        }
        let finite = points68.iter().flatten().all(|v| v.is_finite());
        Ok(MeshResult {
            points68,
            dense,
            score: if finite && score.is_finite() {
                score
            } else {
                0.0
            },
            roi: *roi,
        })
    }
}
