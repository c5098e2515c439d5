// SPDX-License-Identifier: MIT OR Apache-2.0
//! Benchmark of landmarks2face: `cargo bench --bench landmarks2face [-- MODEL.onnx]`.
//!
//! Frames per second of the element (model + retargeting + paste-back + output) for a 256x256 crop
//! and for a 512x512 portrait with paste-back, with one ONNX Runtime thread and all threads, and
//! for a 1280x720 portrait with paste-back (and in crop mode, for the paste-back's share) with one
//! and two threads, on CPU; then peak resident memory. The portrait is Debian's public-domain
//! grace_hopper.jpg (python-matplotlib-data), cut to 512x512, and scaled to 720 rows and centred on
//! a 1280x720 grey picture, for the full-portrait cases. `-- --only 1280` runs only the cases whose
//! label contains "1280".

mod common;

use common::*;
use std::time::Instant;

use gst::prelude::*;

use gsttalkingface::landmarks::{self, LandmarkFrame};

const PORTRAIT: &str = "/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg";
const FRAMES: u64 = 150;

fn frame(n: u64) -> gst::Buffer {
    // Speech-like motion: the jaw opens and closes at about 4 Hz, the head turns slowly.
    let mut f = LandmarkFrame::default();
    let t = n as f32 / 25.0;
    let open = 0.04 * (0.5 - 0.5 * (2.0 * std::f32::consts::PI * 4.0 * t).cos());
    for i in [56, 57, 58, 65, 66, 67] {
        f.points[i][1] += open;
    }
    for i in [5, 6, 7, 8, 9, 10, 11, 55, 59] {
        f.points[i][1] += 0.7 * open;
    }
    f.pose[1] = 0.05 * (2.0 * std::f32::consts::PI * 0.2 * t).sin();
    let mut b = gst::Buffer::from_mut_slice(f.to_bytes().to_vec());
    {
        let b = b.get_mut().expect("new");
        b.set_pts(gst::ClockTime::from_mseconds(40 * n));
        b.set_duration(gst::ClockTime::from_mseconds(40));
    }
    b
}

fn run(model: &str, portrait: &str, mode: &str, threads: u32) -> (f64, f64, (i32, i32)) {
    let e = gst::ElementFactory::make("landmarks2face")
        .property("model", model)
        .property("portrait", portrait)
        .property("threads", threads)
        .property(
            "execution-provider",
            gsttalkingface::onnx::ExecutionProvider::Cpu,
        )
        .build()
        .expect("landmarks2face");
    e.set_property_from_str("mode", mode);
    let mut h = gst_check::Harness::with_element(&e, Some("sink"), Some("src"));
    h.play();
    h.set_src_caps(landmarks::caps(Some(gst::Fraction::new(25, 1))));
    // Warm-up.
    for n in 0..5 {
        h.push(frame(n)).expect("push");
        let _ = h.pull();
    }
    let mut per = Vec::new();
    let t0 = Instant::now();
    for n in 5..5 + FRAMES {
        // Push to pull: the aggregator renders on its own thread, so the push returns at once.
        let t = Instant::now();
        h.push(frame(n)).expect("push");
        let _ = h.pull();
        per.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let fps = FRAMES as f64 / t0.elapsed().as_secs_f64();
    let caps = h
        .sinkpad()
        .and_then(|p| p.current_caps())
        .expect("negotiated");
    let s = caps.structure(0).expect("structure");
    let size = (
        s.get::<i32>("width").unwrap_or(0),
        s.get::<i32>("height").unwrap_or(0),
    );
    (fps, median(&per), size)
}

fn main() {
    gst::init().expect("gst init");
    gsttalkingface::plugin_register_static().expect("register");
    let model = std::env::args()
        .skip(1)
        .find(|a| a.ends_with(".onnx"))
        .unwrap_or_else(|| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/models/landmarks2face.onnx").into()
        });
    let img = match image::open(PORTRAIT) {
        Ok(i) => i.to_rgba8(),
        Err(e) => {
            eprintln!("bench: cannot read {PORTRAIT} ({e}); install python-matplotlib-data");
            std::process::exit(1);
        }
    };
    let sq = image::imageops::crop_imm(&img, 0, 40, 512, 512).to_image();
    let sq_path = std::env::temp_dir().join("talkingface-bench-portrait-512.png");
    // 1280x720: the portrait scaled to 720 rows (614x720) in the middle of a grey picture.
    let (w720, h720) = (img.width() * 720 / img.height(), 720);
    let scaled = image::imageops::resize(&img, w720, h720, image::imageops::FilterType::CatmullRom);
    let mut wide = image::RgbaImage::from_pixel(1280, 720, image::Rgba([96, 96, 96, 255]));
    image::imageops::overlay(&mut wide, &scaled, i64::from((1280 - w720) / 2), 0);
    let wide_path = std::env::temp_dir().join("talkingface-bench-portrait-1280x720.png");
    for (im, path) in [(&sq, &sq_path), (&wide, &wide_path)] {
        if let Err(e) = im.save(path) {
            eprintln!("bench: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
    let only = std::env::args()
        .skip_while(|a| a != "--only")
        .nth(1)
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("landmarks2face benchmark ({FRAMES} frames after 5 warm-up)");
    println!("model: {model}");
    println!("machine: {}", machine());
    let p512 = sq_path.to_string_lossy().to_string();
    let p720 = wide_path.to_string_lossy().to_string();
    for (label, portrait, mode, thread_counts) in [
        ("256x256 crop", PORTRAIT, "crop", [1u32, 0]),
        (
            "512x512 portrait, paste-back",
            p512.as_str(),
            "full",
            [1, 0],
        ),
        (
            "1280x720 portrait, paste-back",
            p720.as_str(),
            "full",
            [1, 2],
        ),
        // The same identity without the paste-back: the difference is the paste-back's share.
        (
            "1280x720 portrait, crop only",
            p720.as_str(),
            "crop",
            [1, 2],
        ),
    ] {
        if !label.contains(only.as_str()) {
            continue;
        }
        for threads in thread_counts {
            let (fps, med, size) = run(&model, portrait, mode, threads);
            let t = if threads == 0 {
                format!("all ({cores})")
            } else {
                threads.to_string()
            };
            println!(
                "{label} (output {}x{}), threads {t}: {fps:.1} frames/s, median {med:.1} ms/frame",
                size.0, size.1
            );
        }
    }
    println!(
        "peak resident memory (VmHWM, whole process): {:.0} MB",
        vm_hwm_mb()
    );
    let _ = std::fs::remove_file(sq_path);
    let _ = std::fs::remove_file(wide_path);
}
