// SPDX-License-Identifier: MIT OR Apache-2.0
//! Retargeting: a frame of the landmark stream (expression relative to the mean face, and a pose)
//! applied to a portrait's landmarks in its crop, giving the landmarks the model renders.

use super::identity::Identity;
use super::PortraitExpression;
use crate::landmarks::{self, LandmarkFrame, N_POINTS};

/// Expression and pose of a frame applied to the portrait's landmarks (crop units): to its
/// neutral (mouth closed) landmarks, or to its own as photographed (`keep`). A frame with
/// confidence 0 (no face) leaves the portrait as it is.
pub fn retarget(
    id: &Identity,
    f: &LandmarkFrame,
    expression: PortraitExpression,
) -> [[f32; 2]; N_POINTS] {
    if f.confidence <= 0.0 {
        return id.reference_landmarks;
    }
    let mean = landmarks::mean_face();
    // Canonical units to crop units.
    let k = id.crop.canonical_scale();
    let mut t = match expression {
        PortraitExpression::Neutral => id.neutral_landmarks,
        PortraitExpression::Keep => id.reference_landmarks,
    };
    for (i, p) in t.iter_mut().enumerate() {
        p[0] += k * (f.points[i][0] - mean[i][0]);
        p[1] += k * (f.points[i][1] - mean[i][1]);
    }
    let pose = [
        f.pose[0],
        f.pose[1],
        f.pose[2],
        f.pose[3] * k,
        f.pose[4] * k,
        f.pose[5],
    ];
    for p in t.iter_mut() {
        *p = landmarks::apply_pose(*p, &pose);
    }
    t
}
