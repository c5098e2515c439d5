// SPDX-License-Identifier: MIT OR Apache-2.0
//! The Rust front end against the training kit's numpy front end (shared reference values made by
//! training/make_reference_features.py).

use gsttalkingface::features::{FeatureConfig, FeatureExtractor};

#[test]
fn matches_training_kit_reference() {
    let text = include_str!("data/features_reference.json");
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let m = &v["meta"];
    let cfg = FeatureConfig {
        sample_rate: m["sample_rate"].as_u64().unwrap() as u32,
        hop_length: m["hop_length"].as_u64().unwrap() as usize,
        win_length: m["win_length"].as_u64().unwrap() as usize,
        n_fft: m["n_fft"].as_u64().unwrap() as usize,
        n_mels: m["n_mels"].as_u64().unwrap() as usize,
        fmin: m["fmin"].as_f64().unwrap(),
        fmax: m["fmax"].as_f64().unwrap(),
        parts: FeatureConfig::parse_parts(m["features"].as_str().unwrap()).unwrap(),
    };
    let signal: Vec<f32> = v["signal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    let reference: Vec<Vec<f32>> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();

    // Streaming, in awkward chunks, then finish: must equal the whole-signal reference.
    let mut fe = FeatureExtractor::new(cfg.clone()).unwrap();
    let mut out = Vec::new();
    let mut n = 0;
    for c in signal.chunks(333) {
        n += fe.push(c, &mut out);
    }
    let total = fe.frames_for(signal.len() as u64);
    n += fe.finish(total, &mut out);
    assert_eq!(n, reference.len());
    let dim = cfg.dim();
    let mut max_err = 0f32;
    for (i, r) in reference.iter().enumerate() {
        for (j, &x) in r.iter().enumerate() {
            let y = out[i * dim + j];
            let err = (x - y).abs() / (1.0 + x.abs());
            max_err = max_err.max(err);
        }
    }
    assert!(
        max_err < 2e-4,
        "front end differs from the reference by {max_err}"
    );
}

#[test]
fn rejects_bad_parameters() {
    let good = FeatureConfig {
        sample_rate: 16000,
        hop_length: 640,
        win_length: 1024,
        n_fft: 1024,
        n_mels: 40,
        fmin: 60.0,
        fmax: 7600.0,
        parts: vec![gsttalkingface::features::Part::LogMel],
    };
    assert!(good.validate().is_ok());
    let bad = FeatureConfig {
        n_fft: 512,
        ..good.clone()
    };
    assert!(bad.validate().unwrap_err().contains("n_fft"));
    let bad = FeatureConfig {
        fmax: 9000.0,
        ..good.clone()
    };
    assert!(bad.validate().unwrap_err().contains("fmax"));
    assert!(FeatureConfig::parse_parts("logmel,pitch").is_err());
}

/// The metadata bounds: a front end of the largest allowed size is accepted and built; the sizes
/// that made a model's start-up stall for 17 s (n_fft 131072, n_mels 65536) are refused, naming
/// the limit.
#[test]
fn front_end_sizes_are_bounded() {
    use gsttalkingface::features::{MAX_FFT, MAX_MELS};
    let cfg = |n_fft: usize, n_mels: usize| FeatureConfig {
        sample_rate: 48000,
        hop_length: 1920,
        win_length: n_fft,
        n_fft,
        n_mels,
        fmin: 0.0,
        fmax: 24000.0,
        parts: FeatureConfig::parse_parts("logmel,delta,delta2").unwrap(),
    };
    let t = std::time::Instant::now();
    FeatureExtractor::new(cfg(MAX_FFT, MAX_MELS)).expect("the largest allowed front end");
    eprintln!(
        "largest allowed front end built in {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    for (n_fft, n_mels) in [(1 << 17, 65536), (MAX_FFT * 2, 80), (MAX_FFT, MAX_MELS + 1)] {
        let e = cfg(n_fft, n_mels).validate().expect_err("too large");
        assert!(e.contains("at most") || e.contains("out of range"), "{e}");
    }
}
