// SPDX-License-Identifier: MIT OR Apache-2.0
//! Motion beyond the lips that a speech model does not predict: eye blinks, and a prosody-driven
//! head motion for models without a `pose` output. Both are deterministic (seeded), so the same
//! audio gives the same stream.
//!
//! - Blinks: inter-blink intervals drawn from a shifted gamma-like distribution with a mean of about
//!   3.5 s (adults blink about 15 to 20 times a minute in conversation), each blink a fast close
//!   (about 80 ms) and a slower reopening (about 160 ms) of the upper lids onto the lower ones.
//! - Head motion: a synthetic model, not learned from data: small nods that follow the changes of
//!   mouth activity (stressed syllables open the mouth more), a slow drift of yaw, pitch and roll
//!   made of incommensurate low-frequency sinusoids, and less motion in silence. Amplitudes are a
//!   few degrees.

use crate::landmarks::LandmarkFrame;

/// A small deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (v >> 40) as f32 / (1u64 << 24) as f32
    }
}

const BLINK_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// Eye blinks at a natural rate.
#[derive(Debug, Clone)]
pub struct BlinkGenerator {
    rng: Rng,
    /// Seconds until the next blink starts.
    until_next: f32,
    /// Seconds since the current blink started, if one is under way.
    in_blink: Option<f32>,
}

const CLOSE_S: f32 = 0.08;
const OPEN_S: f32 = 0.16;

impl BlinkGenerator {
    pub fn new(_fps: gst::Fraction) -> Self {
        let mut g = BlinkGenerator {
            rng: Rng(BLINK_SEED),
            until_next: 0.0,
            in_blink: None,
        };
        g.reset();
        g
    }

    pub fn reset(&mut self) {
        self.rng = Rng(BLINK_SEED);
        self.in_blink = None;
        // The first blink comes a little after the start.
        self.until_next = 1.0 + 2.0 * self.rng.next_f32();
    }

    fn draw_interval(&mut self) -> f32 {
        // Sum of three uniforms: a bell shape on [0, 3), shifted and scaled: 1.2 .. 7.2 s, mean 4.2 s.
        let u = self.rng.next_f32() + self.rng.next_f32() + self.rng.next_f32();
        1.2 + 2.0 * u - 0.7
    }

    /// Advances one frame; closes the eyes of `f` as the blink dictates. Returns whether the eyes
    /// are (partly) closed by a blink in this frame.
    pub fn apply(&mut self, f: &mut LandmarkFrame, fps: gst::Fraction) -> bool {
        let dt = fps.denom() as f32 / fps.numer().max(1) as f32;
        let closure = match self.in_blink {
            None => {
                self.until_next -= dt;
                if self.until_next > 0.0 {
                    return false;
                }
                self.in_blink = Some(0.0);
                0.0
            }
            Some(t) => t,
        };
        let t = closure;
        let c = if t < CLOSE_S {
            (t + dt) / CLOSE_S
        } else {
            1.0 - (t - CLOSE_S) / OPEN_S
        }
        .clamp(0.0, 1.0);
        let next = t + dt;
        if next >= CLOSE_S + OPEN_S {
            self.in_blink = None;
            self.until_next = self.draw_interval();
        } else {
            self.in_blink = Some(next);
        }
        if c <= 0.0 {
            return false;
        }
        // Upper lids (37, 38 / 43, 44) onto the lower ones (41, 40 / 47, 46).
        for (up, low) in [(37, 41), (38, 40), (43, 47), (44, 46)] {
            let (u, l) = (f.points[up], f.points[low]);
            let meet = [l[0] * 0.8 + u[0] * 0.2, l[1] * 0.8 + u[1] * 0.2];
            f.points[up] = [u[0] + c * (meet[0] - u[0]), u[1] + c * (meet[1] - u[1])];
            f.points[low] = [l[0] + c * (meet[0] - l[0]), l[1] + c * (meet[1] - l[1])];
        }
        true
    }
}

/// Prosody-driven head motion (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct HeadMotion {
    t: f32,
    fast: f32,
    slow: f32,
    nod: f32,
    nod_v: f32,
    activity: f32,
}

impl HeadMotion {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// One frame: mouth opening and speech probability in, pose (roll, yaw, pitch, tx, ty, ln s) out.
    pub fn step(&mut self, opening: f32, speech: f32, fps: gst::Fraction, amount: f32) -> [f32; 6] {
        let dt = fps.denom() as f32 / fps.numer().max(1) as f32;
        self.t += dt;
        let a_fast = 1.0 - (-dt / 0.08).exp();
        let a_slow = 1.0 - (-dt / 0.6).exp();
        self.fast += a_fast * (opening - self.fast);
        self.slow += a_slow * (opening - self.slow);
        let a_act = 1.0 - (-dt / 1.0).exp();
        self.activity +=
            a_act * (speech.clamp(0.0, 1.0).max((opening * 4.0).min(1.0)) - self.activity);
        // A damped spring (about 2.5 Hz, near critical) driven by the stress signal: nods.
        let drive = (self.fast - self.slow).max(0.0) * 1.5;
        let (w, zeta) = (2.0 * std::f32::consts::PI * 2.5, 0.8);
        let acc = w * w * (drive - self.nod) - 2.0 * zeta * w * self.nod_v;
        self.nod_v += acc * dt;
        self.nod += self.nod_v * dt;
        let t = self.t;
        let drift = |f1: f32, f2: f32, p: f32| {
            0.6 * (2.0 * std::f32::consts::PI * f1 * t + p).sin()
                + 0.4 * (2.0 * std::f32::consts::PI * f2 * t + 1.7 * p).sin()
        };
        let liveliness = 0.4 + 0.6 * self.activity;
        let pitch = amount * (0.025 * liveliness * drift(0.11, 0.29, 0.3) + 0.12 * self.nod);
        let yaw = amount * 0.05 * liveliness * drift(0.07, 0.17, 1.1);
        let roll = amount * 0.02 * liveliness * drift(0.05, 0.13, 2.3);
        let tx = amount * 0.006 * drift(0.04, 0.09, 0.7);
        let ty = amount * 0.004 * drift(0.06, 0.15, 1.9);
        [roll, yaw, pitch, tx, ty, 0.0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blinks_at_a_natural_rate() {
        let fps = gst::Fraction::new(25, 1);
        let mut g = BlinkGenerator::new(fps);
        let (mut blinks, mut was) = (0, false);
        let mut closed_frames = 0;
        for _ in 0..25 * 600 {
            let mut f = LandmarkFrame::default();
            let b = g.apply(&mut f, fps);
            if b {
                closed_frames += 1;
                let gap = f.points[41][1] - f.points[37][1];
                assert!(gap.is_finite());
            }
            if b && !was {
                blinks += 1;
            }
            was = b;
        }
        // 10 minutes: 10 to 25 blinks a minute.
        assert!((100..=250).contains(&blinks), "{blinks} blinks in 10 min");
        // Each blink lasts a handful of frames.
        let per = closed_frames as f32 / blinks as f32;
        assert!((3.0..=8.0).contains(&per), "{per} frames per blink");
    }

    #[test]
    fn head_moves_and_stays_small() {
        let fps = gst::Fraction::new(25, 1);
        let mut h = HeadMotion::new();
        let mut poses = Vec::new();
        for i in 0..25 * 30 {
            let open = if (i / 5) % 2 == 0 { 0.3 } else { 0.05 };
            poses.push(h.step(open, 1.0, fps, 1.0));
        }
        let max_angle = poses
            .iter()
            .flat_map(|p| p[..3].iter())
            .fold(0f32, |m, v| m.max(v.abs()));
        assert!(max_angle < 0.2, "{max_angle} rad");
        let spread = |k: usize| {
            let (lo, hi) = poses.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| {
                (lo.min(p[k]), hi.max(p[k]))
            });
            hi - lo
        };
        assert!(spread(1) > 0.02 && spread(2) > 0.01, "the head is frozen");
    }
}
