// SPDX-License-Identifier: MIT OR Apache-2.0
//! From 68 image points to the landmark record (docs/landmark-stream.md, DESIGN.md): rigid part,
//! pose and expression in the canonical face frame.
//!
//! For each frame with image points `P`:
//!
//! 1. **Rigid alignment.** A similarity `T` (rotation, uniform scale, translation; no reflection)
//!    is fitted by weighted least squares (Umeyama / Procrustes in closed form) from the stable
//!    points of `P` (eyes weight 1, nose 1, brows 0.5; jaw and mouth 0) onto the same points of
//!    the canonical mean face ([`crate::landmarks::mean_face`]). `A = T(P)` are the aligned points.
//! 2. **Pose, relative to a reference.** The reference is the first frame with a face since the
//!    last [`Canonicalizer::reset`] (a flush, a new stream): its pose is zero. For frame t,
//!    `R = T_ref ∘ T_t⁻¹` is the head's 2D similarity motion in the reference's canonical units;
//!    it gives roll, ln scale and (tx, ty) exactly as [`crate::landmarks::apply_pose`] uses them
//!    (about [`crate::landmarks::POSE_CENTRE`]). Yaw and pitch are rough: the nose tip's offset
//!    from the eye-corner midpoint, in units of the outer eye-corner distance, compared with the
//!    reference's and turned into an angle taking the nose tip 0.4 of that distance in front of
//!    the eye corners (`asin(offset / 0.4)`, clamped to ±0.6 rad). Yaw > 0: the nose tip moved
//!    towards +x in the image; pitch > 0: it moved down (the head nods down). Good to a few degrees
//!    near frontal, meaningless beyond ±30°. The aligned points are "un-foreshortened" by the
//!    inverse of `apply_pose`'s flat-face projection for that yaw and pitch, so
//!    `apply_pose(expression + identity, pose)` gives back the face as the reference saw it.
//! 3. **Identity removal** (Eskimez et al.: the mean face plus the speaker's motion). The
//!    person's neutral shape `N` is estimated from the first [`NEUTRAL_FRAMES`] frames with a face
//!    after a reset and then frozen: eyes, brows and nose take the per-coordinate median of all of
//!    them; jaw and mouth (which open with speech) the median of the quarter of them with the most
//!    closed mouth, since the mean face has its mouth closed. Until the window is full the estimate
//!    grows with each frame (so the first frames of a stream are less certain). The record's
//!    points are `A - N + mean_face`.
//!
//! [`similarity_to_canonical`] is the plain two-point transform (points 36 and 45 onto
//! (0.3, 1/3) and (0.7, 1/3)), for cropping a face as the canonical frame pins it.

use crate::landmarks::{self, LandmarkFrame, N_POINTS, POSE_CENTRE};

/// Frames with a face from which the neutral (identity) shape is estimated.
pub const NEUTRAL_FRAMES: usize = 50;

/// Nose tip depth in front of the outer eye corners, in units of their distance (rough
/// anthropometry), used for the yaw and pitch estimates.
const NOSE_DEPTH: f32 = 0.4;
/// Largest yaw or pitch reported, radians.
const MAX_ANGLE: f32 = 0.6;

/// A 2D similarity: `x' = a x - b y + tx`, `y' = b x + a y + ty` (scale `sqrt(a²+b²)`, angle
/// `atan2(b, a)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Default for Similarity {
    fn default() -> Self {
        Self::IDENTITY
    }
}

impl Similarity {
    pub const IDENTITY: Similarity = Similarity {
        a: 1.0,
        b: 0.0,
        tx: 0.0,
        ty: 0.0,
    };

    /// Rotation by `angle` radians, scaling by `scale`, then translation.
    pub fn new(scale: f32, angle: f32, tx: f32, ty: f32) -> Self {
        Similarity {
            a: scale * angle.cos(),
            b: scale * angle.sin(),
            tx,
            ty,
        }
    }

    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        [
            self.a * p[0] - self.b * p[1] + self.tx,
            self.b * p[0] + self.a * p[1] + self.ty,
        ]
    }

    pub fn apply_all(&self, pts: &[[f32; 2]; N_POINTS]) -> [[f32; 2]; N_POINTS] {
        let mut out = *pts;
        for p in out.iter_mut() {
            *p = self.apply(*p);
        }
        out
    }

    /// The inverse transform (the identity if this one is degenerate).
    pub fn inverse(&self) -> Similarity {
        let d = self.a * self.a + self.b * self.b;
        if d <= f32::MIN_POSITIVE || !d.is_finite() {
            return Self::IDENTITY;
        }
        let (a, b) = (self.a / d, -self.b / d);
        Similarity {
            a,
            b,
            tx: -(a * self.tx - b * self.ty),
            ty: -(b * self.tx + a * self.ty),
        }
    }

    /// `self ∘ other`: `other` first, then `self`.
    pub fn compose(&self, other: &Similarity) -> Similarity {
        Similarity {
            a: self.a * other.a - self.b * other.b,
            b: self.b * other.a + self.a * other.b,
            tx: self.a * other.tx - self.b * other.ty + self.tx,
            ty: self.b * other.tx + self.a * other.ty + self.ty,
        }
    }

    pub fn scale(&self) -> f32 {
        self.a.hypot(self.b)
    }

    pub fn angle(&self) -> f32 {
        self.b.atan2(self.a)
    }

    fn is_usable(&self) -> bool {
        let s = self.scale();
        [self.a, self.b, self.tx, self.ty]
            .iter()
            .all(|v| v.is_finite())
            && s > 1e-9
            && s < 1e9
    }
}

/// Weighted least-squares similarity taking `src` onto `dst` (Umeyama's closed form in 2D).
/// `None` when the weighted source points are degenerate (all in one place) or not finite.
pub fn fit_similarity(src: &[[f32; 2]], dst: &[[f32; 2]], weights: &[f32]) -> Option<Similarity> {
    let n = src.len().min(dst.len()).min(weights.len());
    let (mut w_sum, mut ms, mut md) = (0f64, [0f64; 2], [0f64; 2]);
    for i in 0..n {
        let w = weights[i] as f64;
        if w <= 0.0 {
            continue;
        }
        w_sum += w;
        for k in 0..2 {
            ms[k] += w * src[i][k] as f64;
            md[k] += w * dst[i][k] as f64;
        }
    }
    if w_sum <= 0.0 {
        return None;
    }
    for k in 0..2 {
        ms[k] /= w_sum;
        md[k] /= w_sum;
    }
    let (mut ss, mut dot, mut cross) = (0f64, 0f64, 0f64);
    for i in 0..n {
        let w = weights[i] as f64;
        if w <= 0.0 {
            continue;
        }
        let (sx, sy) = (src[i][0] as f64 - ms[0], src[i][1] as f64 - ms[1]);
        let (dx, dy) = (dst[i][0] as f64 - md[0], dst[i][1] as f64 - md[1]);
        ss += w * (sx * sx + sy * sy);
        dot += w * (sx * dx + sy * dy);
        cross += w * (sx * dy - sy * dx);
    }
    if ss <= 1e-12 || !ss.is_finite() {
        return None;
    }
    let (a, b) = (dot / ss, cross / ss);
    let t = Similarity {
        a: a as f32,
        b: b as f32,
        tx: (md[0] - (a * ms[0] - b * ms[1])) as f32,
        ty: (md[1] - (b * ms[0] + a * ms[1])) as f32,
    };
    t.is_usable().then_some(t)
}

/// The similarity that puts points 36 and 45 (the outer eye corners) at (0.3, 1/3) and
/// (0.7, 1/3), as the canonical frame pins them. The identity if the two points coincide.
pub fn similarity_to_canonical(points: &[[f32; 2]; N_POINTS]) -> Similarity {
    let src = [points[36], points[45]];
    let dst = [[0.3, 1.0 / 3.0], [0.7, 1.0 / 3.0]];
    fit_similarity(&src, &dst, &[1.0, 1.0]).unwrap_or(Similarity::IDENTITY)
}

/// Weights of the rigid alignment: eyes and nose 1, brows 0.5, jaw and mouth 0.
pub fn stable_weights() -> [f32; N_POINTS] {
    let mut w = [0f32; N_POINTS];
    for (i, v) in w.iter_mut().enumerate() {
        *v = match i {
            17..=26 => 0.5,
            27..=47 => 1.0,
            _ => 0.0,
        };
    }
    w
}

/// Mouth opening: the inner-lip gap (mean of 61-67, 62-66, 63-65) over the mouth width (48-54).
pub fn mouth_opening(points: &[[f32; 2]; N_POINTS]) -> f32 {
    let d = |i: usize, j: usize| {
        let (a, b) = (points[i], points[j]);
        (a[0] - b[0]).hypot(a[1] - b[1])
    };
    let w = d(48, 54);
    if w <= f32::EPSILON {
        return 0.0;
    }
    (d(61, 67) + d(62, 66) + d(63, 65)) / 3.0 / w
}

/// Share of an open mouth's inner-lip gap that the upper lip accounts for (the rest is the jaw and
/// the lower lip) when [`close_mouth`] closes it.
const UPPER_LIP_SHARE: f32 = 0.2;

/// How much of the lower lip's closing motion each jaw point takes (chin 8 fully, fading towards
/// the ears), as the jaw turns about its hinge.
const JAW_FOLLOW: [(usize, f32); 9] = [
    (4, 0.2),
    (5, 0.45),
    (6, 0.7),
    (7, 0.9),
    (8, 1.0),
    (9, 0.9),
    (10, 0.7),
    (11, 0.45),
    (12, 0.2),
];

/// The face of `points` (image or crop coordinates, iBUG 68) with its mouth closed: each inner-lip
/// pair (61-67, 62-66, 63-65) meets, the upper lip coming down by a fifth of its gap and the lower
/// lip, with the chin and the lower jaw, up by the rest, along the face's vertical (perpendicular
/// to the outer eye corners' line). Lips already closed (or overlapping) stay as they are. A
/// portrait photographed mid-word or laughing becomes one with a closed, neutral mouth, from which
/// speech can open it; the lips' own shape and thickness are kept.
pub fn close_mouth(points: &[[f32; 2]; N_POINTS]) -> [[f32; 2]; N_POINTS] {
    let mut out = *points;
    let (l, r) = (points[36], points[45]);
    let (ux, uy) = (r[0] - l[0], r[1] - l[1]);
    let n = ux.hypot(uy);
    if !(n > f32::EPSILON && n.is_finite()) {
        return out;
    }
    let down = [-uy / n, ux / n];
    let gap = |i: usize, j: usize| {
        let d = [points[j][0] - points[i][0], points[j][1] - points[i][1]];
        (d[0] * down[0] + d[1] * down[1]).max(0.0)
    };
    let pairs = [(61, 67), (62, 66), (63, 65)];
    let gaps = pairs.map(|(i, j)| gap(i, j));
    let mean = gaps.iter().sum::<f32>() / 3.0;
    if mean <= 0.0 || !mean.is_finite() {
        return out;
    }
    let shift = |p: &mut [f32; 2], by: f32| {
        p[0] += by * down[0];
        p[1] += by * down[1];
    };
    for ((i, j), g) in pairs.iter().zip(gaps) {
        shift(&mut out[*i], UPPER_LIP_SHARE * g);
        shift(&mut out[*j], -(1.0 - UPPER_LIP_SHARE) * g);
    }
    for p in &mut out[49..=53] {
        shift(p, UPPER_LIP_SHARE * mean);
    }
    for p in &mut out[55..=59] {
        shift(p, -(1.0 - UPPER_LIP_SHARE) * mean);
    }
    for (i, w) in JAW_FOLLOW {
        shift(&mut out[i], -(1.0 - UPPER_LIP_SHARE) * mean * w);
    }
    out
}

/// The face's own axes: the unit vector along the outer eye corners (36 to 45), the one down the
/// face (perpendicular to it), and the eye-corner distance. `None` for coincident or non-finite
/// corners.
fn eye_axes(points: &[[f32; 2]; N_POINTS]) -> Option<([f32; 2], [f32; 2], f32)> {
    let (l, r) = (points[36], points[45]);
    let (ux, uy) = (r[0] - l[0], r[1] - l[1]);
    let d = ux.hypot(uy);
    if !(d > f32::EPSILON && d.is_finite()) {
        return None;
    }
    Some(([ux / d, uy / d], [-uy / d, ux / d], d))
}

/// How much a face smiles, from its mouth's shape, in units of the outer eye-corner distance and
/// along the face's own axes (the eye line and its perpendicular), so that head roll, scale and the
/// frame (image, crop, canonical) do not matter ([`smile`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Smile {
    /// Corner lift of the mouth's two sides, the picture's left (48 and 60) then right (54 and
    /// 64): how far the outer and inner corners (their mean) are above the lips' centre (the
    /// midpoint of 62 and 66).
    pub lift: [f32; 2],
    /// Mouth width (48 to 54).
    pub width: f32,
}

impl Smile {
    /// The mean lift of the two sides.
    pub fn mean_lift(&self) -> f32 {
        0.5 * (self.lift[0] + self.lift[1])
    }
}

/// The smile of a face (image, crop or canonical points): its corner lift and mouth width
/// ([`Smile`]). Meant for a closed mouth (on an open one the lips' centre is the middle of the
/// gap). `None` when the eye corners coincide or a point is not finite.
pub fn smile(points: &[[f32; 2]; N_POINTS]) -> Option<Smile> {
    if !points.iter().flatten().all(|v| v.is_finite()) {
        return None;
    }
    let (_, down, d) = eye_axes(points)?;
    let c = [
        0.5 * (points[62][0] + points[66][0]),
        0.5 * (points[62][1] + points[66][1]),
    ];
    let above = |i: usize| ((c[0] - points[i][0]) * down[0] + (c[1] - points[i][1]) * down[1]) / d;
    let w = points[54][0] - points[48][0];
    let h = points[54][1] - points[48][1];
    Some(Smile {
        lift: [0.5 * (above(48) + above(60)), 0.5 * (above(54) + above(64))],
        width: w.hypot(h) / d,
    })
}

/// Largest corner lift (each side, eye-corner distances) that [`neutralise_smile`] leaves as it
/// is. Neutral, closed mouths measured by the element's face analysis (the medians of five GRID
/// speakers' closed-mouth frames, and the test portrait) lie between -0.017 and 0.015, mean 0.002,
/// standard deviation 0.014: the limit is their mean plus two standard deviations, so that faces
/// whose corners are naturally a little higher are not flattened (docs/landmarks2face.md, "A
/// smiling portrait").
pub const SMILE_LIFT_KEPT: f32 = 0.03;
/// Largest mouth width (eye-corner distances) that [`neutralise_smile`] leaves as it is: the same
/// neutral faces measure 0.527 to 0.589, mean 0.558, standard deviation 0.023; the limit is the
/// mean plus two standard deviations.
pub const SMILE_WIDTH_KEPT: f32 = 0.60;

/// The face of `points` (image or crop coordinates; meant for a closed mouth, [`close_mouth`]'s)
/// with its smile taken back to a neutral mouth's limits: each side's corner lift beyond
/// [`SMILE_LIFT_KEPT`] is removed (the corners 48 and 60, or 54 and 64, come down along the face's
/// vertical, the lip points between them by the square of their distance from the mouth's middle,
/// so the lips' centre stays), then a mouth wider than [`SMILE_WIDTH_KEPT`] is narrowed to it
/// (the lip points drawn towards the mouth's middle along the eye line, in proportion to their
/// distance from it). Returns the new points and the smile measured before ([`smile`]); a face
/// within both limits, or a degenerate one, comes back unchanged.
pub fn neutralise_smile(points: &[[f32; 2]; N_POINTS]) -> ([[f32; 2]; N_POINTS], Option<Smile>) {
    let mut out = *points;
    let Some(s) = smile(points) else {
        return (out, None);
    };
    let Some((along, down, d)) = eye_axes(points) else {
        return (out, Some(s));
    };
    // Along the eye line, relative to the middle of the outer corners.
    let x = |p: [f32; 2]| p[0] * along[0] + p[1] * along[1];
    let mid = 0.5 * (x(points[48]) + x(points[54]));
    let excess = s.lift.map(|l| (l - SMILE_LIFT_KEPT).max(0.0) * d);
    if excess.iter().any(|e| *e > 0.0) {
        for i in 48..68 {
            let (left, right) = if i < 60 { (48, 54) } else { (60, 64) };
            let dx = x(points[i]) - mid;
            let corner = if dx < 0.0 { left } else { right };
            let half = (x(points[corner]) - mid).abs();
            if half <= f32::EPSILON {
                continue;
            }
            let r = (dx.abs() / half).min(1.0);
            let e = excess[usize::from(dx >= 0.0)] * r * r;
            out[i][0] += e * down[0];
            out[i][1] += e * down[1];
        }
    }
    // The width as it is now (the lift's step may have changed the corners' heights): the
    // factor along the eye line that makes it the limit.
    let c = [out[54][0] - out[48][0], out[54][1] - out[48][1]];
    let (cx, cy) = (
        c[0] * along[0] + c[1] * along[1],
        c[0] * down[0] + c[1] * down[1],
    );
    let kept = SMILE_WIDTH_KEPT * d;
    if cx.hypot(cy) > kept && kept > cy.abs() && cx.abs() > f32::EPSILON {
        let f = (kept * kept - cy * cy).sqrt() / cx.abs();
        for p in &mut out[48..68] {
            let by = (x(*p) - mid) * (f - 1.0);
            p[0] += by * along[0];
            p[1] += by * along[1];
        }
    }
    (out, Some(s))
}

/// Nose tip offset from the eye-corner midpoint, in eye-aligned units of the outer eye-corner
/// distance: (along the eye line, across it).
fn nose_offset(p: &[[f32; 2]; N_POINTS]) -> Option<[f32; 2]> {
    let (l, r) = (p[36], p[45]);
    let u = [r[0] - l[0], r[1] - l[1]];
    let d2 = u[0] * u[0] + u[1] * u[1];
    if d2 <= f32::EPSILON || !d2.is_finite() {
        return None;
    }
    let mid = [
        (p[36][0] + p[39][0] + p[42][0] + p[45][0]) / 4.0,
        (p[36][1] + p[39][1] + p[42][1] + p[45][1]) / 4.0,
    ];
    let n = [p[30][0] - mid[0], p[30][1] - mid[1]];
    // perp(u) = (-u.y, u.x) points down the face when the eye line runs to +x.
    Some([
        (n[0] * u[0] + n[1] * u[1]) / d2,
        (-n[0] * u[1] + n[1] * u[0]) / d2,
    ])
}

fn angle_from_offset(d: f32) -> f32 {
    (d / NOSE_DEPTH)
        .clamp(-1.0, 1.0)
        .asin()
        .clamp(-MAX_ANGLE, MAX_ANGLE)
}

/// Inverse of [`landmarks::apply_pose`]'s flat-face yaw and pitch (about [`POSE_CENTRE`]).
fn unforeshorten(p: [f32; 2], yaw: f32, pitch: f32) -> [f32; 2] {
    let (x2, y1) = (p[0] - POSE_CENTRE[0], p[1] - POSE_CENTRE[1]);
    let y = y1 / pitch.cos();
    let x = (x2 - y * pitch.sin() * yaw.sin()) / yaw.cos();
    [POSE_CENTRE[0] + x, POSE_CENTRE[1] + y]
}

fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

#[derive(Debug, Clone)]
struct Reference {
    /// Image to canonical of the reference frame.
    to_canon: Similarity,
    nose: [f32; 2],
}

/// Turns a sequence of image landmarks (one face, one video) into landmark records. Holds the
/// pose reference and the neutral-shape estimate; [`reset`](Self::reset) at a flush or when the
/// person changes.
#[derive(Debug, Clone, Default)]
pub struct Canonicalizer {
    reference: Option<Reference>,
    samples: Vec<[[f32; 2]; N_POINTS]>,
    neutral: Option<[[f32; 2]; N_POINTS]>,
    frozen: bool,
}

impl Canonicalizer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the reference and the neutral shape.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// The record for a frame without a face: the mean face, zero pose, confidence 0.
    pub fn no_face() -> LandmarkFrame {
        LandmarkFrame {
            points: *landmarks::mean_face(),
            pose: [0.0; 6],
            confidence: 0.0,
            flags: 0,
        }
    }

    /// The neutral shape estimated so far (aligned, un-foreshortened canonical points).
    pub fn neutral(&self) -> Option<&[[f32; 2]; N_POINTS]> {
        self.neutral.as_ref()
    }

    /// The image-to-canonical similarity of the rigid alignment of these points.
    pub fn align(points: &[[f32; 2]; N_POINTS]) -> Option<Similarity> {
        fit_similarity(points, landmarks::mean_face(), &stable_weights())
    }

    /// The record of one frame's image points (confidence 1). `None` if the points are
    /// degenerate (not finite, or all in one place).
    pub fn frame(&mut self, points: &[[f32; 2]; N_POINTS]) -> Option<LandmarkFrame> {
        if !points.iter().flatten().all(|v| v.is_finite()) {
            return None;
        }
        let t = Self::align(points)?;
        let nose = nose_offset(points)?;
        let reference = self
            .reference
            .get_or_insert(Reference { to_canon: t, nose })
            .clone();

        // Head motion in the reference's canonical units: R = T_ref ∘ T_t⁻¹.
        let r = reference.to_canon.compose(&t.inverse());
        let c = POSE_CENTRE;
        let rc = r.apply(c);
        let yaw = angle_from_offset(nose[0] - reference.nose[0]);
        let pitch = angle_from_offset(nose[1] - reference.nose[1]);
        let pose = [
            r.angle(),
            yaw,
            pitch,
            rc[0] - c[0],
            rc[1] - c[1],
            r.scale().ln(),
        ];

        let mut aligned = t.apply_all(points);
        for p in aligned.iter_mut() {
            *p = unforeshorten(*p, yaw, pitch);
        }
        self.update_neutral(&aligned);
        let neutral = self.neutral.unwrap_or(aligned);
        let mean = landmarks::mean_face();
        let mut out = [[0f32; 2]; N_POINTS];
        for i in 0..N_POINTS {
            for k in 0..2 {
                out[i][k] = aligned[i][k] - neutral[i][k] + mean[i][k];
            }
        }
        let frame = LandmarkFrame {
            points: out,
            pose,
            confidence: 1.0,
            flags: 0,
        };
        frame.validate().ok()?;
        Some(frame)
    }

    fn update_neutral(&mut self, aligned: &[[f32; 2]; N_POINTS]) {
        if self.frozen {
            return;
        }
        self.samples.push(*aligned);
        let n = self.samples.len();
        // The quarter (at least one) of the samples with the most closed mouth.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| {
            mouth_opening(&self.samples[i]).total_cmp(&mouth_opening(&self.samples[j]))
        });
        let closed = &order[..n.div_ceil(4)];
        let mut neutral = [[0f32; 2]; N_POINTS];
        let mut buf = Vec::with_capacity(n);
        for (i, np) in neutral.iter_mut().enumerate() {
            let mouth_or_jaw = !(17..48).contains(&i);
            for (k, v) in np.iter_mut().enumerate() {
                buf.clear();
                if mouth_or_jaw {
                    buf.extend(closed.iter().map(|&s| self.samples[s][i][k]));
                } else {
                    buf.extend(self.samples.iter().map(|s| s[i][k]));
                }
                *v = median(&mut buf);
            }
        }
        self.neutral = Some(neutral);
        if n >= NEUTRAL_FRAMES {
            self.frozen = true;
            self.samples = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_mouth_closes_and_keeps_the_rest() {
        // The mean face with its lower lip and chin dropped by 0.06 and the upper lip raised 0.01.
        let mut open = *landmarks::mean_face();
        for i in [65, 66, 67, 55, 56, 57, 58, 59, 7, 8, 9] {
            open[i][1] += 0.06;
        }
        for i in [61, 62, 63] {
            open[i][1] -= 0.01;
        }
        assert!(mouth_opening(&open) > 0.2, "{}", mouth_opening(&open));
        let closed = close_mouth(&open);
        assert!(mouth_opening(&closed) < 1e-4, "{}", mouth_opening(&closed));
        // Eyes, brows, nose, mouth corners unchanged; the chin back up.
        for i in (17..48).chain([48, 54, 60, 64]) {
            assert_eq!(closed[i], open[i], "point {i}");
        }
        assert!(closed[8][1] < open[8][1] - 0.04);
        // A closed mouth stays as it is; so does a degenerate face.
        let m = *landmarks::mean_face();
        let again = close_mouth(&m);
        for (a, b) in again.iter().zip(m.iter()) {
            assert!((a[0] - b[0]).abs() < 0.005 && (a[1] - b[1]).abs() < 0.005);
        }
        assert_eq!(close_mouth(&[[0.0; 2]; N_POINTS]), [[0.0; 2]; N_POINTS]);
    }
    use crate::landmarks::{apply_pose, mean_face};

    #[test]
    fn smile_is_measured_and_neutralised_beyond_the_limits() {
        let m = *landmarks::mean_face();
        // The mean face: corners 0.021 eye-corner distances above the lips' centre, 0.592 wide;
        // within the limits, so left as it is.
        let s = smile(&m).unwrap();
        assert!((s.mean_lift() - 0.0210).abs() < 1e-3, "{s:?}");
        assert!((s.width - 0.592).abs() < 1e-3, "{s:?}");
        assert_eq!(neutralise_smile(&m).0, m);
        // Smiling (the corners up by 0.03 and out by 0.015 canonical units, the left one up by
        // 0.01 more), in a rolled, scaled image frame: measured the same, brought back to the
        // limits exactly, the lips' centre and the rest of the face untouched.
        let mut smiling = m;
        for i in 48..68 {
            let r = ((m[i][0] - 0.5) / 0.1184).clamp(-1.0, 1.0);
            smiling[i][1] -= (0.03 + if r < 0.0 { 0.01 } else { 0.0 }) * r * r;
            smiling[i][0] += 0.015 * r;
        }
        let cam = Similarity::new(300.0, 0.3, 40.0, 25.0);
        let img = cam.apply_all(&smiling);
        let s = smile(&img).unwrap();
        assert!(s.lift[0] > s.lift[1] + 0.02 && s.lift[1] > 0.08, "{s:?}");
        assert!(s.width > 0.65, "{s:?}");
        let (n, before) = neutralise_smile(&img);
        assert_eq!(before, Some(s));
        let after = smile(&n).unwrap();
        for l in after.lift {
            assert!((l - SMILE_LIFT_KEPT).abs() < 1e-4, "{after:?}");
        }
        assert!((after.width - SMILE_WIDTH_KEPT).abs() < 1e-4, "{after:?}");
        for i in (0..48).chain([51, 57, 62, 66]) {
            assert!(
                close(n[i], img[i], 1e-3),
                "point {i}: {:?} {:?}",
                n[i],
                img[i]
            );
        }
        // The closed lips stay closed (each inner pair moves alike).
        assert!(mouth_opening(&n) < 1e-3, "{}", mouth_opening(&n));
        // A smile on one side only: the other side is left alone.
        let mut half = m;
        for i in [48, 60] {
            half[i][1] -= 0.03;
        }
        let (n, _) = neutralise_smile(&half);
        let after = smile(&n).unwrap();
        assert!((after.lift[0] - SMILE_LIFT_KEPT).abs() < 1e-4, "{after:?}");
        for i in [54, 64, 53, 55, 63, 65] {
            assert_eq!(n[i], half[i], "point {i}");
        }
        // Degenerate faces.
        assert!(smile(&[[0.0; 2]; N_POINTS]).is_none());
        let mut nan = m;
        nan[50][0] = f32::NAN;
        assert!(smile(&nan).is_none());
        assert_eq!(
            neutralise_smile(&[[1.0; 2]; N_POINTS]).0,
            [[1.0; 2]; N_POINTS]
        );
    }

    fn close(a: [f32; 2], b: [f32; 2], tol: f32) -> bool {
        (a[0] - b[0]).abs() < tol && (a[1] - b[1]).abs() < tol
    }

    #[test]
    fn similarity_inverse_and_compose() {
        let s = Similarity::new(2.5, 0.3, 10.0, -4.0);
        let p = [1.5, -2.0];
        let q = s.apply(p);
        assert!(close(s.inverse().apply(q), p, 1e-5));
        let c = s.inverse().compose(&s);
        assert!(close(c.apply(p), p, 1e-5));
        assert!((s.scale() - 2.5).abs() < 1e-6 && (s.angle() - 0.3).abs() < 1e-6);
    }

    #[test]
    fn fit_recovers_a_similarity() {
        let m = mean_face();
        let s = Similarity::new(180.0, -0.2, 50.0, 30.0);
        let img = s.apply_all(m);
        let t = fit_similarity(&img, m, &stable_weights()).unwrap();
        for i in 0..N_POINTS {
            assert!(close(t.apply(img[i]), m[i], 1e-4));
        }
        assert!(fit_similarity(&[[1.0, 1.0]; 3], &[[0.0, 0.0]; 3], &[1.0; 3]).is_none());
    }

    #[test]
    fn canonical_pins_outer_eye_corners() {
        let s = Similarity::new(300.0, 0.4, 100.0, 80.0);
        let img = s.apply_all(mean_face());
        let c = similarity_to_canonical(&img);
        assert!(close(c.apply(img[36]), [0.3, 1.0 / 3.0], 1e-5));
        assert!(close(c.apply(img[45]), [0.7, 1.0 / 3.0], 1e-5));
        assert!(close(c.inverse().apply([0.3, 1.0 / 3.0]), img[36], 1e-3));
    }

    /// A face of another identity: wider eyes, longer nose, narrower mouth.
    fn other_identity(open: f32) -> [[f32; 2]; N_POINTS] {
        let mut f = *mean_face();
        for (i, p) in f.iter_mut().enumerate() {
            if (36..48).contains(&i) {
                p[0] = 0.5 + (p[0] - 0.5) * 1.05;
            }
            if (27..36).contains(&i) {
                p[1] += 0.01;
            }
            if i >= 48 {
                p[0] = 0.5 + (p[0] - 0.5) * 0.9;
            }
            // Open the mouth: lower lip and jaw down.
            if matches!(i, 56..=58 | 65..=67 | 6..=10) {
                p[1] += open;
            }
        }
        f
    }

    #[test]
    fn identity_removed_and_pose_relative() {
        let mut c = Canonicalizer::new();
        let cam = Similarity::new(150.0, 0.05, 60.0, 20.0);
        // Mostly closed frames, some open.
        for k in 0..20 {
            let open = if k % 3 == 0 { 0.05 } else { 0.0 };
            let f = c.frame(&cam.apply_all(&other_identity(open))).unwrap();
            assert_eq!(f.confidence, 1.0);
        }
        let closed = c.frame(&cam.apply_all(&other_identity(0.0))).unwrap();
        let m = mean_face();
        for (i, (p, q)) in closed.points.iter().zip(m.iter()).enumerate() {
            assert!(close(*p, *q, 1e-3), "point {i}");
        }
        assert!(
            closed.pose.iter().all(|v| v.abs() < 1e-3),
            "{:?}",
            closed.pose
        );
        let open = c.frame(&cam.apply_all(&other_identity(0.05))).unwrap();
        assert!(mouth_opening(&open.points) > mouth_opening(m) + 0.05);

        // The head moves: rolled by 0.1, 10% larger, shifted right; the pose says so, and posing
        // the points gives the face in the reference's canonical frame.
        let moved = Similarity::new(1.1, 0.1, 0.0, 0.0);
        let cam2 = cam
            .compose(&Similarity::new(1.0, 0.0, 0.5, 0.5))
            .compose(&moved)
            .compose(&Similarity::new(1.0, 0.0, -0.5 + 0.02, -0.5));
        let f = c.frame(&cam2.apply_all(&other_identity(0.0))).unwrap();
        assert!((f.pose[0] - 0.1).abs() < 1e-3, "{:?}", f.pose);
        assert!((f.pose[5] - 1.1f32.ln()).abs() < 1e-3, "{:?}", f.pose);
        assert!(f.pose[1].abs() < 1e-3 && f.pose[2].abs() < 1e-3);
        for (i, (p, q)) in f.points.iter().zip(m.iter()).enumerate() {
            assert!(close(*p, *q, 1e-3), "point {i}");
        }
    }

    #[test]
    fn yaw_from_nose_shift() {
        let mut c = Canonicalizer::new();
        let base = *mean_face();
        c.frame(&base).unwrap();
        let mut turned = base;
        // Nose tip shifted right by 0.08 outer eye-corner distances (0.4 canonical units):
        // asin(0.08 / 0.4) = 0.201.
        turned[30][0] += 0.4 * 0.08;
        let mut f = c.frame(&turned).unwrap();
        assert!((f.pose[1] - 0.201).abs() < 0.01, "{:?}", f.pose);
        assert!(f.pose[2].abs() < 0.01);
        turned[30][1] += 0.4 * 0.08;
        f = c.frame(&turned).unwrap();
        assert!(f.pose[2] > 0.05, "{:?}", f.pose);
        // Round trip of the flat-face projection.
        let p = [0.37, 0.71];
        let q = unforeshorten(apply_pose(p, &[0.0, 0.2, -0.15, 0.0, 0.0, 0.0]), 0.2, -0.15);
        assert!(close(p, q, 1e-5));
    }

    #[test]
    fn degenerate_points_are_refused() {
        let mut c = Canonicalizer::new();
        assert!(c.frame(&[[5.0, 5.0]; N_POINTS]).is_none());
        let mut p = *mean_face();
        p[3][0] = f32::NAN;
        assert!(c.frame(&p).is_none());
        assert_eq!(Canonicalizer::no_face().confidence, 0.0);
    }
}
