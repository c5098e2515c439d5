// SPDX-License-Identifier: MIT OR Apache-2.0
//! The built plugin as users meet it: gst-inspect-1.0 and gst-launch-1.0 with GST_PLUGIN_PATH, and
//! the ONNX Runtime library lookup (a process-wide setting, so tested in child processes).

mod common;

use std::process::Command;

use common::{model, plugin_dir};

#[test]
fn gst_inspect_documents_every_element() {
    for (element, needle) in [
        (
            "audio2landmarks",
            "audioconvert ! audioresample ! audio2landmarks",
        ),
        ("landmarks2face", "landmarks2face portrait="),
        ("landmarksrender", "landmarksrender"),
        ("facelandmarks", "facelandmarks"),
    ] {
        let out = Command::new("gst-inspect-1.0")
            .arg(element)
            .env("GST_PLUGIN_PATH", plugin_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "gst-inspect-1.0 {element} failed");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(needle), "{element}: no example in:\n{text}");
        assert!(text.contains("talkingface"));
    }
}

fn launch(env: &[(&str, &str)]) -> (bool, String) {
    let mut c = Command::new("gst-launch-1.0");
    c.args([
        "audiotestsrc",
        "num-buffers=5",
        "!",
        "audioconvert",
        "!",
        "audioresample",
        "!",
        "audio2landmarks",
        &format!("model={}", model("a2l_test.onnx")),
        "!",
        "fakesink",
    ])
    .env("GST_PLUGIN_PATH", plugin_dir());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn onnx_runtime_found_after_setup_without_variables() {
    let (ok, text) = launch(&[]);
    assert!(ok, "{text}");
}

#[test]
fn ort_dylib_path_is_honoured_and_named_when_wrong() {
    let (ok, text) = launch(&[("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")]);
    assert!(!ok);
    assert!(
        text.contains("/nonexistent/libonnxruntime.so") && text.contains("ONNX Runtime"),
        "{text}"
    );
    // A file that is not the library: refused with the loader's reason and the path.
    let (ok, text) = launch(&[("ORT_DYLIB_PATH", &model("not_a_model.onnx"))]);
    assert!(!ok);
    assert!(text.contains("not_a_model.onnx"), "{text}");
}

/// The plugin's description (what gst-inspect-1.0 shows for the plugin) names every element the
/// plugin registers.
#[test]
fn plugin_description_names_every_element() {
    common::init();
    use gst::prelude::*;
    let registry = gst::Registry::get();
    let plugin = registry
        .find_plugin("talkingface")
        .expect("the talkingface plugin");
    let description = plugin.description().to_string();
    let elements: Vec<String> = registry
        .features_by_plugin("talkingface")
        .into_iter()
        .filter(|f| f.is::<gst::ElementFactory>())
        .map(|f| f.name().to_string())
        .collect();
    assert!(elements.len() >= 2, "{elements:?}");
    for e in &elements {
        assert!(
            description.contains(e.as_str()),
            "the plugin description {description:?} does not name {e}"
        );
    }
}
