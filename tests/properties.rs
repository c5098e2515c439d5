// SPDX-License-Identifier: MIT OR Apache-2.0
//! Property (fuzz-style) tests of the parsers that read data from outside: the landmark record and
//! the record stream, model files and their `talkingface.*` metadata, the feature front end the
//! metadata describes. Any input: no panic; what is accepted round-trips or works.

mod common;

use std::collections::BTreeMap;
use std::f32::consts::TAU;

use common::*;
use gsttalkingface::features::{FeatureConfig, FeatureExtractor};
use gsttalkingface::landmarks::{LandmarkFrame, RecordReader, N_POINTS, RECORD_SIZE};
use gsttalkingface::onnx;
use proptest::prelude::*;

/// Frames whose every value lies within the ranges the record accepts.
fn valid_frame() -> impl Strategy<Value = LandmarkFrame> {
    (
        proptest::collection::vec(-10.0f32..=10.0, 2 * N_POINTS),
        (-TAU..=TAU, -TAU..=TAU, -TAU..=TAU),
        (-10.0f32..=10.0, -10.0f32..=10.0, -5.0f32..=5.0),
        0.0f32..=1.0,
        0u32..4,
    )
        .prop_map(|(pts, (r, y, p), (tx, ty, ls), confidence, flags)| {
            let mut points = [[0f32; 2]; N_POINTS];
            for (i, q) in points.iter_mut().enumerate() {
                *q = [pts[2 * i], pts[2 * i + 1]];
            }
            LandmarkFrame {
                points,
                pose: [r, y, p, tx, ty, ls],
                confidence,
                flags,
            }
        })
}

/// Bytes near a valid record (a few bytes overwritten, perhaps cut or extended), so that both
/// acceptance and each kind of refusal are reached often.
fn near_record() -> impl Strategy<Value = Vec<u8>> {
    (
        valid_frame(),
        proptest::collection::vec((0..RECORD_SIZE, any::<u8>()), 0..4),
        prop_oneof![Just(0i32), -3i32..3],
    )
        .prop_map(|(f, edits, dlen)| {
            let mut b = f.to_bytes().to_vec();
            for (i, v) in edits {
                b[i] = v;
            }
            let n = (RECORD_SIZE as i32 + dlen) as usize;
            b.resize(n, 0);
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any bytes: no panic; an accepted record is valid and writes back to the same bytes.
    #[test]
    fn record_parser_takes_any_bytes(
        bytes in prop_oneof![proptest::collection::vec(any::<u8>(), 0..1300), near_record()]
    ) {
        if let Ok(f) = LandmarkFrame::from_bytes(&bytes) {
            prop_assert_eq!(bytes.len(), RECORD_SIZE);
            prop_assert!(f.validate().is_ok());
            prop_assert_eq!(f.to_bytes().to_vec(), bytes);
        }
    }

    /// Every valid frame round-trips through its bytes.
    #[test]
    fn valid_records_round_trip(f in valid_frame()) {
        prop_assert_eq!(LandmarkFrame::from_bytes(&f.to_bytes()), Ok(f));
    }

    /// A byte stream cut anywhere gives its whole records in order, stamped n/fps, and reports
    /// the partial one at EOS.
    #[test]
    fn record_stream_cut_anywhere(
        len in 0usize..4000,
        cuts in proptest::collection::vec(0usize..4000, 0..12),
    ) {
        init();
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c < len).collect();
        cuts.push(len);
        cuts.sort_unstable();
        let mut r = RecordReader::new();
        let caps = gsttalkingface::landmarks::caps(Some(gst::Fraction::new(25, 1)));
        let _ = r.event(gst::event::Caps::new(&caps));
        let mut got = Vec::new();
        let mut at = 0;
        for c in cuts {
            r.push(gst::Buffer::from_slice(bytes[at..c].to_vec()));
            at = c;
            while let Some(rec) = r.pop() {
                got.push(rec);
            }
        }
        prop_assert_eq!(got.len(), len / RECORD_SIZE);
        for (n, rec) in got.iter().enumerate() {
            let m = rec.map_readable().unwrap();
            prop_assert_eq!(m.as_slice(), &bytes[n * RECORD_SIZE..(n + 1) * RECORD_SIZE]);
            prop_assert_eq!(rec.pts(), Some(gst::ClockTime::from_mseconds(40 * n as u64)));
            prop_assert_eq!(rec.offset(), n as u64);
        }
        let (_, left) = r.event(gst::event::Eos::new());
        let rest = len % RECORD_SIZE;
        prop_assert_eq!(left, (rest > 0).then_some(rest));
    }

    /// Any metadata values: no panic; numbers parse as Rust parses them, blanks aside; every
    /// error names the key it is about.
    #[test]
    fn metadata_values_parse_or_name_the_key(
        entries in proptest::collection::btree_map(
            prop_oneof![
                Just("kind".to_string()), Just("version".to_string()),
                Just("description".to_string()), Just("size".to_string()),
                Just("sample_rate".to_string()), Just("fmin".to_string()),
                "[a-z_]{1,12}",
            ],
            prop_oneof![
                ".*",
                "[ ]?[-+]?[0-9]{0,12}(\\.[0-9]{0,6})?([eE][-+]?[0-9]{1,3})?[ ]?",
                Just("audio2landmarks".to_string()), Just("1".to_string()),
            ],
            0..8,
        ),
        key in prop_oneof![Just("version"), Just("size"), Just("sample_rate"), Just("fmin")],
    ) {
        let meta: BTreeMap<String, String> = entries;
        match onnx::meta_parse::<u32>(&meta, key) {
            Ok(v) => prop_assert_eq!(Some(v), meta[key].trim().parse::<u32>().ok()),
            Err(e) => prop_assert!(e.contains(key), "{}", e),
        }
        match onnx::meta_parse::<f64>(&meta, key) {
            Ok(v) => {
                let want = meta[key].trim().parse::<f64>().unwrap();
                prop_assert!(v == want || (v.is_nan() && want.is_nan()));
            }
            Err(e) => prop_assert!(e.contains(key), "{}", e),
        }
        if let Err(e) = onnx::check_kind(&meta, "audio2landmarks") {
            prop_assert!(
                ["kind", "version", "description"].iter().any(|k| e.contains(k)),
                "{}",
                e
            );
        }
    }

    /// Any front-end metadata: what validates makes a working extractor (sizes kept small; the
    /// largest allowed front end is timed by `largest_front_end_starts_quickly` in src/features.rs).
    #[test]
    fn front_end_from_any_metadata(
        sample_rate in prop_oneof![0u32..400_000, Just(16000)],
        hop in 0usize..2000,
        win in 0usize..4100,
        n_fft in 0usize..4100,
        n_mels in 0usize..300,
        // fmax and fmin as fractions of the Nyquist frequency and of fmax, a little past the
        // valid ranges on each side.
        fmax_frac in -0.1f64..1.2,
        fmin_frac in -0.1f64..1.1,
        parts in "[a-z0-9, ]{0,30}|logmel(,delta)?(,delta2)?",
        samples in 0usize..5000,
    ) {
        let Ok(parts) = FeatureConfig::parse_parts(&parts) else {
            return Ok(());
        };
        let fmax = fmax_frac * sample_rate as f64 / 2.0;
        let fmin = fmin_frac * fmax;
        let cfg = FeatureConfig {
            sample_rate,
            hop_length: hop,
            win_length: win,
            n_fft,
            n_mels,
            fmin,
            fmax,
            parts,
        };
        if cfg.validate().is_err() {
            prop_assert!(FeatureExtractor::new(cfg).is_err());
            return Ok(());
        }
        let dim = cfg.dim();
        let mut fe = FeatureExtractor::new(cfg).expect("validated");
        let mut out = Vec::new();
        let signal: Vec<f32> = (0..samples).map(|i| ((i as f32) * 0.01).sin()).collect();
        let n = fe.push(&signal, &mut out);
        let total = fe.frames_for(samples as u64);
        let n = n + fe.finish(total, &mut out);
        prop_assert_eq!(out.len(), n * dim);
        prop_assert!(out.iter().all(|v| v.is_finite()));
    }

    /// Any bytes as a model file: the cheap check never panics, and refuses what is not a
    /// ModelProto with a graph.
    #[test]
    fn model_file_check_takes_any_bytes(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..600),
            // A graph field (7) of some length, then anything.
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(|mut v| {
                v.splice(0..0, [0x3a, v.len() as u8]);
                v
            }),
        ]
    ) {
        let p = std::env::temp_dir().join(format!(
            "tf-prop-{}-{:?}.onnx",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&p, &bytes).unwrap();
        let r = onnx::check_model_file(&p);
        let _ = std::fs::remove_file(&p);
        if bytes.is_empty() {
            prop_assert!(r.as_ref().is_err_and(|e| e.contains("empty")));
        }
        if let Err(e) = r {
            prop_assert!(e.starts_with(&format!("model file {} ", p.display())), "{}", e);
        }
    }
}

/// Every shipped and test model passes the cheap check; any cut through one that falls inside its
/// graph is refused.
#[test]
fn real_models_pass_the_file_check_and_cuts_do_not() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/models");
    let mut models: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "not_a_model.onnx"))
        .collect();
    models.push(concat!(env!("CARGO_MANIFEST_DIR"), "/models/landmarks2face.onnx").into());
    models.push(concat!(env!("CARGO_MANIFEST_DIR"), "/models/audio2landmarks.onnx").into());
    let tmp = std::env::temp_dir().join(format!("tf-prop-cut-{}.onnx", std::process::id()));
    for m in models {
        onnx::check_model_file(&m).unwrap_or_else(|e| panic!("{}: {e}", m.display()));
        let bytes = std::fs::read(&m).unwrap();
        for k in 1..20 {
            let cut = bytes.len() * k / 20;
            std::fs::write(&tmp, &bytes[..cut]).unwrap();
            // A cut at a top-level field boundary after the graph is still a model; in models
            // with weights the graph is most of the file, so the cuts below fall inside it (in
            // the tiny ones, metadata is a large share: those cuts are only run).
            if k < 15 && bytes.len() > 10_000 {
                assert!(
                    onnx::check_model_file(&tmp).is_err(),
                    "{} cut at {cut} of {} passes",
                    m.display(),
                    bytes.len()
                );
            } else {
                let _ = onnx::check_model_file(&tmp);
            }
        }
    }
    let _ = std::fs::remove_file(tmp);
}
