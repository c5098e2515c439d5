// SPDX-License-Identifier: MIT OR Apache-2.0
//! landmarksrender in a Harness: negotiation, timestamps, what is drawn, pose, bad input.

mod common;

use common::*;
use gst::prelude::*;
use gst_video::prelude::*;
use gsttalkingface::landmarks::{self, LandmarkFrame};

fn harness(out_caps: Option<&str>) -> (gst::Element, gst_check::Harness) {
    init();
    let e = gst::ElementFactory::make("landmarksrender")
        .build()
        .unwrap();
    let mut h = gst_check::Harness::with_element(&e, Some("sink"), Some("src"));
    if let Some(c) = out_caps {
        h.set_sink_caps_str(c);
    }
    h.play();
    h.set_src_caps(landmarks::caps(Some(gst::Fraction::new(25, 1))));
    (e, h)
}

fn buf(f: &LandmarkFrame, n: u64) -> gst::Buffer {
    let mut b = gst::Buffer::from_mut_slice(f.to_bytes().to_vec());
    {
        let b = b.get_mut().unwrap();
        b.set_pts(gst::ClockTime::from_mseconds(40 * n));
        b.set_duration(gst::ClockTime::from_mseconds(40));
    }
    b
}

/// Pixels that differ from the top-left background pixel, with their coordinates.
fn drawn(h: &mut gst_check::Harness, b: &gst::Buffer) -> (Vec<(usize, usize)>, usize, usize) {
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
    assert_eq!(info.format(), gst_video::VideoFormat::Rgba);
    let f = gst_video::VideoFrameRef::from_buffer_ref_readable(b.as_ref(), &info).unwrap();
    let (w, hh) = (info.width() as usize, info.height() as usize);
    let stride = f.plane_stride()[0] as usize;
    let d = f.plane_data(0).unwrap();
    let bg = [
        d[stride * (hh - 1)],
        d[stride * (hh - 1) + 1],
        d[stride * (hh - 1) + 2],
    ];
    let mut v = Vec::new();
    for y in 0..hh {
        for x in 0..w {
            let i = y * stride + x * 4;
            if (0..3).any(|c| (d[i + c] as i32 - bg[c] as i32).abs() > 20) {
                v.push((x, y));
            }
        }
    }
    (v, w, hh)
}

fn centroid(v: &[(usize, usize)]) -> (f64, f64) {
    let n = v.len() as f64;
    (
        v.iter().map(|p| p.0 as f64).sum::<f64>() / n,
        v.iter().map(|p| p.1 as f64).sum::<f64>() / n,
    )
}

#[test]
fn default_caps_and_timestamps() {
    let (_e, mut h) = harness(Some("video/x-raw,format=RGBA"));
    h.push(buf(&LandmarkFrame::default(), 3)).unwrap();
    let out = h.pull().unwrap();
    assert_eq!(out.pts(), Some(gst::ClockTime::from_mseconds(120)));
    assert_eq!(out.duration(), Some(gst::ClockTime::from_mseconds(40)));
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(s.get::<i32>("width").unwrap(), 256);
    assert_eq!(s.get::<i32>("height").unwrap(), 256);
    assert_eq!(
        s.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(25, 1)
    );
}

#[test]
fn i420_at_any_size() {
    let (_e, mut h) = harness(Some("video/x-raw,format=I420,width=320,height=240"));
    h.push(buf(&LandmarkFrame::default(), 0)).unwrap();
    let out = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
    assert_eq!((info.width(), info.height()), (320, 240));
    assert_eq!(out.size(), info.size());
    // Luma shows the face: many bright pixels on a dark background.
    let map = out.map_readable().unwrap();
    let y = &map.as_slice()[..320 * 240];
    let bright = y.iter().filter(|&&v| v > 100).count();
    assert!(bright > 300, "{bright} bright luma pixels");
}

#[test]
fn mouth_and_pose_are_drawn() {
    let (_e, mut h) = harness(Some("video/x-raw,format=RGBA,width=256,height=256"));
    let neutral = LandmarkFrame::default();
    let mut open = neutral;
    for i in [56, 57, 58, 65, 66, 67] {
        open.points[i][1] += 0.08;
    }
    let mut turned = neutral;
    turned.pose[3] = 0.15; // tx
    h.push(buf(&neutral, 0)).unwrap();
    h.push(buf(&open, 1)).unwrap();
    h.push(buf(&turned, 2)).unwrap();
    let (b0, b1, b2) = (h.pull().unwrap(), h.pull().unwrap(), h.pull().unwrap());
    let (p0, w, hh) = drawn(&mut h, &b0);
    let (p1, _, _) = drawn(&mut h, &b1);
    let (p2, _, _) = drawn(&mut h, &b2);
    assert!(p0.len() > 500, "{} pixels drawn", p0.len());
    // The mouth region (lower middle of the frame) changes when the jaw drops.
    let in_mouth = |v: &[(usize, usize)], lo: usize| {
        v.iter()
            .filter(|(x, y)| *x > w / 3 && *x < 2 * w / 3 && *y > lo && *y < hh * 95 / 100)
            .count()
    };
    let below = hh * 72 / 100;
    assert!(in_mouth(&p1, below) > in_mouth(&p0, below) + 20);
    // tx = 0.15 of the unit square moves the drawing right by about 0.15 * 256 = 38 px.
    let (c0, c2) = (centroid(&p0), centroid(&p2));
    assert!((c2.0 - c0.0 - 38.4).abs() < 6.0, "moved by {}", c2.0 - c0.0);
    assert!((c2.1 - c0.1).abs() < 3.0);
}

#[test]
fn no_face_is_blank() {
    let (_e, mut h) = harness(Some("video/x-raw,format=RGBA,width=256,height=256"));
    let f = LandmarkFrame {
        confidence: 0.0,
        ..LandmarkFrame::default()
    };
    h.push(buf(&f, 0)).unwrap();
    let b = h.pull().unwrap();
    let (p, _, _) = drawn(&mut h, &b);
    assert!(p.len() < 200, "{} pixels drawn without a face", p.len());
}

#[test]
fn wrong_size_buffer_is_an_error() {
    let (e, mut h) = harness(None);
    let bus = gst::Bus::new();
    e.set_bus(Some(&bus));
    assert!(h.push(gst::Buffer::from_mut_slice(vec![0u8; 10])).is_err());
    let msg = bus
        .iter()
        .find(|m| matches!(m.view(), gst::MessageView::Error(_)))
        .expect("error message");
    if let gst::MessageView::Error(err) = msg.view() {
        assert!(err.error().to_string().contains("576"), "{}", err.error());
    }
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
