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

// ---- Bad inputs of every kind, made by scripts/make-bad-inputs.sh -----------------------------

/// How long a pipeline fed a bad input may take to end (error or EOS) before it counts as a hang.
const INPUT_BOUND: Duration = Duration::from_secs(20);
const PORTRAIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/media/portrait.jpg");
const LANDMARK_CAPS: &str = "application/x-face-landmarks,layout=ibug68,framerate=25/1";

/// A folder of bad inputs written by the repository's script; removed when dropped.
struct BadInputs(std::path::PathBuf);

impl BadInputs {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tf-bad-{}-{tag}", std::process::id()));
        let st = std::process::Command::new("bash")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scripts/make-bad-inputs.sh"
            ))
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("bash");
        assert!(st.success(), "scripts/make-bad-inputs.sh failed: {st}");
        BadInputs(dir)
    }

    fn path(&self, name: &str) -> String {
        let p = self.0.join(name);
        assert!(p.exists(), "the script did not write {name}");
        p.to_string_lossy().to_string()
    }
}

impl Drop for BadInputs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a pipeline did with a bad input: the first error (element name, text), the warnings,
/// buffers that reached the sink named `out`, whether it ended (EOS or error) within the bound.
#[derive(Debug)]
struct Observed {
    error: Option<(String, String)>,
    warnings: Vec<String>,
    buffers: Vec<gst::Buffer>,
    eos: bool,
}

/// Plays `desc` (with a sink named `out`) until EOS or the first error, within [`INPUT_BOUND`],
/// then sets NULL, within [`BOUND`]; fails the test on a hang.
fn observe(desc: &str) -> Observed {
    init();
    let p = launch(desc);
    let bufs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let out = p.by_name("out").expect("a sink named out");
    let b2 = bufs.clone();
    out.static_pad("sink").unwrap().add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
        move |_, info| {
            match &info.data {
                Some(gst::PadProbeData::Buffer(b)) => b2.lock().unwrap().push(b.clone()),
                Some(gst::PadProbeData::BufferList(l)) => b2.lock().unwrap().extend(l.iter_owned()),
                _ => {}
            }
            gst::PadProbeReturn::Ok
        },
    );
    let bus = p.bus().unwrap();
    let _ = p.set_state(gst::State::Playing);
    let start = std::time::Instant::now();
    let mut obs = Observed {
        error: None,
        warnings: Vec::new(),
        buffers: Vec::new(),
        eos: false,
    };
    loop {
        let left = INPUT_BOUND.saturating_sub(start.elapsed());
        assert!(
            !left.is_zero(),
            "{desc}: neither EOS nor error within {INPUT_BOUND:?} (hang)"
        );
        let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_nseconds(left.as_nanos() as u64),
            &[
                gst::MessageType::Error,
                gst::MessageType::Warning,
                gst::MessageType::Eos,
            ],
        ) else {
            continue;
        };
        let from = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
        match msg.view() {
            gst::MessageView::Error(e) => {
                obs.error = Some((from, e.error().to_string()));
                break;
            }
            gst::MessageView::Warning(w) => obs.warnings.push(w.error().to_string()),
            gst::MessageView::Eos(_) => {
                obs.eos = true;
                break;
            }
            _ => {}
        }
    }
    let p2 = p.clone();
    let r = bounded(&format!("{desc}: set_state(NULL)"), move || {
        p2.set_state(gst::State::Null)
    });
    assert!(r.is_ok(), "{desc}: {r:?}");
    assert_eq!(p.current_state(), gst::State::Null, "{desc}");
    obs.buffers = std::mem::take(&mut *bufs.lock().unwrap());
    obs
}

/// The input must end in an error from `element` whose text contains every one of `words`.
fn expect_error(desc: &str, element: &str, words: &[&str]) -> String {
    let o = observe(desc);
    let Some((from, text)) = &o.error else {
        panic!(
            "{desc}: no error ({} buffers, eos {})",
            o.buffers.len(),
            o.eos
        );
    };
    assert!(
        from.starts_with(element),
        "{desc}: error from {from}: {text}"
    );
    for w in words {
        assert!(text.contains(w), "{desc}: error lacks {w:?}: {text}");
    }
    text.clone()
}

/// Every broken model, into every element and every model property: an error that names the
/// file and what is wrong with it, before any buffer flows.
#[test]
fn bad_models_fail_naming_file_and_cause() {
    let bad = BadInputs::new("models");
    let a2l_src = "audiotestsrc num-buffers=20 ! audioconvert ! audioresample";
    let video = format!(
        "filesrc location={PORTRAIT} ! jpegdec ! videoconvert ! imagefreeze num-buffers=5 ! videoconvert"
    );
    // (element, property, pipeline with {} for the property, what the element needs)
    let slots: Vec<(&str, &str, String, &str)> = vec![
        (
            "audio2landmarks",
            "model",
            format!("{a2l_src} ! audio2landmarks model={{}} ! fakesink name=out"),
            "audio2landmarks",
        ),
        (
            "landmarks2face",
            "model",
            format!("{a2l_src} ! audio2landmarks ! landmarks2face model={{}} portrait={PORTRAIT} ! fakesink name=out"),
            "landmarks2face",
        ),
        (
            "landmarks2face",
            "face-model",
            format!("{a2l_src} ! audio2landmarks ! landmarks2face face-model={{}} portrait={PORTRAIT} ! fakesink name=out"),
            "face_landmarks",
        ),
        (
            "landmarks2face",
            "face-detector-model",
            format!("{a2l_src} ! audio2landmarks ! landmarks2face face-detector-model={{}} portrait={PORTRAIT} ! fakesink name=out"),
            "face_detector",
        ),
        (
            "facelandmarks",
            "model",
            format!("{video} ! facelandmarks model={{}} ! fakesink name=out"),
            "face_landmarks",
        ),
        (
            "facelandmarks",
            "detector-model",
            format!("{video} ! facelandmarks detector-model={{}} ! fakesink name=out"),
            "face_detector",
        ),
    ];
    for (element, prop, template, needs) in &slots {
        for (file, cause) in [
            ("model_empty.onnx", "the file is empty"),
            ("model_random.onnx", "Protobuf parsing failed"),
            ("model_text.onnx", "Protobuf parsing failed"),
            ("model_truncated.onnx", "(truncated?)"),
            ("model_wrong_kind_l2f.onnx", "of kind \"landmarks2face\""),
            (
                "model_wrong_kind_detector.onnx",
                "of kind \"face_detector\"",
            ),
        ] {
            // A model of the very kind the slot needs is not a wrong kind there.
            if file.contains("wrong_kind") && cause.contains(needs) {
                continue;
            }
            let path = bad.path(file);
            let desc = template.replace("{}", &path);
            let text = expect_error(&desc, element, &[&path, cause]);
            if file.contains("wrong_kind") {
                assert!(
                    text.contains(&format!("needs \"{needs}\"")),
                    "{prop}: {text}"
                );
            }
            for p in ["tensorrt", "cuda"] {
                assert!(
                    !text.contains(p),
                    "{prop}: provider failures listed: {text}"
                );
            }
        }
    }
}

/// Bad audio: a WAV with a corrupt header ends in wavparse's error (with or without decodebin);
/// silence and 8 kHz stereo (converted) give one frame per 40 ms; 8 kHz stereo straight into
/// audio2landmarks is refused at negotiation; NaN and infinite samples give one warning and
/// the frames; raw samples in a byte segment (no parser) are refused naming the segment format.
#[test]
fn bad_audio_ends_in_an_error_or_its_documented_handling() {
    let bad = BadInputs::new("audio");
    let conv = "audioconvert ! audioresample ! audio2landmarks";
    let wav = bad.path("audio_corrupt_header.wav");
    for parse in ["decodebin", "wavparse"] {
        for _ in 0..5 {
            let o = observe(&format!(
                "filesrc location={wav} ! {parse} ! {conv} ! fakesink name=out"
            ));
            let (from, text) = o.error.expect("an error for a corrupt WAV header");
            // wavparse's error; in decodebin, decodebin's own ("all streams without buffers")
            // may reach the bus first.
            assert!(
                (from.starts_with("wavparse") && text.contains("different type"))
                    || (parse == "decodebin" && from.starts_with("decodebin")),
                "{from}: {text}"
            );
            assert!(o.buffers.is_empty());
        }
    }
    // 2 s of audio: 50 frames at 25 fps, stamped 40 ms apart from 0.
    for (file, parse) in [
        ("audio_silence.wav", "decodebin ! "),
        ("audio_8k_stereo.wav", "decodebin ! "),
        (
            "audio_nan.f32",
            "rawaudioparse format=pcm pcm-format=f32le sample-rate=16000 num-channels=1 ! ",
        ),
    ] {
        let desc = format!(
            "filesrc location={} ! {parse}{conv} ! fakesink name=out",
            bad.path(file)
        );
        let o = observe(&desc);
        assert!(o.eos && o.error.is_none(), "{file}: {o:?}");
        assert_eq!(o.buffers.len(), 50, "{file}");
        for (n, b) in o.buffers.iter().enumerate() {
            assert_eq!(b.pts(), Some(gst::ClockTime::from_mseconds(40 * n as u64)));
        }
        let f = frames(&o.buffers);
        assert!(f.iter().all(|f| f.validate().is_ok()));
        if file.ends_with(".f32") {
            assert_eq!(o.warnings.len(), 1, "{:?}", o.warnings);
            assert!(o.warnings[0].contains("NaN or infinite samples"));
            assert!(o.warnings[0].contains("replaced by silence"));
        } else {
            assert!(o.warnings.is_empty(), "{file}: {:?}", o.warnings);
        }
        if file == "audio_silence.wav" {
            assert!(f
                .iter()
                .all(|f| f.flags & gsttalkingface::landmarks::FLAG_SPEECH == 0));
        }
    }
    // Not the model's rate or channels, no converter: negotiation fails at the parser.
    let o = observe(&format!(
        "filesrc location={} ! wavparse ! audio2landmarks ! fakesink name=out",
        bad.path("audio_8k_stereo.wav")
    ));
    let (from, text) = o.error.expect("8 kHz stereo into audio2landmarks");
    assert!(from.starts_with("wavparse"), "{from}: {text}");
    assert!(o.buffers.is_empty());
    // Raw samples straight from filesrc: a segment in bytes, which audio2landmarks refuses.
    expect_error(
        &format!(
            "filesrc location={} ! audio/x-raw,format=F32LE,layout=interleaved,rate=16000,channels=1 ! \
             audio2landmarks ! fakesink name=out",
            bad.path("audio_nan.f32")
        ),
        "audio2landmarks",
        &["only TIME segments are supported", "Bytes"],
    );
}

/// Bad landmark record files into both consumers: the bad record's field and value are named
/// (NaN, 3e38, undefined flag bits) and no frame after it is produced; a cut last record is
/// dropped with a warning and the whole records before it all come out.
#[test]
fn bad_landmark_files_end_in_an_error_naming_the_field() {
    let bad = BadInputs::new("landmarks");
    for consumer in [
        "landmarksrender".to_string(),
        format!("landmarks2face portrait={PORTRAIT}"),
    ] {
        let element = consumer.split(' ').next().unwrap();
        for (file, cause) in [
            ("landmarks_nan.bin", "non-finite point"),
            ("landmarks_absurd.bin", "pose tx = 3e38, outside its range"),
            ("landmarks_flags.bin", "undefined bits 0x00000080"),
        ] {
            let desc = format!(
                "filesrc location={} ! {LANDMARK_CAPS} ! {consumer} ! fakesink name=out",
                bad.path(file)
            );
            let o = observe(&desc);
            let (from, text) = o.error.unwrap_or_else(|| panic!("{desc}: no error"));
            assert!(from.starts_with(element), "{from}: {text}");
            assert!(text.contains(cause), "{desc}: {text}");
            // Ten good records before the bad one, frames up to 360 ms at most.
            assert!(o.buffers.len() <= 10, "{desc}: {} frames", o.buffers.len());
            assert!(o
                .buffers
                .iter()
                .all(|b| b.pts().unwrap() < gst::ClockTime::from_mseconds(400)));
        }
        let desc = format!(
            "filesrc location={} ! {LANDMARK_CAPS} ! {consumer} ! fakesink name=out",
            bad.path("landmarks_truncated.bin")
        );
        let o = observe(&desc);
        assert!(o.eos && o.error.is_none(), "{desc}: {o:?}");
        assert_eq!(o.buffers.len(), 25, "{desc}");
        assert_eq!(o.warnings.len(), 1, "{:?}", o.warnings);
        assert!(
            o.warnings[0].contains("100 bytes left over"),
            "{:?}",
            o.warnings
        );
    }
}

/// Bad portraits into landmarks2face: an error naming the file and the cause before any frame.
/// Into facelandmarks (decoded by GStreamer): pictures without a face give frames of confidence 0
/// (docs/facelandmarks.md, "No face").
#[test]
fn bad_portraits_fail_naming_file_and_cause() {
    let bad = BadInputs::new("portraits");
    for (file, cause) in [
        ("portrait_not_an_image.png", "cannot decode portrait"),
        (
            "portrait_flat.png",
            "no face found in the portrait (300x300",
        ),
        (
            "portrait_truncated.jpg",
            "landmarker does not see one there",
        ),
        ("portrait_huge.png", "is too large to decode"),
        ("portrait_tiny.png", "no face found in the portrait (8x8"),
    ] {
        let path = bad.path(file);
        let desc = format!(
            "audiotestsrc num-buffers=20 ! audioconvert ! audioresample ! audio2landmarks ! \
             landmarks2face portrait={path} ! fakesink name=out"
        );
        expect_error(&desc, "landmarks2face", &[&path, cause]);
    }
    for file in ["portrait_flat.png", "portrait_tiny.png"] {
        let desc = format!(
            "filesrc location={} ! decodebin ! videoconvert ! imagefreeze num-buffers=3 ! \
             facelandmarks ! fakesink name=out",
            bad.path(file)
        );
        let o = observe(&desc);
        assert!(o.eos && o.error.is_none(), "{desc}: {o:?}");
        assert_eq!(o.buffers.len(), 3);
        assert!(frames(&o.buffers).iter().all(|f| f.confidence == 0.0));
    }
    let o = observe(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! imagefreeze num-buffers=3 ! \
         facelandmarks ! fakesink name=out",
        bad.path("portrait_not_an_image.png")
    ));
    let (from, text) = o.error.expect("text into decodebin");
    assert!(from.starts_with("decodebin"), "{from}: {text}");
}

// ---- Fuzz: record files through a real pipeline ------------------------------------------------

use proptest::prelude::*;

/// Record files of up to 12 records, each valid or with a few bytes overwritten, and a cut tail.
fn record_file() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(
            proptest::collection::vec(
                (0..gsttalkingface::landmarks::RECORD_SIZE, any::<u8>()),
                0..3,
            ),
            0..12,
        ),
        0..gsttalkingface::landmarks::RECORD_SIZE,
    )
        .prop_map(|(edits, tail)| {
            let good = LandmarkFrame::default().to_bytes();
            let mut bytes = Vec::new();
            for e in edits {
                let mut r = good;
                for (i, v) in e {
                    r[i] = v;
                }
                bytes.extend_from_slice(&r);
            }
            bytes.extend_from_slice(&good[..tail]);
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any such file into `filesrc ! landmarksrender` ends within the bound and reaches NULL:
    /// with an error naming a landmark record exactly when a whole record is invalid, after the
    /// frames of the valid records before it; else EOS with one frame per whole record and a
    /// warning exactly when bytes are left over.
    #[test]
    fn record_files_through_a_pipeline_end_as_the_parser_says(bytes in record_file()) {
        let size = gsttalkingface::landmarks::RECORD_SIZE;
        let path = std::env::temp_dir().join(format!("tf-rel-fuzz-{}.bin", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let whole = bytes.len() / size;
        let first_bad = (0..whole)
            .find(|&i| LandmarkFrame::from_bytes(&bytes[i * size..(i + 1) * size]).is_err());
        let o = observe(&format!(
            "filesrc location={} ! {LANDMARK_CAPS} ! landmarksrender ! fakesink name=out",
            path.display()
        ));
        let _ = std::fs::remove_file(&path);
        match first_bad {
            Some(i) => {
                let (from, text) = o.error.clone().expect("an error for an invalid record");
                prop_assert!(from.starts_with("landmarksrender"), "{}: {}", from, text);
                prop_assert!(text.contains("landmark record"), "{}", text);
                prop_assert_eq!(o.buffers.len(), i);
            }
            None => {
                prop_assert!(o.eos && o.error.is_none(), "{:?}", o);
                prop_assert_eq!(o.buffers.len(), whole);
                prop_assert_eq!(o.warnings.len(), usize::from(bytes.len() % size != 0));
            }
        }
    }
}
