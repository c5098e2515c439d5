// SPDX-License-Identifier: MIT OR Apache-2.0
//! Benchmark of facelandmarks: `cargo bench --bench facelandmarks [-- VIDEO]`.
//!
//! Decodes the video first (default: the GRID samples in ../shared/data/grid, else Debian's
//! portrait of Grace Hopper scaled to 360x288 and repeated), as I420 at 360x288, then pushes the
//! frames through the element in a Harness and reports frames per second and the per-frame time
//! (median, 90th percentile, maximum), for the default detection interval and for detection on
//! every frame (the detector confirming the tracked face each frame), plus the models' load time
//! and the process's peak resident memory; then the same clips scaled to 1280x720 and 1920x1080
//! (which the element scales down before the analysis).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gsttalkingface::landmarks::LandmarkFrame;

const PORTRAIT: &str = "/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg";
const GRID_DIR: &str = "/work/shared/data/grid";
const CAPS: &str = "video/x-raw,format=I420,width=360,height=288,framerate=25/1";

/// Decoded frames of `desc` (ending in `appsink name=sink`).
fn decode(desc: &str) -> Vec<gst::Buffer> {
    let p = gst::parse::launch(desc)
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
    let sink = p
        .by_name("sink")
        .expect("sink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink");
    sink.set_property("sync", false);
    p.set_state(gst::State::Playing).expect("play");
    let mut v = Vec::new();
    while let Ok(s) = sink.pull_sample() {
        if let Some(b) = s.buffer_owned() {
            v.push(b);
        }
    }
    p.set_state(gst::State::Null).expect("stop");
    v
}

fn inputs(args: &[String], caps: &str) -> Vec<(String, Vec<gst::Buffer>)> {
    let mut clips: Vec<PathBuf> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect();
    if clips.is_empty() {
        if let Ok(d) = std::fs::read_dir(GRID_DIR) {
            clips = d
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "mpg"))
                .collect();
            clips.sort();
        }
    }
    let mut out = Vec::new();
    for c in clips {
        let f = decode(&format!(
            "filesrc location={} ! decodebin ! videoconvert ! videoscale ! {caps} ! appsink name=sink",
            c.display()
        ));
        out.push((c.display().to_string(), f));
    }
    if out.is_empty() && Path::new(PORTRAIT).exists() {
        let f = decode(&format!(
            "filesrc location={PORTRAIT} ! jpegdec ! videoconvert ! videoscale ! \
             imagefreeze num-buffers=250 ! {caps} ! appsink name=sink"
        ));
        out.push((format!("{PORTRAIT} (still, 360x288)"), f));
    }
    out
}

fn pct(v: &mut [Duration], q: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn run(frames: &[(String, Vec<gst::Buffer>)], caps: &str, interval: u32) {
    let el = gst::ElementFactory::make("facelandmarks")
        .property("detect-interval", interval)
        .build()
        .expect("facelandmarks");
    let t0 = Instant::now();
    let mut h = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
    let load = t0.elapsed();
    h.set_src_caps_str(caps);
    let mut times = Vec::new();
    let mut faces = 0usize;
    let start = Instant::now();
    for (_, clip) in frames {
        // A new clip is a new stream: flush so the track and the identity start afresh.
        h.push_event(gst::event::FlushStart::new());
        h.push_event(gst::event::FlushStop::new(true));
        h.push_event(gst::event::Segment::new(&gst::FormattedSegment::<
            gst::ClockTime,
        >::new()));
        for b in clip {
            let t = Instant::now();
            h.push(b.clone()).expect("push");
            let out = h.pull().expect("pull");
            times.push(t.elapsed());
            let m = out.map_readable().expect("map");
            if LandmarkFrame::from_bytes(&m).expect("record").confidence > 0.0 {
                faces += 1;
            }
        }
    }
    let total = start.elapsed();
    let n = times.len();
    let (p50, p90, max) = (
        pct(&mut times, 0.5),
        pct(&mut times, 0.9),
        pct(&mut times, 1.0),
    );
    println!(
        "{caps}: detect-interval {interval:>2}: {n} frames, face in {faces}, {:.1} fps; per frame median {:.2} ms, p90 {:.2} ms, max {:.2} ms (start {:.2} s)",
        n as f64 / total.as_secs_f64(),
        p50.as_secs_f64() * 1e3,
        p90.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
        load.as_secs_f64()
    );
}

/// Portrait analysis (what landmarks2face does once per identity: detection at four turns, two
/// landmark passes) on the portrait scaled to a few sizes: median of 10 runs, one thread.
fn portrait_analysis() {
    use gsttalkingface::face::{self, FaceAnalyzer, Image};
    if !Path::new(PORTRAIT).exists() {
        return;
    }
    let opts = gsttalkingface::onnx::SessionOptions {
        provider: gsttalkingface::onnx::ExecutionProvider::Cpu,
        threads: 1,
        ..Default::default()
    };
    let t0 = Instant::now();
    let mut a = FaceAnalyzer::load(
        &face::default_detector_path(),
        &face::default_landmarker_path(),
        &opts,
    )
    .expect("face models");
    println!(
        "face models loaded in {:.0} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );
    for (w, h) in [(512, 600), (1280, 1500), (3840, 4500)] {
        let frames = decode(&format!(
            "filesrc location={PORTRAIT} ! jpegdec ! videoconvert ! videoscale ! \
             video/x-raw,format=RGB,width={w},height={h} ! appsink name=sink"
        ));
        let Some(b) = frames.first() else { continue };
        let m = b.map_readable().expect("map");
        let stride = (w * 3 + 3) & !3;
        let img = Image::new(&m, w, h, stride, 3).expect("image");
        let mut times = Vec::new();
        for _ in 0..10 {
            let t = Instant::now();
            a.portrait(&img, 0, 64.0).expect("face");
            times.push(t.elapsed());
        }
        println!(
            "portrait analysis {w}x{h}: median {:.1} ms",
            pct(&mut times, 0.5).as_secs_f64() * 1e3
        );
    }
}

fn main() {
    gst::init().expect("gst init");
    gsttalkingface::plugin_register_static().expect("register");
    portrait_analysis();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let frames = inputs(&args, CAPS);
    if frames.is_empty() {
        println!("no video to measure (no GRID samples, no {PORTRAIT})");
        return;
    }
    for (name, f) in &frames {
        println!("input: {name}: {} frames", f.len());
    }
    for interval in [10, 25, 1] {
        run(&frames, CAPS, interval);
    }
    drop(frames);
    // Larger frames (the same clips scaled up): scaled down again before the analysis.
    for caps in [
        "video/x-raw,format=I420,width=1280,height=720,framerate=25/1",
        "video/x-raw,format=I420,width=1920,height=1080,framerate=25/1",
    ] {
        let frames = inputs(&args, caps);
        run(&frames, caps, 10);
    }
    if let Ok(st) = std::fs::read_to_string("/proc/self/status") {
        if let Some(l) = st.lines().find(|l| l.starts_with("VmHWM")) {
            println!(
                "peak resident memory (whole process, decoded input included): {}",
                l[6..].trim()
            );
        }
    }
}
