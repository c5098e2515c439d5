// SPDX-License-Identifier: MIT OR Apache-2.0
//! audio2landmarks in Harness and parsed-pipeline tests, with the small test models of
//! tests/models (made by training/make_test_models.py).

mod common;

use common::*;
use gst::prelude::*;
use gsttalkingface::landmarks::{self, LandmarkFrame};

const RATE: u32 = 16000;
const HOP: u64 = 640;
const FRAME: gst::ClockTime = gst::ClockTime::from_mseconds(40);

fn element(model_name: &str) -> gst::Element {
    init();
    gst::ElementFactory::make("audio2landmarks")
        .property("model", model(model_name))
        .property("blinks", false)
        .property("head-motion", 0.0f64)
        .property("threads", 1u32)
        .build()
        .expect("audio2landmarks")
}

fn harness_for(e: &gst::Element) -> gst_check::Harness {
    let mut h = gst_check::Harness::with_element(e, Some("sink"), Some("src"));
    h.play();
    h.set_src_caps_str("audio/x-raw,format=F32LE,layout=interleaved,channels=1,rate=16000");
    h
}

fn pull_all(h: &mut gst_check::Harness) -> Vec<gst::Buffer> {
    let mut v = Vec::new();
    while let Some(b) = h.try_pull() {
        v.push(b);
    }
    v
}

/// Pushes `signal` in chunks of the given sizes (cycled), with exact timestamps, then EOS.
fn run_chunked(model_name: &str, signal: &[f32], sizes: &[usize]) -> Vec<gst::Buffer> {
    let e = element(model_name);
    let mut h = harness_for(&e);
    let mut pos = 0usize;
    let mut k = 0;
    while pos < signal.len() {
        let n = sizes[k % sizes.len()].min(signal.len() - pos);
        k += 1;
        let pts = gst::ClockTime::from_nseconds(pos as u64 * 1_000_000_000 / RATE as u64);
        h.push(f32_buffer(&signal[pos..pos + n], Some(pts)))
            .expect("push");
        pos += n;
    }
    assert!(h.push_event(gst::event::Eos::new()));
    pull_all(&mut h)
}

fn expected_pts(n: u64) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(n * HOP * 1_000_000_000 / RATE as u64)
}

#[test]
fn negotiates_from_44k_stereo() {
    init();
    let pipeline = launch(&format!(
        "audiotestsrc num-buffers=20 samplesperbuffer=4410 ! audio/x-raw,rate=44100,channels=2 ! \
         audioconvert ! audioresample ! audio2landmarks model={} ! appsink name=sink sync=false",
        model("a2l_test.onnx")
    ));
    let sink = appsink(&pipeline, "sink");
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut n = 0;
    let mut caps = None;
    while let Ok(s) = sink.pull_sample() {
        caps = s.caps().map(|c| c.to_owned());
        let b = s.buffer().unwrap();
        assert_eq!(b.size(), landmarks::RECORD_SIZE);
        assert_eq!(b.pts(), Some(expected_pts(n)));
        n += 1;
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let caps = caps.expect("caps");
    let s = caps.structure(0).unwrap();
    assert_eq!(s.name(), landmarks::MEDIA_TYPE);
    assert_eq!(s.get::<&str>("layout").unwrap(), "ibug68");
    assert_eq!(
        s.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(25, 1)
    );
    // 20 x 0.1 s = 2 s of audio: 50 frames.
    assert_eq!(n, 50);
}

#[test]
fn frame_count_and_exact_timestamps() {
    // 2.5 s in chunks that do not divide a frame: 63 frames (ceil(40000 / 640)).
    let sig = speechish(40000, RATE);
    let bufs = run_chunked("a2l_test.onnx", &sig, &[1234, 7, 999, 4096]);
    assert_eq!(bufs.len(), 63);
    for (n, b) in bufs.iter().enumerate() {
        let n = n as u64;
        assert_eq!(b.pts(), Some(expected_pts(n)), "frame {n}");
        assert_eq!(b.duration(), Some(expected_pts(n + 1) - expected_pts(n)));
        assert_eq!(b.offset(), n);
        assert_eq!(b.offset_end(), n + 1);
    }
    assert!(bufs[0].flags().contains(gst::BufferFlags::DISCONT));
    for f in frames(&bufs) {
        assert!(f.points.iter().flatten().all(|v| v.is_finite()));
        assert_eq!(f.confidence, 1.0);
    }
}

#[test]
fn lookahead_is_drained_at_eos() {
    let sig = speechish(16000, RATE);
    for m in ["a2l_test.onnx", "a2l_lookahead0.onnx"] {
        let bufs = run_chunked(m, &sig, &[16000]);
        assert_eq!(bufs.len(), 25, "{m}");
        assert_eq!(bufs.last().unwrap().pts(), Some(expected_pts(24)));
    }
}

#[test]
fn chunked_equals_whole() {
    let sig = speechish(3 * 16000 + 123, RATE);
    let whole = frames(&run_chunked("a2l_test.onnx", &sig, &[sig.len()]));
    let chunked = frames(&run_chunked(
        "a2l_test.onnx",
        &sig,
        &[1, 640, 333, 10, 2000, 641],
    ));
    assert_eq!(whole.len(), chunked.len());
    assert_eq!(whole.len(), 76);
    let mut max = 0f32;
    for (a, b) in whole.iter().zip(&chunked) {
        for (p, q) in a.points.iter().flatten().zip(b.points.iter().flatten()) {
            max = max.max((p - q).abs());
        }
        assert_eq!(a.flags, b.flags);
    }
    assert!(max < 1e-5, "chunked differs from whole by {max}");
    // The model does move the points with the audio (the test is not vacuous).
    let spread = whole
        .iter()
        .map(|f| f.points[66][1])
        .fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    assert!(spread.1 - spread.0 > 1e-4);
}

/// One buffer of 20 s of audio (500 frames) gives the same landmarks as 10 ms buffers: the element
/// runs it in pieces of at most 100 frames (the bound of its TensorRT profile), the recurrent
/// state carried from piece to piece. The pieces are seen in the element's debug log.
#[test]
fn a_huge_buffer_is_run_in_pieces_with_the_same_landmarks() {
    init();
    let runs = std::sync::Arc::new(std::sync::Mutex::new(Vec::<usize>::new()));
    let r2 = runs.clone();
    // This test binary's own log function only (the other tests' lines are not printed).
    gst::log::remove_default_log_function();
    gst::log::set_threshold_for_name("audio2landmarks", gst::DebugLevel::Debug);
    gst::log::add_log_function(move |cat, _level, _file, _func, _line, _obj, msg| {
        if cat.name() != "audio2landmarks" {
            return;
        }
        let n = msg.get().and_then(|m| {
            m.strip_prefix("model run of ")
                .and_then(|r| r.strip_suffix(" frames"))
                .and_then(|n| n.parse().ok())
        });
        if let Some(n) = n {
            r2.lock().unwrap().push(n);
        }
    });
    let sig = speechish(20 * RATE as usize, RATE);
    let whole = frames(&run_chunked("a2l_test.onnx", &sig, &[sig.len()]));
    let seen = runs.lock().unwrap().clone();
    assert!(!seen.is_empty(), "no run was logged");
    assert!(
        seen.iter().all(|&n| n <= 100),
        "a run of more than 100 frames: {seen:?}"
    );
    assert!(
        seen.contains(&100),
        "the 500 frames were not run in pieces of 100: {seen:?}"
    );
    let small = frames(&run_chunked("a2l_test.onnx", &sig, &[160]));
    assert_eq!(whole.len(), 500);
    assert_eq!(whole.len(), small.len());
    let mut max = 0f32;
    for (a, b) in whole.iter().zip(&small) {
        for (p, q) in a.points.iter().flatten().zip(b.points.iter().flatten()) {
            max = max.max((p - q).abs());
        }
        assert_eq!(a.flags, b.flags);
    }
    assert!(
        max < 1e-5,
        "one 20 s buffer differs from 10 ms buffers by {max}"
    );
}

#[test]
fn flush_resets_state() {
    let sig = speechish(16000, RATE);
    let fresh = frames(&run_chunked("a2l_test.onnx", &sig, &[1600]));

    let e = element("a2l_test.onnx");
    let mut h = harness_for(&e);
    // Some other audio first, then a flushing seek's FLUSH_START/STOP and a new segment.
    let other = speechish(8000, 11025);
    h.push(f32_buffer(&other, Some(gst::ClockTime::ZERO)))
        .unwrap();
    let before = pull_all(&mut h);
    assert!(!before.is_empty());
    assert!(h.push_event(gst::event::FlushStart::new()));
    assert!(h.push_event(gst::event::FlushStop::new(true)));
    let mut seg = gst::FormattedSegment::<gst::ClockTime>::new();
    seg.set_start(gst::ClockTime::from_seconds(5));
    assert!(h.push_event(gst::event::Segment::new(&seg)));
    let t5 = gst::ClockTime::from_seconds(5);
    for (i, c) in sig.chunks(1600).enumerate() {
        let pts = t5 + gst::ClockTime::from_mseconds(100 * i as u64);
        h.push(f32_buffer(c, Some(pts))).unwrap();
    }
    assert!(h.push_event(gst::event::Eos::new()));
    let after = pull_all(&mut h);
    assert_eq!(after.len(), 25);
    assert_eq!(after[0].pts(), Some(t5));
    assert_eq!(after[24].pts(), Some(t5 + expected_pts(24)));
    let after = frames(&after);
    for (a, b) in after.iter().zip(&fresh) {
        for (p, q) in a.points.iter().flatten().zip(b.points.iter().flatten()) {
            assert!((p - q).abs() < 1e-5, "state was not reset by the flush");
        }
    }
}

#[test]
fn gaps_are_filled_on_the_grid() {
    let e = element("a2l_test.onnx");
    let mut h = harness_for(&e);
    let sig = speechish(16000, RATE);
    h.push(f32_buffer(&sig, Some(gst::ClockTime::ZERO)))
        .unwrap();
    // 0.5 s missing, then another second.
    h.push(f32_buffer(&sig, Some(gst::ClockTime::from_mseconds(1500))))
        .unwrap();
    assert!(h.push_event(gst::event::Eos::new()));
    let bufs = pull_all(&mut h);
    assert_eq!(bufs.len(), 63);
    for (n, b) in bufs.iter().enumerate() {
        assert_eq!(b.pts(), Some(expected_pts(n as u64)));
    }
}

#[test]
fn gap_event_gives_frames() {
    let e = element("a2l_test.onnx");
    let mut h = harness_for(&e);
    assert!(h.push_event(
        gst::event::Gap::builder(gst::ClockTime::ZERO)
            .duration(gst::ClockTime::from_seconds(1))
            .build()
    ));
    assert!(h.push_event(gst::event::Eos::new()));
    let bufs = pull_all(&mut h);
    assert_eq!(bufs.len(), 25);
    assert_eq!(bufs[24].pts(), Some(expected_pts(24)));
}

#[test]
fn no_drift_after_an_hour() {
    let e = element("a2l_lookahead0.onnx");
    let mut h = harness_for(&e);
    let chunk = vec![0f32; 16000 * 10];
    let mut last = None;
    let mut count = 0u64;
    for i in 0..360u64 {
        h.push(f32_buffer(
            &chunk,
            Some(gst::ClockTime::from_seconds(10 * i)),
        ))
        .unwrap();
        while let Some(b) = h.try_pull() {
            last = b.pts();
            count += 1;
        }
    }
    assert!(h.push_event(gst::event::Eos::new()));
    while let Some(b) = h.try_pull() {
        last = b.pts();
        count += 1;
    }
    assert_eq!(count, 90_000);
    assert_eq!(last, Some(gst::ClockTime::from_mseconds(3_599_960)));
}

#[test]
fn latency_query_adds_window_and_lookahead() {
    let e = element("a2l_test.onnx");
    let mut h = harness_for(&e);
    h.set_upstream_latency(gst::ClockTime::from_mseconds(20));
    // hop 640 + window reach 192 + lookahead 2 x 640 = 2112 samples = 132 ms.
    assert_eq!(
        h.query_latency(),
        Some(gst::ClockTime::from_mseconds(20 + 132))
    );
    assert_eq!(e.property::<u64>("latency"), 132_000_000);
    let e0 = element("a2l_lookahead0.onnx");
    let mut h0 = harness_for(&e0);
    h0.set_upstream_latency(gst::ClockTime::ZERO);
    assert_eq!(h0.query_latency(), Some(gst::ClockTime::from_mseconds(52)));
}

#[test]
fn live_pipeline() {
    init();
    let pipeline = launch(&format!(
        "audiotestsrc is-live=true wave=ticks num-buffers=30 samplesperbuffer=441 ! \
         audio/x-raw,rate=44100 ! audioconvert ! audioresample ! \
         audio2landmarks model={} ! appsink name=sink sync=true",
        model("a2l_test.onnx")
    ));
    let sink = appsink(&pipeline, "sink");
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut pts = Vec::new();
    while let Ok(s) = sink.pull_sample() {
        pts.push(s.buffer().unwrap().pts().unwrap());
    }
    let mut q = gst::query::Latency::new();
    let _ = pipeline.query(&mut q);
    pipeline.set_state(gst::State::Null).unwrap();
    // 30 x 10 ms = 0.3 s: 8 frames (ceil(4800 / 640)), on the 40 ms grid from the first buffer.
    assert_eq!(pts.len(), 8, "{pts:?}");
    for w in pts.windows(2) {
        assert_eq!(w[1] - w[0], FRAME);
    }
}

fn live_latency(middle: &str) -> gst::ClockTime {
    init();
    let pipeline = gst::parse::launch(&format!(
        "audiotestsrc is-live=true samplesperbuffer=640 ! audio/x-raw,rate=16000 ! {middle} ! fakesink sync=true"
    ))
    .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let _ = pipeline.state(gst::ClockTime::from_seconds(5));
    let mut q = gst::query::Latency::new();
    assert!(pipeline.query(&mut q));
    let (live, min, _max) = q.result();
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(live);
    min
}

#[test]
fn live_latency_is_reported() {
    let base = live_latency("identity");
    let ours = live_latency(&format!("audio2landmarks model={}", model("a2l_test.onnx")));
    // The element adds its algorithmic latency (132 ms) to upstream's.
    assert_eq!(ours - base, gst::ClockTime::from_mseconds(132));
}

#[test]
fn file_pipeline_with_decodebin() {
    let dir = std::env::temp_dir().join(format!("a2l-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("tone.wav");
    run_pipeline(&format!(
        "audiotestsrc num-buffers=10 samplesperbuffer=4800 ! audio/x-raw,rate=48000,channels=2 ! wavenc ! filesink location={}",
        wav.display()
    ))
    .unwrap();
    let out = dir.join("lm.bin");
    run_pipeline(&format!(
        "filesrc location={} ! decodebin ! audioconvert ! audioresample ! audio2landmarks model={} ! filesink location={}",
        wav.display(),
        model("a2l_test.onnx"),
        out.display()
    ))
    .unwrap();
    // A file written by filesink is a plain array of records: 1 s = 25 frames.
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes.len(), 25 * landmarks::RECORD_SIZE);
    for rec in bytes.chunks(landmarks::RECORD_SIZE) {
        LandmarkFrame::from_bytes(rec).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn expressiveness_zero_gives_the_mean_face() {
    let e = element("a2l_test.onnx");
    e.set_property("expressiveness", 0.0f64);
    let mut h = harness_for(&e);
    h.push(f32_buffer(
        &speechish(8000, RATE),
        Some(gst::ClockTime::ZERO),
    ))
    .unwrap();
    assert!(h.push_event(gst::event::Eos::new()));
    let fr = frames(&pull_all(&mut h));
    assert_eq!(fr.len(), 13);
    let mean = landmarks::mean_face();
    for f in fr {
        assert_eq!(&f.points, mean);
    }
}

#[test]
fn blinks_and_head_motion_by_default() {
    init();
    let e = gst::ElementFactory::make("audio2landmarks")
        .property("model", model("a2l_test.onnx"))
        .build()
        .unwrap();
    let mut h = harness_for(&e);
    let sig = speechish(16000 * 12, RATE);
    for c in sig.chunks(16000) {
        h.push(f32_buffer(c, None)).unwrap();
    }
    assert!(h.push_event(gst::event::Eos::new()));
    let fr = frames(&pull_all(&mut h));
    assert_eq!(fr.len(), 300);
    let blink_frames = fr
        .iter()
        .filter(|f| f.flags & landmarks::FLAG_BLINK != 0)
        .count();
    assert!(blink_frames >= 6, "{blink_frames} blink frames in 12 s");
    let yaw: Vec<f32> = fr.iter().map(|f| f.pose[1]).collect();
    let (lo, hi) = yaw
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    assert!(hi - lo > 0.005, "head is frozen");
}

#[test]
fn nan_and_empty_buffers() {
    let e = element("a2l_test.onnx");
    let mut h = harness_for(&e);
    let bus = gst::Bus::new();
    e.set_bus(Some(&bus));
    h.push(f32_buffer(&[], Some(gst::ClockTime::ZERO))).unwrap();
    let mut sig = speechish(16000, RATE);
    sig[100] = f32::NAN;
    sig[5000] = f32::INFINITY;
    h.push(f32_buffer(&sig, Some(gst::ClockTime::ZERO)))
        .unwrap();
    assert!(h.push_event(gst::event::Eos::new()));
    let fr = frames(&pull_all(&mut h));
    assert_eq!(fr.len(), 25);
    let warning = bus
        .iter()
        .find(|m| matches!(m.view(), gst::MessageView::Warning(_)))
        .expect("a warning about the non-finite samples");
    if let gst::MessageView::Warning(w) = warning.view() {
        assert!(w.error().to_string().contains("NaN"), "{}", w.error());
    }
}

fn start_error(props: &str) -> String {
    let r = run_pipeline(&format!(
        "audiotestsrc num-buffers=5 ! audioconvert ! audioresample ! audio2landmarks {props} ! fakesink"
    ));
    r.expect_err("the pipeline should fail")
}

#[test]
fn bad_models_are_refused_with_a_clear_message() {
    let cases = [
        ("model=/nonexistent/model.onnx", "does not exist"),
        (
            &format!("model={}", model("not_a_model.onnx")) as &str,
            "Protobuf parsing failed",
        ),
        (
            &format!("model={}", model("bad_input_name.onnx")),
            "no input named \"features\"",
        ),
        (
            &format!("model={}", model("bad_missing_key.onnx")),
            "talkingface.hop_length",
        ),
        (
            &format!("model={}", model("bad_kind.onnx")),
            "landmarks2face",
        ),
        (
            &format!("model={}", model("bad_feature_size.onnx")),
            "takes 96 values per frame",
        ),
        (&format!("model={}", model("bad_state.onnx")), "state_out.h"),
    ];
    for (props, needle) in cases {
        let msg = start_error(props);
        assert!(msg.contains(needle), "{props}: {msg}");
    }
}

#[test]
fn strict_provider_that_is_unavailable() {
    // The CPU build of ONNX Runtime has neither; on a GPU machine with onnxruntime-gpu this test
    // is skipped for the provider that works.
    for p in ["tensorrt", "cuda"] {
        let r = run_pipeline(&format!(
            "audiotestsrc num-buffers=5 ! audioconvert ! audioresample ! \
             audio2landmarks execution-provider={p} model={} ! fakesink",
            model("a2l_test.onnx")
        ));
        if let Err(msg) = r {
            assert!(msg.contains(p), "{msg}");
        }
    }
}

#[test]
fn provider_is_posted_and_readable() {
    init();
    let pipeline = launch(&format!(
        "audiotestsrc num-buffers=5 ! audioconvert ! audioresample ! audio2landmarks name=a execution-provider=cpu model={} ! fakesink",
        model("a2l_test.onnx")
    ));
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut posted = Vec::new();
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(30)) {
        match msg.view() {
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure() {
                    if s.name() == "talkingface-execution-provider" {
                        posted.push(s.get::<String>("provider").unwrap());
                    }
                }
            }
            gst::MessageView::Eos(_) | gst::MessageView::Error(_) => break,
            _ => {}
        }
    }
    let a = pipeline.by_name("a").unwrap();
    assert_eq!(
        a.property::<Option<String>>("provider").as_deref(),
        Some("cpu")
    );
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(posted, vec!["cpu".to_string()]);
}

/// Under `auto` on this machine (the CPU build of ONNX Runtime, which has neither GPU provider)
/// the model opens on the CPU at start with nothing loading in the background: one provider
/// message, `cpu`, naming why TensorRT and CUDA are not used; the state change is as fast as
/// before.
#[test]
fn auto_on_the_cpu_build_starts_on_the_cpu_with_nothing_in_the_background() {
    init();
    let pipeline = launch(&format!(
        "audiotestsrc num-buffers=5 ! audioconvert ! audioresample ! audio2landmarks name=a model={} ! fakesink",
        model("a2l_test.onnx")
    ));
    let bus = pipeline.bus().unwrap();
    let t0 = std::time::Instant::now();
    pipeline.set_state(gst::State::Ready).unwrap();
    let ready_in = t0.elapsed();
    let a = pipeline.by_name("a").unwrap();
    assert_eq!(
        a.property::<Option<String>>("provider").as_deref(),
        Some("cpu")
    );
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut posted = Vec::new();
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(30)) {
        match msg.view() {
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure() {
                    if s.name() == "talkingface-execution-provider" {
                        posted.push(s.to_owned());
                    }
                }
            }
            gst::MessageView::Eos(_) | gst::MessageView::Error(_) => break,
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(ready_in < std::time::Duration::from_secs(5), "{ready_in:?}");
    let failed = posted
        .first()
        .and_then(|s| s.get::<String>("failed").ok())
        .unwrap_or_default();
    if !failed.contains("no TensorRT execution provider") {
        eprintln!("note: this ONNX Runtime has TensorRT ({failed}); skipping");
        return;
    }
    assert_eq!(posted.len(), 1, "{posted:?}");
    let s = &posted[0];
    assert_eq!(s.get::<String>("provider").unwrap(), "cpu");
    assert_eq!(s.get::<String>("loading").unwrap(), "");
    assert!(failed.contains("tensorrt unavailable"), "{failed}");
    assert!(failed.contains("cuda unavailable"), "{failed}");
}

#[test]
fn wrong_rate_caps_are_refused() {
    let e = element("a2l_test.onnx");
    let mut h = gst_check::Harness::with_element(&e, Some("sink"), Some("src"));
    h.play();
    let caps = gst::Caps::builder("audio/x-raw")
        .field("format", "F32LE")
        .field("layout", "interleaved")
        .field("channels", 1)
        .field("rate", 44100)
        .build();
    // The caps query answers the model's rate only, so the harness cannot even set 44.1 kHz caps.
    let q = e.static_pad("sink").unwrap().query_caps(None);
    assert!(!q.can_intersect(&caps));
    let ok = e.static_pad("sink").unwrap().query_accept_caps(&caps);
    assert!(!ok);
}

/// Landmark frames from `audiotestsrc` in `format`, converted by audioconvert where needed.
fn frames_from_format(format: &str) -> Vec<LandmarkFrame> {
    init();
    let p = launch(&format!(
        "audiotestsrc wave=sine freq=220 num-buffers=10 samplesperbuffer=1600 ! \
         audio/x-raw,format={format},rate=16000,channels=1 ! audioconvert ! \
         audio2landmarks model={} blinks=false head-motion=0 threads=1 ! \
         appsink name=sink sync=false",
        model("a2l_test.onnx")
    ));
    let sink = appsink(&p, "sink");
    p.set_state(gst::State::Playing).unwrap();
    let mut bufs = Vec::new();
    while let Ok(s) = sink.pull_sample() {
        bufs.push(s.buffer_owned().unwrap());
    }
    p.set_state(gst::State::Null).unwrap();
    frames(&bufs)
}

/// Samples are read as little-endian, so the caps say F32LE on every host (plain F32 is the host's
/// order); big-endian input is converted upstream and gives the same landmarks.
#[test]
fn caps_say_f32le_and_big_endian_input_gives_the_same_frames() {
    let e = element("a2l_test.onnx");
    let format = |caps: &gst::Caps| {
        caps.structure(0)
            .and_then(|s| s.get::<String>("format").ok())
            .unwrap_or_default()
    };
    let tmpl = e.pad_template("sink").unwrap().caps().clone();
    assert_eq!(format(&tmpl), "F32LE", "{tmpl}");
    e.set_state(gst::State::Ready).unwrap();
    let q = e.static_pad("sink").unwrap().query_caps(None);
    e.set_state(gst::State::Null).unwrap();
    assert_eq!(format(&q), "F32LE", "{q}");
    let le = frames_from_format("F32LE");
    let be = frames_from_format("F32BE");
    assert_eq!(le.len(), 25);
    assert_eq!(le, be);
}

/// A model that fits the contract but fails in ONNX Runtime on every run: a stream error that
/// names the model and ONNX Runtime's message, and FlowError::Error.
#[test]
fn inference_failure_is_a_stream_error_naming_the_model() {
    let e = element("a2l_fails_at_run_time.onnx");
    let bus = gst::Bus::new();
    e.set_bus(Some(&bus));
    let mut h = harness_for(&e);
    let r = h.push(f32_buffer(
        &speechish(RATE as usize, RATE),
        Some(gst::ClockTime::ZERO),
    ));
    assert_eq!(r, Err(gst::FlowError::Error));
    let err = bus
        .iter()
        .find(|m| matches!(m.view(), gst::MessageView::Error(_)))
        .expect("an error message");
    let gst::MessageView::Error(err) = err.view() else {
        unreachable!()
    };
    assert!(
        err.error().matches(gst::StreamError::Failed),
        "{}",
        err.error()
    );
    let text = err.error().to_string();
    assert!(
        text.contains(&model("a2l_fails_at_run_time.onnx")),
        "{text}"
    );
    assert!(
        text.contains("ONNX Runtime failed to run the model"),
        "{text}"
    );
}

/// `low-latency` selects the shipped low-latency model where `model` is not set: at most one
/// frame of lookahead, so at most 40 + 12 + 40 ms of algorithmic latency (the default model: 172).
#[test]
fn low_latency_selects_the_low_latency_model() {
    init();
    let e = gst::ElementFactory::make("audio2landmarks")
        .property("low-latency", true)
        .property("blinks", false)
        .build()
        .expect("audio2landmarks");
    let m = e.property::<String>("model");
    assert!(m.ends_with("audio2landmarks_lowlatency.onnx"), "{m}");
    assert!(std::path::Path::new(&m).is_file(), "{m} is not there");
    let mut h = harness_for(&e);
    h.set_upstream_latency(gst::ClockTime::ZERO);
    let l = h.query_latency().expect("latency");
    assert!(l <= gst::ClockTime::from_mseconds(92), "{l}");
    // The default model when low-latency is off, and a model that is set wins over low-latency.
    let d = gst::ElementFactory::make("audio2landmarks")
        .build()
        .unwrap();
    assert!(d
        .property::<String>("model")
        .ends_with("audio2landmarks.onnx"));
    let set = element("a2l_test.onnx");
    set.set_property("low-latency", true);
    assert!(set.property::<String>("model").ends_with("a2l_test.onnx"));
    let mut hd = harness_for(&d);
    hd.set_upstream_latency(gst::ClockTime::ZERO);
    let ld = hd.query_latency().expect("latency");
    assert!(l < ld, "{l} vs {ld}");
}

/// fp16 TensorRT engines are off by default for the speech model (a recurrent state would
/// accumulate half-precision rounding) and on for the generator.
#[test]
fn tensorrt_fp16_is_off_by_default_for_the_recurrent_model() {
    init();
    let a = gst::ElementFactory::make("audio2landmarks")
        .build()
        .unwrap();
    assert!(!a.property::<bool>("tensorrt-fp16"));
    let spec = a.find_property("tensorrt-fp16").unwrap();
    assert!(!spec.default_value().get::<bool>().unwrap());
    let l = gst::ElementFactory::make("landmarks2face").build().unwrap();
    assert!(l.property::<bool>("tensorrt-fp16"));
}

/// `model` is changeable in READY (mutable_ready): a model set there is the one that runs.
#[test]
fn model_changed_in_ready_is_the_one_that_runs() {
    let e = element("a2l_test.onnx");
    e.set_state(gst::State::Ready).unwrap();
    assert_eq!(e.property::<u64>("latency"), 132_000_000);
    e.set_property("model", model("a2l_lookahead0.onnx"));
    let mut h = harness_for(&e);
    h.set_upstream_latency(gst::ClockTime::ZERO);
    // lookahead 0: hop 640 + window reach 192 samples = 52 ms.
    assert_eq!(h.query_latency(), Some(gst::ClockTime::from_mseconds(52)));
    assert_eq!(e.property::<u64>("latency"), 52_000_000);
}
