// SPDX-License-Identifier: MIT OR Apache-2.0
//! Shutdown after errors: a pipeline whose stream breaks reaches NULL in bounded time, and no
//! element holds a lock of its own while it posts a message (a synchronous bus handler runs in
//! the posting thread and may read the element's properties).

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;
use gst::prelude::*;
use gsttalkingface::landmarks::LandmarkFrame;

/// Longest a state change to NULL or a message may take before the test calls it a hang.
const BOUND: Duration = Duration::from_secs(10);

/// Runs `f` on its own thread and fails the test if it has not returned within [`BOUND`] (a hung
/// thread is left behind; the test process still ends).
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(BOUND)
        .unwrap_or_else(|_| panic!("{what}: no return within {BOUND:?} (hang)"))
}

/// A landmark file: `good_before` valid records, one with NaN points, `good_after` valid ones.
fn broken_stream(name: &str, good_before: usize, good_after: usize) -> std::path::PathBuf {
    let good = LandmarkFrame::default().to_bytes();
    let mut bad = LandmarkFrame::default();
    bad.points[10][0] = f32::NAN;
    let mut bytes = Vec::new();
    for _ in 0..good_before {
        bytes.extend_from_slice(&good);
    }
    bytes.extend_from_slice(&bad.to_bytes());
    for _ in 0..good_after {
        bytes.extend_from_slice(&good);
    }
    let p = std::env::temp_dir().join(format!("tf-rel-{}-{name}.bin", std::process::id()));
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Plays `desc` until an error message, then sets NULL; both bounded. Returns the error text.
fn error_then_null(desc: &str) -> String {
    init();
    let p = launch(desc);
    let bus = p.bus().unwrap();
    let _ = p.set_state(gst::State::Playing);
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(BOUND.as_secs()),
            &[gst::MessageType::Error],
        )
        .unwrap_or_else(|| panic!("{desc}: no error within {BOUND:?}"));
    let gst::MessageView::Error(e) = msg.view() else {
        unreachable!()
    };
    let text = e.error().to_string();
    let p2 = p.clone();
    let r = bounded(&format!("{desc}: set_state(NULL)"), move || {
        p2.set_state(gst::State::Null)
    });
    assert!(r.is_ok(), "{desc}: {r:?}");
    assert_eq!(p.current_state(), gst::State::Null);
    text
}

/// A broken record stream before and after preroll, into each consumer: the error comes and the
/// pipeline reaches NULL within the bound, 20 times each.
#[test]
fn broken_landmark_stream_shuts_down_in_bounded_time() {
    let first = broken_stream("first", 0, 40);
    let mid = broken_stream("mid", 5, 30);
    let caps = "application/x-face-landmarks,layout=ibug68,framerate=25/1";
    let l2f = format!(
        "landmarks2face threads=1 model={}/models/landmarks2face.onnx \
         portrait=/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg",
        env!("CARGO_MANIFEST_DIR")
    );
    for i in 0..20 {
        for (file, consumer) in [
            (&first, "landmarksrender"),
            (&mid, "landmarksrender"),
            (&mid, l2f.as_str()),
        ] {
            if consumer != "landmarksrender" && i % 4 != 0 {
                // dlib's model takes a second to load: five runs of landmarks2face suffice.
                continue;
            }
            let desc = format!(
                "filesrc location={} ! {caps} ! {consumer} ! videoconvert ! fakesink sync=true",
                file.display()
            );
            let text = error_then_null(&desc);
            assert!(text.contains("non-finite point"), "run {i}: {text}");
        }
    }
    let _ = std::fs::remove_file(first);
    let _ = std::fs::remove_file(mid);
}

/// audio2landmarks posts its warning (NaN samples) and errors (a torn sample) with its state lock
/// released: a synchronous bus handler that reads its `latency` property (which takes that lock)
/// does not deadlock the streaming thread, and the pipeline reaches NULL.
#[test]
fn audio2landmarks_posts_messages_without_holding_its_lock() {
    init();
    let desc = format!(
        "appsrc name=src format=time caps=audio/x-raw,format=F32LE,layout=interleaved,channels=1,rate=16000 ! \
         audio2landmarks name=a2l threads=1 model={} ! fakesink",
        model("a2l_test.onnx")
    );
    let p = launch(&desc);
    let a2l = p.by_name("a2l").unwrap();
    let src = p
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    let bus = p.bus().unwrap();
    let (tx, rx) = mpsc::channel::<(gst::MessageType, u64)>();
    let tx = std::sync::Mutex::new(tx);
    let a2l_weak = a2l.downgrade();
    bus.set_sync_handler(move |_, msg| {
        let from_a2l = msg
            .src()
            .zip(a2l_weak.upgrade())
            .is_some_and(|(s, e)| s == e.upcast_ref::<gst::Object>());
        if from_a2l
            && matches!(
                msg.type_(),
                gst::MessageType::Warning | gst::MessageType::Error
            )
        {
            if let Some(e) = a2l_weak.upgrade() {
                let latency = e.property::<u64>("latency");
                let _ = tx.lock().unwrap().send((msg.type_(), latency));
            }
        }
        gst::BusSyncReply::Pass
    });
    p.set_state(gst::State::Playing).unwrap();
    let src2 = src.clone();
    bounded("pushing NaN samples and a torn sample", move || {
        let mut nan = vec![0.1f32; 1600];
        nan[100] = f32::NAN;
        let _ = src2.push_buffer(f32_buffer(&nan, Some(gst::ClockTime::ZERO)));
        let mut torn = gst::Buffer::from_slice(vec![0u8; 6]);
        torn.get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_mseconds(100));
        let _ = src2.push_buffer(torn);
    });
    let (kind, latency) = rx.recv_timeout(BOUND).expect("the NaN warning");
    assert_eq!(kind, gst::MessageType::Warning);
    assert!(latency > 0);
    let (kind, _) = rx.recv_timeout(BOUND).expect("the torn-sample error");
    assert_eq!(kind, gst::MessageType::Error);
    let p2 = p.clone();
    let r = bounded("set_state(NULL)", move || p2.set_state(gst::State::Null));
    assert!(r.is_ok());
    bus.unset_sync_handler();
}

/// Broken model files made in a temporary folder: empty, random bytes, text, a real model cut in
/// half. Returns (kind, path).
fn broken_models(real: &str) -> Vec<(&'static str, std::path::PathBuf)> {
    let dir = std::env::temp_dir().join(format!("tf-rel-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let real = std::fs::read(real).unwrap();
    // A fixed pseudo-random sequence (xorshift), so that the test is reproducible.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let cases: Vec<(&'static str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("random", random),
        (
            "text",
            b"this is not an ONNX model, just some text\n".to_vec(),
        ),
        ("truncated", real[..real.len() / 2].to_vec()),
    ];
    cases
        .into_iter()
        .map(|(kind, bytes)| {
            let p = dir.join(format!("{kind}.onnx"));
            std::fs::write(&p, bytes).unwrap();
            (kind, p)
        })
        .collect()
}

/// The folder [`broken_models`] writes into.
fn path_dir_of_broken_models() -> Option<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("tf-rel-models-{}", std::process::id()));
    dir.exists().then_some(dir)
}

/// The error's first clause names the file and what is wrong with it, not the provider chain.
fn check_first_clause(element: &str, kind: &str, path: &std::path::Path, msg: &str) {
    let lead = format!("{element}: model file {} ", path.display());
    assert!(msg.starts_with(&lead), "{kind}: {msg}");
    let rest = &msg[lead.len()..];
    let want = if kind == "empty" {
        "is not a valid ONNX model: the file is empty"
    } else {
        "is not a valid ONNX model: Protobuf parsing failed"
    };
    assert!(rest.starts_with(want), "{kind}: {msg}");
    for p in ["tensorrt", "cuda"] {
        assert!(!msg.contains(p), "{kind}: provider failures listed: {msg}");
    }
}

#[test]
fn broken_model_files_are_reported_by_their_cause_first() {
    let a2l = model("a2l_test.onnx");
    for (kind, path) in broken_models(&a2l) {
        let msg = run_pipeline(&format!(
            "audiotestsrc num-buffers=2 ! audioconvert ! audioresample ! \
             audio2landmarks model={} ! fakesink",
            path.display()
        ))
        .expect_err("a broken model must fail");
        check_first_clause("audio2landmarks", kind, &path, &msg);
    }
    // Well-formed protobuf whose graph (field 7) is garbage: ONNX Runtime's own verdict leads.
    let odd = std::env::temp_dir().join(format!("tf-rel-{}-odd.onnx", std::process::id()));
    std::fs::write(&odd, [0x08, 0x08, 0x3a, 0x03, 0xff, 0xff, 0xff]).unwrap();
    let msg = run_pipeline(&format!(
        "audiotestsrc num-buffers=2 ! audio2landmarks model={} ! fakesink",
        odd.display()
    ))
    .expect_err("a broken model must fail");
    let lead = format!(
        "audio2landmarks: model file {} cannot be loaded by ONNX Runtime: ",
        odd.display()
    );
    assert!(msg.starts_with(&lead), "{msg}");
    assert!(!msg.contains("cuda"), "provider failures listed: {msg}");
    let _ = std::fs::remove_file(odd);
    let l2f = format!("{}/models/landmarks2face.onnx", env!("CARGO_MANIFEST_DIR"));
    for (kind, path) in broken_models(&l2f) {
        let msg = run_pipeline(&format!(
            "audiotestsrc num-buffers=2 ! audioconvert ! audioresample ! \
             audio2landmarks model={a2l} ! landmarks2face model={} \
             portrait=/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg ! fakesink",
            path.display()
        ))
        .expect_err("a broken model must fail");
        check_first_clause("landmarks2face", kind, &path, &msg);
    }
    if let Some(dir) = path_dir_of_broken_models() {
        let _ = std::fs::remove_dir_all(dir);
    }
}
