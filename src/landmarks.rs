// SPDX-License-Identifier: MIT OR Apache-2.0
//! The landmark stream: caps, the record layout, reading, writing and validation.
//!
//! Caps: `application/x-face-landmarks, layout=(string)ibug68, framerate=(fraction)N/D`.
//! One buffer is one frame, a fixed-size little-endian record of [`RECORD_SIZE`] bytes
//! (docs/landmark-stream.md):
//!
//! | offset | field | type |
//! |---|---|---|
//! | 0 | points | f32[68][2], canonical face frame, iBUG-68 order |
//! | 544 | pose | f32[6]: roll, yaw, pitch (radians), tx, ty (canonical units), ln(scale) |
//! | 568 | confidence | f32, 0..1 |
//! | 572 | flags | u32: bit 0 speech active, bit 1 blink synthesized |

use std::sync::OnceLock;

/// Media type of the landmark stream.
pub const MEDIA_TYPE: &str = "application/x-face-landmarks";
/// The only layout so far: the 68 points of iBUG 300-W.
pub const LAYOUT: &str = "ibug68";
/// Points per frame.
pub const N_POINTS: usize = 68;
/// Size of one record in bytes.
pub const RECORD_SIZE: usize = N_POINTS * 2 * 4 + 6 * 4 + 4 + 4;

/// Flag bit 0: speech is active in this frame.
pub const FLAG_SPEECH: u32 = 1;
/// Flag bit 1: this frame's eyes are a synthesized blink.
pub const FLAG_BLINK: u32 = 2;

/// Index ranges of the face's contours, and whether each is closed.
pub const CONTOURS: &[(std::ops::Range<usize>, bool)] = &[
    (0..17, false),  // jaw
    (17..22, false), // right brow
    (22..27, false), // left brow
    (27..31, false), // nose bridge
    (31..36, false), // nostrils
    (36..42, true),  // right eye
    (42..48, true),  // left eye
    (48..60, true),  // outer lips
    (60..68, true),  // inner lips
];

/// One frame of the landmark stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LandmarkFrame {
    pub points: [[f32; 2]; N_POINTS],
    pub pose: [f32; 6],
    pub confidence: f32,
    pub flags: u32,
}

/// Why a buffer is not a landmark record.
#[derive(Debug, Clone, PartialEq)]
pub enum FormatError {
    /// The buffer has the wrong size.
    Size(usize),
    /// A value is NaN or infinite.
    NotFinite(&'static str),
    /// A finite value outside its field's range (the field named, e.g. "point 12 y").
    OutOfRange {
        field: String,
        value: f32,
        range: &'static str,
    },
    /// Flag bits that have no meaning yet are set.
    UndefinedFlags(u32),
}

/// Coordinates of points (canonical units; the face itself spans about 0..1).
pub const POINT_RANGE: f32 = 10.0;
/// Roll, yaw and pitch (radians).
pub const ANGLE_RANGE: f32 = 2.0 * std::f32::consts::PI;
/// tx and ty (canonical units).
pub const SHIFT_RANGE: f32 = 10.0;
/// ln(scale).
pub const LN_SCALE_RANGE: f32 = 5.0;
/// The flag bits defined so far.
pub const FLAGS_DEFINED: u32 = FLAG_SPEECH | FLAG_BLINK;

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormatError::Size(n) => write!(
                f,
                "landmark buffer has {n} bytes, a {LAYOUT} record has {RECORD_SIZE}"
            ),
            FormatError::NotFinite(what) => write!(f, "landmark record has a non-finite {what}"),
            FormatError::OutOfRange {
                field,
                value,
                range,
            } => {
                // Plain for ordinary numbers, exponent form for huge ones.
                let v = if value.abs() >= 1e6 {
                    format!("{value:e}")
                } else {
                    format!("{value}")
                };
                write!(
                    f,
                    "landmark record has {field} = {v}, outside its range {range}"
                )
            }
            FormatError::UndefinedFlags(flags) => write!(
                f,
                "landmark record has flags {flags:#010x} with undefined bits {:#010x} set \
                 (only bit 0, speech, and bit 1, blink, are defined)",
                flags & !FLAGS_DEFINED
            ),
        }
    }
}

impl std::error::Error for FormatError {}

impl Default for LandmarkFrame {
    fn default() -> Self {
        LandmarkFrame {
            points: *mean_face(),
            pose: [0.0; 6],
            confidence: 1.0,
            flags: 0,
        }
    }
}

fn f32_at(b: &[u8], i: usize) -> f32 {
    f32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

impl LandmarkFrame {
    /// Reads a record; checks its size and that every value is finite.
    pub fn from_bytes(b: &[u8]) -> Result<Self, FormatError> {
        if b.len() != RECORD_SIZE {
            return Err(FormatError::Size(b.len()));
        }
        let mut points = [[0f32; 2]; N_POINTS];
        for (i, p) in points.iter_mut().enumerate() {
            p[0] = f32_at(b, i * 8);
            p[1] = f32_at(b, i * 8 + 4);
        }
        let mut pose = [0f32; 6];
        for (i, v) in pose.iter_mut().enumerate() {
            *v = f32_at(b, 544 + i * 4);
        }
        let confidence = f32_at(b, 568);
        let flags = u32::from_le_bytes([b[572], b[573], b[574], b[575]]);
        let frame = LandmarkFrame {
            points,
            pose,
            confidence,
            flags,
        };
        frame.validate()?;
        Ok(frame)
    }

    /// Checks that every value is finite and within its field's range (generous bounds that only
    /// nonsense exceeds: points and tx, ty within ±10 canonical units, angles within ±2π, ln(scale)
    /// within ±5, confidence in [0, 1]) and that no undefined flag bit is set.
    pub fn validate(&self) -> Result<(), FormatError> {
        if !self.points.iter().flatten().all(|v| v.is_finite()) {
            return Err(FormatError::NotFinite("point"));
        }
        if !self.pose.iter().all(|v| v.is_finite()) {
            return Err(FormatError::NotFinite("pose"));
        }
        if !self.confidence.is_finite() {
            return Err(FormatError::NotFinite("confidence"));
        }
        let out = |field: String, value: f32, range: &'static str| FormatError::OutOfRange {
            field,
            value,
            range,
        };
        for (i, p) in self.points.iter().enumerate() {
            for (k, axis) in ["x", "y"].iter().enumerate() {
                if p[k].abs() > POINT_RANGE {
                    return Err(out(format!("point {i} {axis}"), p[k], "[-10, 10]"));
                }
            }
        }
        const POSE: [(&str, f32, &str); 6] = [
            ("roll", ANGLE_RANGE, "[-2π, 2π] radians"),
            ("yaw", ANGLE_RANGE, "[-2π, 2π] radians"),
            ("pitch", ANGLE_RANGE, "[-2π, 2π] radians"),
            ("tx", SHIFT_RANGE, "[-10, 10]"),
            ("ty", SHIFT_RANGE, "[-10, 10]"),
            ("ln(scale)", LN_SCALE_RANGE, "[-5, 5]"),
        ];
        for (v, (name, limit, range)) in self.pose.iter().zip(POSE) {
            if v.abs() > limit {
                return Err(out(format!("pose {name}"), *v, range));
            }
        }
        if !(0.0..=1.0).contains(&self.confidence) {
            return Err(out("confidence".into(), self.confidence, "[0, 1]"));
        }
        if self.flags & !FLAGS_DEFINED != 0 {
            return Err(FormatError::UndefinedFlags(self.flags));
        }
        Ok(())
    }

    /// Writes the record into `b`, which must be [`RECORD_SIZE`] bytes long.
    pub fn write_to(&self, b: &mut [u8]) -> Result<(), FormatError> {
        if b.len() != RECORD_SIZE {
            return Err(FormatError::Size(b.len()));
        }
        for (i, p) in self.points.iter().enumerate() {
            b[i * 8..i * 8 + 4].copy_from_slice(&p[0].to_le_bytes());
            b[i * 8 + 4..i * 8 + 8].copy_from_slice(&p[1].to_le_bytes());
        }
        for (i, v) in self.pose.iter().enumerate() {
            b[544 + i * 4..548 + i * 4].copy_from_slice(&v.to_le_bytes());
        }
        b[568..572].copy_from_slice(&self.confidence.to_le_bytes());
        b[572..576].copy_from_slice(&self.flags.to_le_bytes());
        Ok(())
    }

    /// The record as bytes.
    pub fn to_bytes(&self) -> [u8; RECORD_SIZE] {
        let mut b = [0u8; RECORD_SIZE];
        // The array has exactly the record's size.
        let _ = self.write_to(&mut b);
        b
    }

    /// The points with the pose applied, still in canonical units (see [`apply_pose`]).
    pub fn posed_points(&self) -> [[f32; 2]; N_POINTS] {
        let mut out = self.points;
        for p in out.iter_mut() {
            *p = apply_pose(*p, &self.pose);
        }
        out
    }
}

/// Whole records out of a landmark byte stream cut anywhere: `filesrc`'s 4096-byte blocks, one
/// byte at a time, several records per buffer. Every consumer of the stream reads it through this.
///
/// Timestamps: a record that starts at the first byte of a buffer carrying a PTS takes that PTS
/// (and the buffer's offset as its frame number, where it has one); any other record is the
/// previous one plus one frame of the caps' frame rate, counted from the last record with its own
/// PTS, or from the segment start: frame n = start + n * duration, computed exactly.
#[derive(Debug, Default)]
pub struct RecordReader {
    adapter: gst_base::UniqueAdapter,
    fps: Option<gst::Fraction>,
    segment_start: Option<gst::ClockTime>,
    /// Time of the last record with its own PTS (or the segment start), and records since.
    base: Option<gst::ClockTime>,
    since_base: u64,
    /// Frame number of the next record.
    next_offset: u64,
    /// The next record follows a discontinuity.
    discont: bool,
}

impl RecordReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes waiting for the rest of their record.
    pub fn pending(&self) -> usize {
        self.adapter.available()
    }

    /// The frame rate records without a PTS are spaced by.
    pub fn set_framerate(&mut self, fps: Option<gst::Fraction>) {
        self.fps = fps.filter(|f| f.numer() > 0 && f.denom() > 0);
    }

    /// Forgets buffered bytes and the timeline (flush, stop).
    pub fn reset(&mut self) {
        self.adapter.clear();
        self.base = None;
        self.since_base = 0;
        self.next_offset = 0;
        self.discont = true;
    }

    /// Takes the parts of an event it needs: the frame rate of the caps, the segment start,
    /// flushes. A segment in bytes (`filesrc`) is replaced by the same span in time, so that
    /// downstream gets timestamps it can use. On EOS the bytes left over that do not make a whole
    /// record are dropped and their number returned; the caller warns about them.
    pub fn event(&mut self, event: gst::Event) -> (gst::Event, Option<usize>) {
        match event.view() {
            gst::EventView::Caps(c) => {
                let fps = c
                    .caps()
                    .structure(0)
                    .and_then(|s| s.get::<gst::Fraction>("framerate").ok());
                self.set_framerate(fps);
            }
            gst::EventView::Segment(s) => {
                self.base = None;
                self.since_base = 0;
                if let Some(seg) = s.segment().downcast_ref::<gst::ClockTime>() {
                    self.segment_start = seg.start();
                } else if let Some(seg) = s.segment().downcast_ref::<gst::format::Bytes>() {
                    let at = |b: Option<gst::format::Bytes>| {
                        b.and_then(|b| self.frames(*b / RECORD_SIZE as u64))
                    };
                    let start = at(seg.start()).unwrap_or(gst::ClockTime::ZERO);
                    let mut time = gst::FormattedSegment::<gst::ClockTime>::new();
                    time.set_start(start);
                    time.set_time(start);
                    time.set_position(start);
                    time.set_stop(at(seg.stop()));
                    time.set_rate(seg.rate());
                    time.set_applied_rate(seg.applied_rate());
                    time.set_flags(seg.flags());
                    self.segment_start = Some(start);
                    let ev = gst::event::Segment::builder(&time)
                        .seqnum(event.seqnum())
                        .build();
                    return (ev, None);
                }
            }
            gst::EventView::FlushStop(_) | gst::EventView::StreamStart(_) => self.reset(),
            gst::EventView::Eos(_) => {
                let left = self.adapter.available();
                self.adapter.clear();
                return (event, (left > 0).then_some(left));
            }
            _ => {}
        }
        (event, None)
    }

    /// Adds a buffer of the byte stream.
    pub fn push(&mut self, buffer: gst::Buffer) {
        if buffer.flags().contains(gst::BufferFlags::DISCONT) {
            self.discont = true;
        }
        self.adapter.push(buffer);
    }

    /// `n` frames as time at the frame rate, exactly (None without a frame rate).
    fn frames(&self, n: u64) -> Option<gst::ClockTime> {
        let fps = self.fps?;
        use gst::prelude::MulDiv;
        gst::ClockTime::SECOND.mul_div_floor(n * fps.denom() as u64, fps.numer() as u64)
    }

    /// The next whole record as a buffer of [`RECORD_SIZE`] bytes with its PTS, duration and
    /// frame number set; None until enough bytes have come.
    pub fn pop(&mut self) -> Option<gst::Buffer> {
        if self.adapter.available() < RECORD_SIZE {
            return None;
        }
        let (pts, distance) = self.adapter.prev_pts_at_offset(0);
        let own = pts.filter(|_| distance == 0);
        let mut rec = self.adapter.take_buffer(RECORD_SIZE).ok()?;
        // GST_BUFFER_OFFSET_NONE is u64::MAX.
        let upstream_offset = rec.offset();
        let upstream_duration = rec.duration();
        let (pts, duration, offset) = match own {
            Some(t) => {
                self.base = Some(t);
                self.since_base = 0;
                let offset = if upstream_offset != u64::MAX {
                    upstream_offset
                } else {
                    self.next_offset
                };
                let d = upstream_duration.or(self.frames(1));
                (Some(t), d, offset)
            }
            None => {
                let base = self
                    .base
                    .or(self.segment_start)
                    .unwrap_or(gst::ClockTime::ZERO);
                self.base = Some(base);
                let t0 = self.frames(self.since_base);
                let t1 = self.frames(self.since_base + 1);
                let pts = t0.map(|t| base + t);
                let d = t0.zip(t1).map(|(a, b)| b - a);
                (pts, d, self.next_offset)
            }
        };
        self.since_base += 1;
        self.next_offset = offset + 1;
        let discont = std::mem::take(&mut self.discont);
        let r = rec.make_mut();
        r.set_pts(pts);
        r.set_dts(None::<gst::ClockTime>);
        r.set_duration(duration);
        r.set_offset(offset);
        r.set_offset_end(offset + 1);
        if discont {
            r.set_flags(gst::BufferFlags::DISCONT);
        } else {
            r.unset_flags(gst::BufferFlags::DISCONT);
        }
        Some(rec)
    }
}

/// The warning for a stream that ends inside a record.
pub fn leftover_message(bytes: usize) -> String {
    format!(
        "landmark stream ended with {bytes} bytes left over, not a whole {RECORD_SIZE}-byte \
         {LAYOUT} record: dropped"
    )
}

/// Centre of rotation and scaling of the pose: the middle of the canonical unit square.
pub const POSE_CENTRE: [f32; 2] = [0.5, 0.5];

/// Applies a pose to a canonical point: the face is taken as flat (z = 0) about [`POSE_CENTRE`],
/// rotated by R = Rz(roll) Ry(yaw) Rx(pitch), projected orthographically, scaled by exp(ln scale)
/// and moved by (tx, ty).
pub fn apply_pose(p: [f32; 2], pose: &[f32; 6]) -> [f32; 2] {
    let [roll, yaw, pitch, tx, ty, ls] = *pose;
    let (x, y) = (p[0] - POSE_CENTRE[0], p[1] - POSE_CENTRE[1]);
    // Rx(pitch) then Ry(yaw) on (x, y, 0).
    let (y1, z1) = (y * pitch.cos(), y * pitch.sin());
    let (x2, z2) = (
        x * yaw.cos() + z1 * yaw.sin(),
        -x * yaw.sin() + z1 * yaw.cos(),
    );
    let _ = z2;
    let (cr, sr) = (roll.cos(), roll.sin());
    let (x3, y3) = (x2 * cr - y1 * sr, x2 * sr + y1 * cr);
    let s = ls.exp();
    [POSE_CENTRE[0] + s * x3 + tx, POSE_CENTRE[1] + s * y3 + ty]
}

/// Caps of the landmark stream, with a frame rate or without.
pub fn caps(framerate: Option<gst::Fraction>) -> gst::Caps {
    let mut b = gst::Caps::builder(MEDIA_TYPE).field("layout", LAYOUT);
    if let Some(f) = framerate {
        b = b.field("framerate", f);
    }
    b.build()
}

/// Template caps: any frame rate.
pub fn template_caps() -> gst::Caps {
    gst::Caps::builder(MEDIA_TYPE)
        .field("layout", LAYOUT)
        .field(
            "framerate",
            gst::FractionRange::new(
                gst::Fraction::new(1, i32::MAX),
                gst::Fraction::new(i32::MAX, 1),
            ),
        )
        .build()
}

/// The canonical mean neutral face (mouth closed), from models/mean_face.txt, made by the training
/// kit from real faces: points 36 and 45 at (0.3, 1/3) and (0.7, 1/3).
pub fn mean_face() -> &'static [[f32; 2]; N_POINTS] {
    static FACE: OnceLock<[[f32; 2]; N_POINTS]> = OnceLock::new();
    FACE.get_or_init(|| {
        let mut pts = [[0f32; 2]; N_POINTS];
        let text = include_str!("../models/mean_face.txt");
        let mut n = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if n >= N_POINTS {
                break;
            }
            let mut it = line
                .split_whitespace()
                .filter_map(|v| v.parse::<f32>().ok());
            if let (Some(x), Some(y)) = (it.next(), it.next()) {
                pts[n] = [x, y];
                n += 1;
            }
        }
        debug_assert_eq!(n, N_POINTS, "models/mean_face.txt must hold 68 points");
        pts
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip() {
        let f = LandmarkFrame {
            pose: [0.1, -0.2, 0.05, 0.01, -0.02, 0.1],
            flags: FLAG_SPEECH | FLAG_BLINK,
            confidence: 0.5,
            ..Default::default()
        };
        let b = f.to_bytes();
        assert_eq!(b.len(), 576);
        assert_eq!(LandmarkFrame::from_bytes(&b).unwrap(), f);
        assert_eq!(
            LandmarkFrame::from_bytes(&b[..575]),
            Err(FormatError::Size(575))
        );
        let mut bad = b;
        bad[0..4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert_eq!(
            LandmarkFrame::from_bytes(&bad),
            Err(FormatError::NotFinite("point"))
        );
    }

    #[test]
    fn nonsense_values_are_refused_by_name() {
        let good = LandmarkFrame::default();
        let check = |f: LandmarkFrame, field: &str, value: &str| {
            let e = LandmarkFrame::from_bytes(&f.to_bytes()).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(field), "{text}");
            assert!(text.contains(value), "{text}");
        };
        let mut f = good;
        f.points[12][1] = 3e38;
        check(f, "point 12 y", "3e38");
        let mut f = good;
        f.points[0][0] = -10.5;
        check(f, "point 0 x", "-10.5");
        let mut f = good;
        f.pose[1] = 7.0;
        check(f, "pose yaw", "= 7,");
        let mut f = good;
        f.pose[4] = -20.0;
        check(f, "pose ty", "-20");
        let mut f = good;
        f.pose[5] = 6.0;
        check(f, "pose ln(scale)", "= 6,");
        let mut f = good;
        f.confidence = -1e25;
        check(f, "confidence", "-1e25");
        let mut f = good;
        f.confidence = 1.5;
        check(f, "confidence", "1.5");
        let mut f = good;
        f.flags = FLAG_SPEECH | 0x100;
        check(f, "undefined bits 0x00000100", "0x00000101");
        // The edges are inside.
        let mut f = good;
        f.points[3] = [10.0, -10.0];
        f.pose = [2.0 * std::f32::consts::PI, -6.0, 6.0, 10.0, -10.0, 5.0];
        f.confidence = 0.0;
        f.flags = FLAG_SPEECH | FLAG_BLINK;
        assert_eq!(LandmarkFrame::from_bytes(&f.to_bytes()), Ok(f));
    }

    #[test]
    fn mean_face_is_pinned() {
        let m = mean_face();
        assert!((m[36][0] - 0.3).abs() < 1e-4 && (m[36][1] - 1.0 / 3.0).abs() < 1e-4);
        assert!((m[45][0] - 0.7).abs() < 1e-4 && (m[45][1] - 1.0 / 3.0).abs() < 1e-4);
    }

    #[test]
    fn identity_pose_keeps_points() {
        let p = [0.3, 0.7];
        let q = apply_pose(p, &[0.0; 6]);
        assert!((p[0] - q[0]).abs() < 1e-6 && (p[1] - q[1]).abs() < 1e-6);
        // Roll by 90 degrees turns x into y about the centre.
        let r = apply_pose(
            [0.6, 0.5],
            &[std::f32::consts::FRAC_PI_2, 0.0, 0.0, 0.0, 0.0, 0.0],
        );
        assert!((r[0] - 0.5).abs() < 1e-5 && (r[1] - 0.6).abs() < 1e-5);
    }
}
