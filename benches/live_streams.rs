// SPDX-License-Identifier: MIT OR Apache-2.0
//! Several live streams in one process:
//! `cargo bench --bench live_streams -- [SECONDS] [STREAMS] [qos|noqos|both] [REPORT_EVERY]`
//! (default 600 s, 8 streams, both, every 10 s).
//!
//! Each stream is the live chain of the soak bench (live test source, audio2landmarks,
//! landmarks2face with the bundled portrait, fakesink sync=true), each in its own pipeline, all
//! started together. With `qos` the sinks send QoS events and landmarks2face drops frames that
//! would be late; with `noqos` they do not, and a stream the machine cannot carry falls further
//! behind. Every report interval, per stream: frames per second over the interval and the delay of
//! its last frames at the sink (clock minus running time, before the sink's wait; median over the
//! interval). At the end, per stream: mean fps, drops, timestamp gaps, final delay.

mod common;
#[path = "common/live.rs"]
mod live;

use std::time::{Duration, Instant};

use common::*;
use gst::prelude::*;
use live::*;

fn run(seconds: u64, n: usize, qos: bool, every: u64) {
    let portrait = concat!(env!("CARGO_MANIFEST_DIR"), "/media/portrait.jpg");
    println!(
        "\n{n} live streams, QoS at the sinks {}, {seconds} s",
        if qos { "on" } else { "off" }
    );
    let streams: Vec<Stream> = (0..n).map(|_| live_stream(portrait, qos)).collect();
    for s in &streams {
        s.pipeline
            .set_state(gst::State::Playing)
            .expect("the pipeline starts");
    }
    let start = Instant::now();
    let mut last = vec![0u64; n];
    let mut last_t = 0.0;
    let mut header = String::from("     s ");
    for i in 0..n {
        header += &format!(" | s{i} fps  delay");
    }
    println!("{header}   (delay: median ms over the interval)");
    let mut next = Duration::from_secs(every);
    let mut final_delay = vec![f64::NAN; n];
    loop {
        std::thread::sleep(Duration::from_millis(200));
        for (i, s) in streams.iter().enumerate() {
            if let Some(e) = s.error() {
                eprintln!("stream {i}: error: {e}");
                std::process::exit(1);
            }
        }
        let el = start.elapsed();
        if el < next && el < Duration::from_secs(seconds) {
            continue;
        }
        let t = el.as_secs_f64();
        let mut line = format!("{t:>6.0} ");
        for (i, s) in streams.iter().enumerate() {
            let st = s.stats();
            let d = s.take_delays();
            final_delay[i] = median(&d);
            line += &format!(
                " | {:>6.1} {:>6.0}",
                (st.frames - last[i]) as f64 / (t - last_t),
                median(&d)
            );
            last[i] = st.frames;
        }
        println!("{line}");
        last_t = t;
        if el >= Duration::from_secs(seconds) {
            break;
        }
        next += Duration::from_secs(every);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut total = 0.0;
    for (i, s) in streams.iter().enumerate() {
        let st = s.stats();
        let fps = st.frames as f64 / elapsed;
        total += fps;
        println!(
            "stream {i}: {} frames, {fps:.1} fps, {} dropped by QoS, {} timestamp gaps ({} frames missing), \
             {} backwards, delay at the end {:.0} ms",
            st.frames,
            s.dropped(),
            st.gaps,
            st.missing,
            st.backwards,
            final_delay[i]
        );
    }
    println!(
        "all {n}: {total:.1} frames/s together, {:.1} each on average; RSS {:.0} MB",
        total / n as f64,
        rss_mb()
    );
    for s in &streams {
        let _ = s.pipeline.set_state(gst::State::Null);
    }
}

fn main() {
    gst::init().expect("gst init");
    gsttalkingface::plugin_register_static().expect("register");
    let a = args();
    let seconds: u64 = a.first().and_then(|s| s.parse().ok()).unwrap_or(600);
    let n: usize = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(8);
    let mode = a.get(2).map(String::as_str).unwrap_or("both");
    let every: u64 = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    println!("machine: {}", machine());
    if mode != "qos" {
        run(seconds, n, false, every);
    }
    if mode != "noqos" {
        run(seconds, n, true, every);
    }
}
