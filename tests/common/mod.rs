// SPDX-License-Identifier: MIT OR Apache-2.0
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Once;

use gst::prelude::*;

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().expect("gst init");
        gsttalkingface::plugin_register_static().expect("register plugin");
    });
}

/// Parses a gst-launch description into a pipeline (panics with the parser's message: test code).
pub fn launch(desc: &str) -> gst::Pipeline {
    gst::parse::launch(desc)
        .unwrap_or_else(|e| panic!("{desc}: {e}"))
        .downcast::<gst::Pipeline>()
        .expect("a pipeline")
}

/// The appsink named `name` in `p`.
pub fn appsink(p: &gst::Pipeline, name: &str) -> gst_app::AppSink {
    p.by_name(name)
        .unwrap_or_else(|| panic!("no element named {name}"))
        .downcast::<gst_app::AppSink>()
        .unwrap_or_else(|_| panic!("{name} is not an appsink"))
}

/// Where `cargo build` put the plugin (scripts/test.sh builds it before the tests).
pub fn plugin_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("debug");
    assert!(
        dir.join("libgsttalkingface.so").exists(),
        "run `cargo build` first: {} has no libgsttalkingface.so",
        dir.display()
    );
    dir
}

pub fn model(name: &str) -> String {
    let p: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "models", name]
        .iter()
        .collect();
    p.to_string_lossy().to_string()
}

/// An F32 mono buffer of `samples` at `pts`.
pub fn f32_buffer(samples: &[f32], pts: Option<gst::ClockTime>) -> gst::Buffer {
    let mut bytes = Vec::with_capacity(samples.len() * 4);
    for s in samples {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    let mut b = gst::Buffer::from_mut_slice(bytes);
    b.get_mut().unwrap().set_pts(pts);
    b
}

/// A speech-like test signal: voiced bursts of a few harmonics with syllable-rate envelope.
pub fn speechish(n: usize, rate: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let env = (0.5 - 0.5 * (2.0 * std::f32::consts::PI * 4.0 * t).cos()).powi(2);
            let f0 = 120.0 + 30.0 * (2.0 * std::f32::consts::PI * 0.5 * t).sin();
            let mut v = 0.0;
            for h in 1..6 {
                v += (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32;
            }
            0.3 * env * v
        })
        .collect()
}

/// Runs a parsed pipeline to EOS or error; returns the error message text if any.
pub fn run_pipeline(desc: &str) -> Result<(), String> {
    init();
    let pipeline = gst::parse::launch(desc).map_err(|e| e.to_string())?;
    let bus = pipeline.bus().expect("bus");
    let r = pipeline.set_state(gst::State::Playing);
    let mut result = Ok(());
    if r.is_err() {
        result = Err("state change failed".to_string());
    }
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(60)) {
        use gst::MessageView;
        match msg.view() {
            MessageView::Eos(..) => break,
            MessageView::Error(e) => {
                result = Err(format!("{} ({:?})", e.error(), e.debug()));
                break;
            }
            _ => {}
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// Reads landmark records from buffers.
pub fn frames(bufs: &[gst::Buffer]) -> Vec<gsttalkingface::landmarks::LandmarkFrame> {
    bufs.iter()
        .map(|b| {
            let m = b.map_readable().unwrap();
            gsttalkingface::landmarks::LandmarkFrame::from_bytes(m.as_slice()).unwrap()
        })
        .collect()
}
