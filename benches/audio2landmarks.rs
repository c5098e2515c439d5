// SPDX-License-Identifier: MIT OR Apache-2.0
//! Benchmark of audio2landmarks: `cargo bench --bench audio2landmarks [-- MODEL.onnx]`.
//!
//! Reports, for the model (default: models/audio2landmarks.onnx):
//! - real-time factor on 60 s of audio pushed as a file would be (1 s buffers), with one ONNX
//!   Runtime thread and with all threads, median of 5 runs;
//! - the part of that spent in the feature front end alone;
//! - compute time per frame in live use (40 ms buffers, one frame each): median and 95th percentile;
//! - peak resident memory of the whole process (VmHWM).

mod common;

use common::*;
use std::time::{Duration, Instant};

use gsttalkingface::features::{FeatureConfig, FeatureExtractor};

const RATE: u32 = 16000;
const SECONDS: usize = 60;

fn signal() -> Vec<f32> {
    // Voiced, syllable-modulated harmonics with some noise: speech-like load.
    let mut seed = 1u32;
    (0..RATE as usize * SECONDS)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let env = (0.5 - 0.5 * (2.0 * std::f32::consts::PI * 4.0 * t).cos()).powi(2);
            let f0 = 120.0 + 30.0 * (2.0 * std::f32::consts::PI * 0.5 * t).sin();
            let mut v = 0.0;
            for h in 1..8 {
                v += (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32;
            }
            0.3 * env * v + 0.01 * noise
        })
        .collect()
}

fn buffer(samples: &[f32], pts: gst::ClockTime) -> gst::Buffer {
    let mut bytes = Vec::with_capacity(samples.len() * 4);
    for s in samples {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    let mut b = gst::Buffer::from_mut_slice(bytes);
    b.get_mut().expect("new").set_pts(pts);
    b
}

fn harness(model: &str, threads: u32) -> gst_check::Harness {
    let e = gst::ElementFactory::make("audio2landmarks")
        .property("model", model)
        .property("threads", threads)
        .property(
            "execution-provider",
            gsttalkingface::onnx::ExecutionProvider::Cpu,
        )
        .build()
        .expect("audio2landmarks");
    let mut h = gst_check::Harness::with_element(&e, Some("sink"), Some("src"));
    h.play();
    h.set_src_caps_str("audio/x-raw,format=F32LE,layout=interleaved,channels=1,rate=16000");
    h
}

/// Pushes `sig` in buffers of `chunk` samples; returns the time of each push and the frame count.
fn run(model: &str, threads: u32, sig: &[f32], chunk: usize) -> (Vec<Duration>, usize) {
    let mut h = harness(model, threads);
    let bufs: Vec<gst::Buffer> = sig
        .chunks(chunk)
        .enumerate()
        .map(|(i, c)| {
            buffer(
                c,
                gst::ClockTime::from_nseconds((i * chunk) as u64 * 1_000_000_000 / RATE as u64),
            )
        })
        .collect();
    let mut times = Vec::with_capacity(bufs.len());
    let mut frames = 0;
    for b in bufs {
        let t = Instant::now();
        h.push(b).expect("push");
        times.push(t.elapsed());
        while h.try_pull().is_some() {
            frames += 1;
        }
    }
    h.push_event(gst::event::Eos::new());
    while h.try_pull().is_some() {
        frames += 1;
    }
    (times, frames)
}

fn main() {
    gst::init().expect("gst init");
    gsttalkingface::plugin_register_static().expect("register");
    let model = std::env::args()
        .skip(1)
        .find(|a| a.ends_with(".onnx"))
        .unwrap_or_else(|| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/models/audio2landmarks.onnx").into()
        });
    if !std::path::Path::new(&model).exists() {
        eprintln!("bench: model {model} not found (give a path: cargo bench --bench audio2landmarks -- MODEL.onnx)");
        std::process::exit(1);
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("audio2landmarks benchmark");
    println!("model: {model}");
    println!("machine: {}", machine());
    let sig = signal();
    let audio_s = sig.len() as f64 / RATE as f64;

    // Warm-up (session creation, first-run allocations).
    let _ = run(&model, 1, &sig[..RATE as usize * 2], RATE as usize);

    for threads in [1u32, 0] {
        let mut rtfs = Vec::new();
        let mut frames = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let (_, n) = run(&model, threads, &sig, RATE as usize);
            let el = t.elapsed().as_secs_f64();
            frames = n;
            rtfs.push(audio_s / el);
        }
        let label = if threads == 0 {
            format!("all ({cores})")
        } else {
            threads.to_string()
        };
        println!(
            "file, 60 s in 1 s buffers, threads {label}: {frames} frames, real-time factor median {:.0}x (min {:.0}x, max {:.0}x)",
            median(&rtfs),
            rtfs.iter().cloned().fold(f64::MAX, f64::min),
            rtfs.iter().cloned().fold(0.0, f64::max)
        );
    }

    // The front end alone.
    let cfg = FeatureConfig {
        sample_rate: 16000,
        hop_length: 640,
        win_length: 1024,
        n_fft: 1024,
        n_mels: 40,
        fmin: 60.0,
        fmax: 7600.0,
        parts: FeatureConfig::parse_parts("logmel,delta,delta2").expect("parts"),
    };
    let mut fe_times = Vec::new();
    for _ in 0..5 {
        let mut fe = FeatureExtractor::new(cfg.clone()).expect("front end");
        let mut out = Vec::new();
        let t = Instant::now();
        for c in sig.chunks(RATE as usize) {
            out.clear();
            fe.push(c, &mut out);
        }
        fe_times.push(t.elapsed().as_secs_f64());
    }
    let fe_s = median(&fe_times);
    println!(
        "front end alone (log-mel 40 bands, n_fft 1024, + deltas): {:.1} ms for 60 s ({:.1} us/frame, {:.0}x real time)",
        fe_s * 1e3,
        fe_s * 1e6 / 1500.0,
        audio_s / fe_s
    );

    for threads in [1u32, 0] {
        let (times, frames) = run(&model, threads, &sig, 640);
        let per: Vec<f64> = times
            .iter()
            .skip(25)
            .map(|d| d.as_secs_f64() * 1e3)
            .collect();
        let label = if threads == 0 {
            format!("all ({cores})")
        } else {
            threads.to_string()
        };
        println!(
            "live, 40 ms buffers, threads {label}: {frames} frames, compute per frame median {:.3} ms, p95 {:.3} ms, max {:.3} ms",
            median(&per),
            percentile(&per, 0.95),
            per.iter().cloned().fold(0.0, f64::max)
        );
    }
    println!(
        "peak resident memory (VmHWM, whole process): {:.0} MB",
        vm_hwm_mb()
    );
}
