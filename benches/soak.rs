// SPDX-License-Identifier: MIT OR Apache-2.0
//! Live soak: `cargo bench --bench soak -- [SECONDS] [REPORT_EVERY_SECONDS]` (default 3600, 60).
//!
//!     audiotestsrc is-live=true (10 ms buffers) ! audioconvert ! audioresample ! audio2landmarks !
//!     landmarks2face portrait=media/portrait.jpg ! fakesink sync=true qos=true
//!
//! with the default models on the CPU, for the given duration. Every report interval: frames (and
//! frames per second over the interval), frames landmarks2face dropped under QoS, timestamp gaps
//! at the sink (steps other than 40 ms; the frames missing in them should equal the drops),
//! steps backwards, the delay of frames at the sink (clock minus running time, before the sink's
//! wait: median and maximum over the interval) and the resident memory. At the end: RSS at start
//! (after 10 s of warm-up), maximum and end; the figures of docs/performance.md.

mod common;
#[path = "common/live.rs"]
mod live;

use std::time::{Duration, Instant};

use common::*;
use gst::prelude::*;
use live::*;

fn main() {
    gst::init().expect("gst init");
    gsttalkingface::plugin_register_static().expect("register");
    let a = args();
    let seconds: u64 = a.first().and_then(|s| s.parse().ok()).unwrap_or(3600);
    let every: u64 = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(60);
    let portrait = concat!(env!("CARGO_MANIFEST_DIR"), "/media/portrait.jpg");
    println!("soak: {seconds} s, one live stream, report every {every} s");
    println!("machine: {}", machine());
    let s = live_stream(portrait, true);
    s.pipeline
        .set_state(gst::State::Playing)
        .expect("the pipeline starts");
    let start = Instant::now();
    let mut next = Duration::from_secs(every.min(10));
    let mut rss_start = f64::NAN;
    let mut rss_max: f64 = 0.0;
    let mut last_frames = 0;
    let mut last_t = 0.0;
    let mut all_delays = Vec::new();
    println!(
        "     s  frames   fps  dropped  gaps (missing)  backwards  delay median/max ms  RSS MB"
    );
    loop {
        std::thread::sleep(Duration::from_millis(200));
        if let Some(e) = s.error() {
            eprintln!("soak: error: {e}");
            let _ = s.pipeline.set_state(gst::State::Null);
            std::process::exit(1);
        }
        let el = start.elapsed();
        if el < next && el < Duration::from_secs(seconds) {
            continue;
        }
        let st = s.stats();
        let d = s.take_delays();
        let t = el.as_secs_f64();
        let rss = rss_mb();
        if rss_start.is_nan() && el >= Duration::from_secs(10) {
            rss_start = rss;
        }
        rss_max = rss_max.max(rss);
        println!(
            "{:>6.0}  {:>6}  {:>4.1}  {:>7}  {:>4} ({:>5})  {:>9}  {:>8.0} / {:<8.0}  {:>6.0}",
            t,
            st.frames,
            (st.frames - last_frames) as f64 / (t - last_t),
            s.dropped(),
            st.gaps,
            st.missing,
            st.backwards,
            median(&d),
            percentile(&d, 1.0),
            rss
        );
        all_delays.extend(d);
        last_frames = st.frames;
        last_t = t;
        if el >= Duration::from_secs(seconds) {
            break;
        }
        next = Duration::from_secs((el.as_secs() / every + 1) * every);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let st = s.stats();
    let dropped = s.dropped();
    let _ = s.pipeline.set_state(gst::State::Null);
    println!(
        "ran {elapsed:.0} s: {} frames ({:.2} fps; 25 expected), {dropped} dropped by QoS, \
         {} timestamp gaps with {} frames missing, {} steps backwards",
        st.frames,
        st.frames as f64 / elapsed,
        st.gaps,
        st.missing,
        st.backwards
    );
    println!(
        "delay at the sink (clock minus running time, before its wait): median {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        median(&all_delays),
        percentile(&all_delays, 0.95),
        percentile(&all_delays, 1.0)
    );
    println!(
        "RSS: {rss_start:.0} MB at 10 s, max {rss_max:.0} MB, {:.0} MB at the end",
        rss_mb()
    );
}
