// SPDX-License-Identifier: MIT OR Apache-2.0
//! Live behaviour, measured: `cargo run --release --example live -- [SECONDS] [PORTRAIT] [A2L_MODEL]`.
//!
//! Runs a live pipeline on the CPU with the default models,
//!
//!     audiotestsrc is-live=true (speech-like bursts, 10 ms buffers) ! audioconvert ! audioresample !
//!     audio2landmarks ! landmarks2face ! videoconvert ! appsink sync=true
//!
//! and reports:
//! - the latency each element reports and the pipeline's total (the latency query);
//! - the latency actually added: for every video frame, the clock time at which it reached the sink
//!   minus the clock time at which the audio of its own timestamp was captured
//!   (base time + PTS): median, 95th percentile, maximum;
//! - whether it keeps real time: frames out against frames expected, frames dropped by QoS, and the
//!   resident memory every 30 s (flat memory, no growing queues).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    if gst::init().is_err() || gsttalkingface::plugin_register_static().is_err() {
        eprintln!("live: cannot initialise GStreamer or the plugin");
        std::process::exit(1);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(20);
    let portrait = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/media/portrait.jpg").into());
    // A "speech-like" live source: pink noise bursts gated at a syllable rate by a second source
    // would need a mixer; ticks of a sine (wave=ticks) give onsets the model reacts to.
    let a2l_model = args
        .get(2)
        .map(|m| format!("model={m}"))
        .unwrap_or_default();
    let desc = format!(
        "audiotestsrc is-live=true wave=ticks freq=220 samplesperbuffer=441 ! audio/x-raw,rate=44100 ! \
         audioconvert ! audioresample ! audio2landmarks name=a2l {a2l_model} ! \
         landmarks2face name=l2f portrait={portrait} ! videoconvert ! appsink name=sink sync=true"
    );
    let pipeline = match gst::parse::launch(&desc) {
        Ok(p) => p.downcast::<gst::Pipeline>().expect("pipeline"),
        Err(e) => {
            eprintln!("live: {e}");
            std::process::exit(1);
        }
    };
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .expect("appsink");
    let delays = Arc::new(Mutex::new(Vec::<f64>::new()));
    let produced = Arc::new(Mutex::new(Vec::<f64>::new()));
    let frames = Arc::new(Mutex::new(0u64));
    // When each frame leaves landmarks2face (before any sink waits): the latency actually added.
    if let Some(pad) = pipeline.by_name("l2f").and_then(|e| e.static_pad("src")) {
        let produced = produced.clone();
        let pl = pipeline.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let (Some(buf), Some(clock), Some(base)) =
                (info.buffer(), pl.clock(), pl.base_time())
            {
                if let (Some(pts), now) = (buf.pts(), clock.time()) {
                    let d = now.nseconds() as f64 - (base + pts).nseconds() as f64;
                    if let Ok(mut v) = produced.lock() {
                        v.push(d / 1e6);
                    }
                }
            }
            gst::PadProbeReturn::Ok
        });
    }
    {
        let delays = delays.clone();
        let frames = frames.clone();
        let pl = pipeline.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let (Some(buf), Some(clock), Some(base)) =
                        (sample.buffer(), pl.clock(), pl.base_time())
                    {
                        if let (Some(pts), now) = (buf.pts(), clock.time()) {
                            // Arrival at the sink (after its sync wait) minus capture of the audio
                            // at this frame's time.
                            let captured = base + pts;
                            let d = now.nseconds() as f64 - captured.nseconds() as f64;
                            if let Ok(mut v) = delays.lock() {
                                v.push(d / 1e6);
                            }
                        }
                    }
                    if let Ok(mut n) = frames.lock() {
                        *n += 1;
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    if pipeline.set_state(gst::State::Playing).is_err() {
        let why = pipeline
            .bus()
            .and_then(|b| b.pop_filtered(&[gst::MessageType::Error]))
            .map(|m| match m.view() {
                gst::MessageView::Error(e) => e.error().to_string(),
                _ => String::new(),
            })
            .unwrap_or_default();
        eprintln!("live: the pipeline does not start: {why}");
        std::process::exit(1);
    }
    let bus = pipeline.bus().expect("bus");
    let _ = pipeline.state(gst::ClockTime::from_seconds(10));
    let mut q = gst::query::Latency::new();
    if pipeline.query(&mut q) {
        let (live, min, max) = q.result();
        println!("pipeline latency (query): live {live}, min {min}, max {max:?}");
    }
    for name in ["a2l", "l2f"] {
        if let Some(e) = pipeline.by_name(name) {
            if let Some(pad) = e.static_pad("src") {
                let mut q = gst::query::Latency::new();
                if pad.query(&mut q) {
                    let (_, min, _) = q.result();
                    println!("  up to and including {name}: {min}");
                }
            }
        }
    }
    let start = Instant::now();
    let mut next_report = Duration::from_secs(30);
    let mut rss = vec![rss_mb()];
    loop {
        if let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(200),
            &[gst::MessageType::Error, gst::MessageType::Eos],
        ) {
            if let gst::MessageView::Error(e) = msg.view() {
                eprintln!("live: error: {} ({:?})", e.error(), e.debug());
                let _ = pipeline.set_state(gst::State::Null);
                std::process::exit(1);
            }
            break;
        }
        let el = start.elapsed();
        if el >= next_report {
            let n = frames.lock().map(|n| *n).unwrap_or(0);
            let dropped: u64 = pipeline
                .by_name("l2f")
                .map(|e| e.property::<u64>("dropped"))
                .unwrap_or(0);
            rss.push(rss_mb());
            println!(
                "{:>5} s: {n} frames, {dropped} dropped by QoS, RSS {:.0} MB",
                el.as_secs(),
                rss_mb()
            );
            next_report += Duration::from_secs(30);
        }
        if el >= Duration::from_secs(seconds) {
            break;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let _ = pipeline.set_state(gst::State::Null);
    let d = delays.lock().map(|v| v.clone()).unwrap_or_default();
    let pr = produced.lock().map(|v| v.clone()).unwrap_or_default();
    let n = frames.lock().map(|n| *n).unwrap_or(0);
    let d = &d[d.len().min(25)..];
    let pr = &pr[pr.len().min(25)..];
    println!(
        "ran {elapsed:.0} s: {n} frames ({:.1} fps; 25 expected)",
        n as f64 / elapsed
    );
    println!(
        "latency actually added, audio capture to frame out of landmarks2face: median {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        percentile(pr, 0.5),
        percentile(pr, 0.95),
        percentile(pr, 1.0)
    );
    println!(
        "audio capture to frame at the synchronised sink: median {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        percentile(d, 0.5),
        percentile(d, 0.95),
        percentile(d, 1.0)
    );
    println!(
        "RSS: start {:.0} MB, end {:.0} MB, max {:.0} MB",
        rss.first().copied().unwrap_or(f64::NAN),
        rss_mb(),
        rss.iter().copied().fold(0.0, f64::max)
    );
}
