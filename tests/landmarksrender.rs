// SPDX-License-Identifier: MIT OR Apache-2.0
//! landmarksrender in a Harness: negotiation, timestamps, what is drawn, pose, bad input.

mod common;

use common::*;
use gst::prelude::*;
use gst_check::Harness;
use gsttalkingface::landmarks::{self, LandmarkFrame};

/// The element's default background, 0xff14181e, as RGB.
const BG: [u8; 3] = [0x14, 0x18, 0x1e];
const FRAME: gst::ClockTime = gst::ClockTime::from_mseconds(40);

fn buffer(frame: &LandmarkFrame, n: u64) -> gst::Buffer {
    let mut b = gst::Buffer::from_slice(frame.to_bytes());
    {
        let b = b.get_mut().unwrap();
        b.set_pts(FRAME * n);
        b.set_duration(FRAME);
        b.set_offset(n);
        b.set_offset_end(n + 1);
    }
    b
}

fn harness(launch: &str, fps: i32) -> Harness {
    init();
    let mut h = Harness::new_parse(launch);
    h.set_src_caps(landmarks::caps(Some(gst::Fraction::new(fps, 1))));
    h
}

fn out_info(h: &Harness) -> gst_video::VideoInfo {
    let caps = h.sinkpad().unwrap().current_caps().expect("output caps");
    gst_video::VideoInfo::from_caps(&caps).unwrap()
}

/// An RGBA frame as a (width, height, pixels) image.
struct Image {
    w: usize,
    h: usize,
    px: Vec<[u8; 4]>,
}

impl Image {
    fn from_rgba(buf: &gst::Buffer, info: &gst_video::VideoInfo) -> Image {
        assert_eq!(info.format(), gst_video::VideoFormat::Rgba);
        let (w, h) = (info.width() as usize, info.height() as usize);
        let stride = info.stride()[0] as usize;
        let map = buf.map_readable().unwrap();
        let mut px = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let o = y * stride + x * 4;
                px.push([map[o], map[o + 1], map[o + 2], map[o + 3]]);
            }
        }
        Image { w, h, px }
    }

    fn drawn(&self, x: usize, y: usize) -> bool {
        let p = self.px[y * self.w + x];
        (0..3).any(|c| p[c].abs_diff(BG[c]) > 8)
    }

    /// Drawn pixels in the canonical box [x0, x1) x [y0, y1) (the unit square on the smaller side,
    /// centred, as the element maps it).
    fn count_in(&self, x0: f32, y0: f32, x1: f32, y1: f32) -> usize {
        let (xa, ya) = self.px_of(x0, y0);
        let (xb, yb) = self.px_of(x1, y1);
        let mut n = 0;
        for y in ya..yb.min(self.h) {
            for x in xa..xb.min(self.w) {
                n += self.drawn(x, y) as usize;
            }
        }
        n
    }

    fn px_of(&self, x: f32, y: f32) -> (usize, usize) {
        let s = self.w.min(self.h) as f32;
        let ox = (self.w as f32 - s) / 2.0;
        let oy = (self.h as f32 - s) / 2.0;
        ((ox + x * s) as usize, (oy + y * s) as usize)
    }

    fn total(&self) -> usize {
        self.count_in(0.0, 0.0, 1.0, 1.0)
    }

    fn centroid(&self) -> (f32, f32) {
        let (mut sx, mut sy, mut n) = (0f64, 0f64, 0f64);
        for y in 0..self.h {
            for x in 0..self.w {
                if self.drawn(x, y) {
                    sx += x as f64 + 0.5;
                    sy += y as f64 + 0.5;
                    n += 1.0;
                }
            }
        }
        assert!(n > 0.0, "nothing drawn");
        ((sx / n) as f32, (sy / n) as f32)
    }

    fn differing(&self, other: &Image) -> usize {
        self.px
            .iter()
            .zip(&other.px)
            .filter(|(a, b)| a != b)
            .count()
    }
}

/// Renders one frame with the element (default caps: RGBA 256x256).
fn render(h: &mut Harness, frame: &LandmarkFrame, n: u64) -> Image {
    h.push(buffer(frame, n)).expect("push");
    let out = h.pull().expect("pull");
    Image::from_rgba(&out, &out_info(h))
}

#[test]
fn negotiates_256_square_by_default_with_the_input_framerate() {
    let mut h = harness("landmarksrender", 30);
    h.push(buffer(&LandmarkFrame::default(), 0)).unwrap();
    let out = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(s.name(), "video/x-raw");
    assert_eq!(s.get::<i32>("width").unwrap(), 256);
    assert_eq!(s.get::<i32>("height").unwrap(), 256);
    assert_eq!(s.get::<&str>("format").unwrap(), "RGBA");
    assert_eq!(
        s.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(30, 1)
    );
    assert_eq!(out.size(), 256 * 256 * 4);
}

#[test]
fn negotiates_i420_320x240_from_a_capsfilter() {
    let mut h = harness(
        "landmarksrender ! capsfilter caps=video/x-raw,format=I420,width=320,height=240",
        25,
    );
    h.push(buffer(&LandmarkFrame::default(), 0)).unwrap();
    let out = h.pull().unwrap();
    let info = out_info(&h);
    assert_eq!(info.format(), gst_video::VideoFormat::I420);
    assert_eq!((info.width(), info.height()), (320, 240));
    assert_eq!(info.fps(), gst::Fraction::new(25, 1));
    assert_eq!(out.size(), info.size());

    // The face is centred: a 240x240 square in the middle, the side bands stay background.
    let map = out.map_readable().unwrap();
    let ystride = info.stride()[0] as usize;
    let luma = |x: usize, y: usize| map[info.offset()[0] + y * ystride + x];
    let bg = luma(0, 0);
    for y in 0..240 {
        for x in (0..30).chain(290..320) {
            assert_eq!(luma(x, y), bg, "side band drawn at ({x}, {y})");
        }
    }
    // The lips (around x 0.38..0.62, y 0.63..0.72 of the square) are drawn.
    let lips = (152..175)
        .flat_map(|y| (40 + 91..40 + 149).map(move |x| (x, y)))
        .filter(|&(x, y)| luma(x, y).abs_diff(bg) > 10)
        .count();
    assert!(lips > 100, "{lips} lip pixels in I420");
    // The lips are red: Cr above neutral somewhere in the mouth.
    let (vs, vo) = (info.stride()[2] as usize, info.offset()[2]);
    let max_cr = (76..88)
        .flat_map(|cy| (65..75).map(move |cx| (cx, cy)))
        .map(|(cx, cy)| map[vo + cy * vs + cx])
        .max()
        .unwrap();
    assert!(max_cr > 150, "lips are not red in I420: Cr {max_cr}");
}

#[test]
fn every_format_negotiates_and_fills_the_frame() {
    init();
    let formats = [
        ("RGBA", [0usize, 1, 2, 3]),
        ("BGRA", [2, 1, 0, 3]),
        ("ARGB", [1, 2, 3, 0]),
        ("ABGR", [3, 2, 1, 0]),
        ("RGBx", [0, 1, 2, 3]),
        ("BGRx", [2, 1, 0, 3]),
        ("xRGB", [1, 2, 3, 0]),
        ("xBGR", [3, 2, 1, 0]),
        ("RGB", [0, 1, 2, 9]),
        ("BGR", [2, 1, 0, 9]),
        ("I420", [9, 9, 9, 9]),
    ];
    for (fmt, order) in formats {
        // An odd size exercises strides and chroma edges.
        let mut h = harness(
            &format!(
                "landmarksrender background=0x80204060 ! capsfilter caps=video/x-raw,format={fmt},width=33,height=17"
            ),
            25,
        );
        h.push(buffer(&LandmarkFrame::default(), 0)).unwrap();
        let out = h.pull().unwrap();
        let info = out_info(&h);
        assert_eq!(info.format().to_str(), fmt);
        assert_eq!(out.size(), info.size(), "{fmt}");
        if order[0] == 9 {
            continue;
        }
        let map = out.map_readable().unwrap();
        let corner = &map[..info.format_info().pixel_stride()[0] as usize];
        assert_eq!(corner[order[0]], 0x20, "{fmt} red");
        assert_eq!(corner[order[1]], 0x40, "{fmt} green");
        assert_eq!(corner[order[2]], 0x60, "{fmt} blue");
        if order[3] != 9 {
            let want = if fmt.contains('x') { 0xff } else { 0x80 };
            assert_eq!(corner[order[3]], want, "{fmt} alpha or padding");
        }
    }
}

#[test]
fn timestamps_are_carried() {
    let mut h = harness("landmarksrender", 25);
    for n in 0..5u64 {
        h.push(buffer(&LandmarkFrame::default(), n)).unwrap();
    }
    for n in 0..5u64 {
        let out = h.pull().unwrap();
        assert_eq!(out.pts(), Some(FRAME * n));
        assert_eq!(out.duration(), Some(FRAME));
        assert_eq!(out.offset(), n);
        assert_eq!(out.offset_end(), n + 1);
    }
    assert!(h.try_pull().is_none(), "one video frame per landmark frame");
}

#[test]
fn mouth_is_drawn_and_follows_the_jaw() {
    let mut h = harness("landmarksrender", 25);
    let mean = LandmarkFrame::default();
    let a = render(&mut h, &mean, 0);
    // Lips: x 0.38..0.62, y 0.635..0.715 in the mean face.
    let lips = a.count_in(0.37, 0.62, 0.63, 0.73);
    assert!(lips > 300, "only {lips} pixels drawn on the lips");
    // Nothing drawn in the corners of the canonical square.
    assert_eq!(a.count_in(0.0, 0.0, 0.15, 0.15), 0);
    assert_eq!(a.count_in(0.85, 0.85, 1.0, 1.0), 0);
    // The mean face's mouth is closed: the gap below the lower lip down to the chin is empty.
    assert_eq!(a.count_in(0.45, 0.74, 0.55, 0.80), 0);

    // Jaw dropped: lower lips and chin move down.
    let mut open = mean;
    for i in (5..12).chain(55..60).chain(65..68) {
        open.points[i][1] += 0.08;
    }
    let b = render(&mut h, &open, 1);
    let changed = b.differing(&a);
    assert!(changed > 300, "only {changed} pixels changed");
    assert!(
        b.count_in(0.45, 0.74, 0.55, 0.80) > 50,
        "the dropped lower lip is not drawn below the mean mouth"
    );
    // The upper face is unchanged.
    let top = |img: &Image| {
        let (_, y) = img.px_of(0.0, 0.45);
        img.px[..y * img.w].to_vec()
    };
    assert_eq!(top(&a), top(&b));
}

#[test]
fn pose_moves_the_drawing() {
    let mut h = harness("landmarksrender draw-points=false", 25);
    let mean = LandmarkFrame::default();
    let a = render(&mut h, &mean, 0);
    let (cx, cy) = a.centroid();

    let mut moved = mean;
    moved.pose[3] = 0.1; // tx: 25.6 px right
    moved.pose[4] = -0.05; // ty: 12.8 px up
    let (mx, my) = render(&mut h, &moved, 1).centroid();
    assert!((mx - cx - 25.6).abs() < 1.5, "x {cx} -> {mx}");
    assert!((my - cy + 12.8).abs() < 1.5, "y {cy} -> {my}");

    // Roll by 90 degrees about the centre of the square: (x, y) -> (c - (y - c), c + (x - c)).
    let mut rolled = mean;
    rolled.pose[0] = std::f32::consts::FRAC_PI_2;
    let (rx, ry) = render(&mut h, &rolled, 2).centroid();
    assert!((rx - (128.0 - (cy - 128.0))).abs() < 2.0, "roll x {rx}");
    assert!((ry - (128.0 + (cx - 128.0))).abs() < 2.0, "roll y {ry}");

    // A larger scale spreads the drawing further from the centre.
    let mut big = mean;
    big.pose[5] = 0.2f32;
    let spread = |img: &Image| {
        let (mut s, mut n) = (0f32, 0f32);
        for y in 0..img.h {
            for x in 0..img.w {
                if img.drawn(x, y) {
                    s += ((x as f32 - 128.0).powi(2) + (y as f32 - 128.0).powi(2)).sqrt();
                    n += 1.0;
                }
            }
        }
        s / n
    };
    let b = render(&mut h, &big, 3);
    let ratio = spread(&b) / spread(&a);
    assert!((ratio - 0.2f32.exp()).abs() < 0.05, "scale ratio {ratio}");
}

#[test]
fn no_face_is_a_blank_frame_with_a_small_marker() {
    let mut h = harness("landmarksrender", 25);
    let none = LandmarkFrame {
        confidence: 0.0,
        ..LandmarkFrame::default()
    };
    let img = render(&mut h, &none, 0);
    let n = img.total();
    assert!(n > 0 && n < 300, "{n} pixels drawn for no face");
    assert_eq!(img.count_in(0.3, 0.6, 0.7, 0.8), 0, "a mouth is drawn");
}

#[test]
fn properties_change_the_drawing() {
    let mean = LandmarkFrame::default();
    let mut h = harness("landmarksrender", 25);
    let base = render(&mut h, &mean, 0).total();

    let mut h = harness("landmarksrender draw-points=false", 25);
    let no_points = render(&mut h, &mean, 0).total();
    assert!(no_points < base, "{no_points} vs {base} with points");

    let mut h = harness("landmarksrender line-width=5", 25);
    let thick = render(&mut h, &mean, 0).total();
    assert!(thick > base * 3 / 2, "{thick} vs {base} at width 2");

    let mut h = harness("landmarksrender background=0xff0000ff", 25);
    let img = render(&mut h, &mean, 0);
    assert_eq!(img.px[0], [0, 0, 0xff, 0xff]);

    init();
    let e = gst::ElementFactory::make("landmarksrender")
        .build()
        .unwrap();
    assert_eq!(e.property::<f64>("line-width"), 2.0);
    assert!(e.property::<bool>("draw-points"));
    assert_eq!(e.property::<u32>("background"), 0xff14181e);
}

/// Pushes `data` into a bare landmarksrender and returns the error message on its bus.
fn push_bad(data: Vec<u8>) -> String {
    let mut h = harness("landmarksrender", 25);
    let bus = gst::Bus::new();
    h.element().unwrap().set_bus(Some(&bus));
    // A good frame first: the element is running.
    h.push(buffer(&LandmarkFrame::default(), 0)).unwrap();
    h.pull().unwrap();
    let r = h.push(gst::Buffer::from_mut_slice(data));
    assert_eq!(r, Err(gst::FlowError::Error));
    let msg = bus
        .pop_filtered(&[gst::MessageType::Error])
        .expect("an error message on the bus");
    let gst::MessageView::Error(err) = msg.view() else {
        unreachable!()
    };
    assert!(err.error().matches(gst::StreamError::Format));
    err.error().to_string()
}

/// `n` valid records, each a little different, as one byte stream.
fn record_stream(n: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(n * landmarks::RECORD_SIZE);
    for i in 0..n {
        let mut f = LandmarkFrame::default();
        f.pose[3] = 0.001 * i as f32;
        bytes.extend_from_slice(&f.to_bytes());
    }
    bytes
}

/// A file of whole records read by filesrc in its default 4096-byte blocks (not a multiple of
/// the 576-byte record): one frame per record, frame n at n/fps exactly, in a time segment.
#[test]
fn file_read_in_blocks_gives_one_frame_per_record() {
    init();
    let n = 23usize;
    let path = std::env::temp_dir().join(format!("lmr-{}-blocks.bin", std::process::id()));
    std::fs::write(&path, record_stream(n)).unwrap();
    for (blocksize, fps) in [("", 25), (" blocksize=1000", 30)] {
        let p = launch(&format!(
            "filesrc location={}{blocksize} ! {},layout=ibug68,framerate={fps}/1 ! \
             landmarksrender ! appsink name=sink sync=false",
            path.display(),
            landmarks::MEDIA_TYPE
        ));
        let sink = appsink(&p, "sink");
        p.set_state(gst::State::Playing).unwrap();
        let mut got = Vec::new();
        while let Ok(sample) = sink.pull_sample() {
            let seg = sample.segment().expect("a segment");
            assert_eq!(seg.format(), gst::Format::Time, "{blocksize}");
            got.push(sample.buffer_owned().unwrap());
        }
        let bus = p.bus().unwrap();
        let err = bus.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Warning]);
        p.set_state(gst::State::Null).unwrap();
        assert!(err.is_none(), "{blocksize}: {err:?}");
        assert_eq!(got.len(), n, "{blocksize}");
        for (i, b) in got.iter().enumerate() {
            let t = |k: u64| gst::ClockTime::SECOND.mul_div_floor(k, fps as u64).unwrap();
            assert_eq!(b.pts(), Some(t(i as u64)), "{blocksize} frame {i}");
            assert_eq!(b.duration(), Some(t(i as u64 + 1) - t(i as u64)));
            assert_eq!(b.offset(), i as u64);
        }
    }
    let _ = std::fs::remove_file(path);
}

/// The same byte stream cut into chunks of 1, 100 and 4096 bytes without timestamps: one frame
/// per record, stamped from the frame rate and the segment start; a partial record at EOS is a
/// warning that names the leftover bytes.
#[test]
fn any_chunking_gives_whole_records() {
    let n = 9usize;
    let mut bytes = record_stream(n);
    bytes.extend_from_slice(&[0u8; 100]);
    for chunk in [1usize, 100, 4096] {
        let mut h = harness("landmarksrender", 25);
        let bus = gst::Bus::new();
        h.element().unwrap().set_bus(Some(&bus));
        let start = gst::ClockTime::from_seconds(2);
        let mut seg = gst::FormattedSegment::<gst::ClockTime>::new();
        seg.set_start(start);
        seg.set_time(start);
        assert!(h.push_event(gst::event::Segment::new(&seg)));
        for c in bytes.chunks(chunk) {
            h.push(gst::Buffer::from_slice(c.to_vec())).unwrap();
        }
        assert!(h.push_event(gst::event::Eos::new()));
        for i in 0..n as u64 {
            let out = h.pull().unwrap();
            assert_eq!(
                out.pts(),
                Some(start + FRAME * i),
                "chunk {chunk} frame {i}"
            );
            assert_eq!(out.duration(), Some(FRAME));
            assert_eq!(out.offset(), i);
        }
        assert!(
            h.try_pull().is_none(),
            "chunk {chunk}: more frames than records"
        );
        let msg = bus
            .pop_filtered(&[gst::MessageType::Warning])
            .unwrap_or_else(|| panic!("chunk {chunk}: no warning for the leftover bytes"));
        let gst::MessageView::Warning(w) = msg.view() else {
            unreachable!()
        };
        let text = w.error().to_string();
        assert!(text.contains("100 bytes left over"), "{text}");
        assert!(bus.pop_filtered(&[gst::MessageType::Error]).is_none());
    }
}

/// Buffers that carry a PTS where a record starts keep it; records in between are spaced by the
/// frame rate from there.
#[test]
fn pts_of_the_buffer_that_starts_a_record_is_kept() {
    let mut h = harness("landmarksrender", 25);
    let bytes = record_stream(4);
    let r = landmarks::RECORD_SIZE;
    // Two records in one buffer at 10 s, then one and a half, then the last half.
    let mut a = gst::Buffer::from_slice(bytes[..2 * r].to_vec());
    a.get_mut()
        .unwrap()
        .set_pts(gst::ClockTime::from_seconds(10));
    let mut b = gst::Buffer::from_slice(bytes[2 * r..3 * r + 10].to_vec());
    b.get_mut()
        .unwrap()
        .set_pts(gst::ClockTime::from_seconds(20));
    let mut c = gst::Buffer::from_slice(bytes[3 * r + 10..].to_vec());
    c.get_mut()
        .unwrap()
        .set_pts(gst::ClockTime::from_seconds(30));
    for buf in [a, b, c] {
        h.push(buf).unwrap();
    }
    let pts: Vec<_> = (0..4).map(|_| h.pull().unwrap().pts().unwrap()).collect();
    let s = gst::ClockTime::from_seconds;
    assert_eq!(pts, vec![s(10), s(10) + FRAME, s(20), s(20) + FRAME]);
}

#[test]
fn nan_values_are_an_error_message() {
    let mut f = LandmarkFrame::default();
    f.points[60][1] = f32::NAN;
    let text = push_bad(f.to_bytes().to_vec());
    assert!(text.contains("non-finite point"), "{text}");
}

/// Finite nonsense is refused with an error naming the field and the value.
#[test]
fn out_of_range_values_are_an_error_message() {
    let mut f = LandmarkFrame::default();
    f.points[12][1] = 3e38;
    let text = push_bad(f.to_bytes().to_vec());
    assert!(text.contains("point 12 y = 3e38"), "{text}");
    let f = LandmarkFrame {
        confidence: -1e25,
        ..Default::default()
    };
    let text = push_bad(f.to_bytes().to_vec());
    assert!(text.contains("confidence = -1e25"), "{text}");
    let f = LandmarkFrame {
        flags: 0x8000_0001,
        ..Default::default()
    };
    let text = push_bad(f.to_bytes().to_vec());
    assert!(text.contains("undefined bits 0x80000000"), "{text}");
}

#[test]
fn speech_to_landmark_video_pipeline() {
    run_pipeline(&format!(
        "audiotestsrc num-buffers=20 ! audioconvert ! audioresample ! audio2landmarks model={} ! \
         landmarksrender ! videoconvert ! x264enc ! fakesink",
        model("a2l_test.onnx")
    ))
    .unwrap();
}
