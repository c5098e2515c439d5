// SPDX-License-Identifier: MIT OR Apache-2.0
//! The ONNX Runtime layer, in a process of its own (the library is loaded once per process): a
//! failed load is not kept (the next start tries again), and ONNX Runtime's own log goes to
//! GStreamer's debug log (category `onnxruntime`), not to stderr.

use std::sync::{Arc, Mutex};

use gsttalkingface::onnx::{self, Model, SessionOptions};

#[test]
fn failed_load_is_retried_and_the_log_goes_to_gst_debug() {
    gst::init().unwrap();
    let real = onnx::library_candidates()
        .into_iter()
        .find(|p| p.exists())
        .expect("the ONNX Runtime library (scripts/setup.sh)");
    // SAFETY (set_var): this test binary has one test and no other threads reading the
    // environment at this point.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so") };
    let Err(e) = onnx::environment() else {
        panic!("a missing library must fail");
    };
    assert!(e.contains("/nonexistent/libonnxruntime.so"), "{e}");
    unsafe { std::env::set_var("ORT_DYLIB_PATH", &real) };

    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let l2 = lines.clone();
    gst::log::set_threshold_for_name("onnxruntime", gst::DebugLevel::Log);
    gst::log::add_log_function(move |cat, _level, _file, _func, _line, _obj, msg| {
        if cat.name() == "onnxruntime" {
            if let Some(m) = msg.get() {
                l2.lock().unwrap().push(m.to_string());
            }
        }
    });
    onnx::environment().expect("loads after the path is fixed");
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/models/a2l_test.onnx");
    let opts = SessionOptions {
        provider: onnx::ExecutionProvider::Cpu,
        threads: 1,
        ..SessionOptions::default()
    };
    Model::load(std::path::Path::new(model), &opts).expect("test model loads");
    let n = lines.lock().unwrap().len();
    assert!(n > 0, "no ONNX Runtime log line reached GStreamer's log");
}
