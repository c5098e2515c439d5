// SPDX-License-Identifier: MIT OR Apache-2.0
//! The ONNX Runtime layer, in a process of its own (the library is loaded once per process): a
//! failed load is not kept (the next start tries again), and ONNX Runtime's own log goes to
//! GStreamer's debug log (category `onnxruntime`), not to stderr.

use std::sync::{Arc, Mutex};

use gsttalkingface::onnx::{self, LoadGate, ModelHandle, SessionOptions};

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
    // Captured here, not printed: this process's own log function only.
    gst::log::remove_default_log_function();
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
    ModelHandle::open(std::path::Path::new(model), &opts, LoadGate::default())
        .expect("test model loads");
    let n = lines.lock().unwrap().len();
    assert!(n > 0, "no ONNX Runtime log line reached GStreamer's log");
}

/// The plugin file this test binary was built with (beside it in target/*/deps, or one folder up).
fn plugin_file() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    [deps, deps.parent()?]
        .iter()
        .map(|d| d.join("libgsttalkingface.so"))
        .find(|p| p.exists())
}

/// `model`'s default as gst-inspect-1.0 shows it, with the plugin loaded from `plugin_dir` and
/// the user's data folder at `data`.
fn inspected_default(plugin_dir: &std::path::Path, data: &std::path::Path) -> String {
    let tmp = data.parent().unwrap();
    let out = std::process::Command::new("gst-inspect-1.0")
        .arg("audio2landmarks")
        .env("GST_PLUGIN_PATH", plugin_dir)
        .env("GST_PLUGIN_SYSTEM_PATH", tmp.join("no-system-plugins"))
        .env(
            "GST_REGISTRY",
            tmp.join(format!("registry-{}.bin", std::process::id())),
        )
        .env("XDG_DATA_HOME", data)
        .output()
        .expect("gst-inspect-1.0 runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // The property's block: its line and the more indented lines after it.
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("  model "))
        .unwrap_or_else(|| panic!("no model property in:\n{text}"));
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("  ") && !l.starts_with("   "))
        .map_or(lines.len(), |n| start + 1 + n);
    lines[start..end].join("\n")
}

/// An installed plugin (loaded from outside its source tree) takes the models installed beside it
/// in the user's data folder first; the plugin in its build tree takes the source tree's.
#[test]
fn installed_plugin_finds_the_installed_models_first() {
    let Some(so) = plugin_file() else {
        eprintln!(
            "note: no libgsttalkingface.so beside the test binary (cargo build first); skipping"
        );
        return;
    };
    let tmp = std::env::temp_dir().join(format!("onnx-install-test-{}", std::process::id()));
    let (plugins, data) = (tmp.join("plugins"), tmp.join("data"));
    let models = data.join("talkingface").join("models");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::create_dir_all(&models).unwrap();
    std::fs::copy(&so, plugins.join("libgsttalkingface.so")).unwrap();
    let src_model =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/audio2landmarks.onnx");
    std::fs::copy(&src_model, models.join("audio2landmarks.onnx")).unwrap();
    let installed = inspected_default(&plugins, &data);
    assert!(
        installed.contains(&models.join("audio2landmarks.onnx").display().to_string()),
        "{installed}"
    );
    let built = inspected_default(so.parent().unwrap(), &data);
    assert!(built.contains(&src_model.display().to_string()), "{built}");
    let _ = std::fs::remove_dir_all(&tmp);
}
