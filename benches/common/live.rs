// SPDX-License-Identifier: MIT OR Apache-2.0
//! A live talking-face stream, instrumented at its sink: what the soak and live-streams benches
//! share.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use gst::prelude::*;

pub const FRAME_NS: u64 = 40_000_000;

/// What the sink has seen so far.
#[derive(Default, Clone, Debug)]
pub struct SinkStats {
    /// Frames that reached the sink.
    pub frames: u64,
    /// PTS of the last frame.
    pub last_pts: Option<u64>,
    /// Steps between consecutive PTS other than one frame: (count, frames missing in them).
    pub gaps: u64,
    pub missing: u64,
    /// Steps that went backwards or repeated a PTS.
    pub backwards: u64,
    /// Delay of each frame at the sink pad (before the sink's own wait): clock time minus the
    /// frame's running time plus base time, ms. Drained by [`Stream::take_delays`].
    pub delays: Vec<f64>,
}

pub struct Stream {
    pub pipeline: gst::Pipeline,
    pub stats: Arc<Mutex<SinkStats>>,
}

/// The live chain of docs/performance.md: a live test source in 10 ms buffers, audio2landmarks,
/// landmarks2face with the bundled portrait, a synchronised fakesink with QoS on or off.
pub fn live_stream(portrait: &str, qos: bool) -> Stream {
    let desc = format!(
        "audiotestsrc is-live=true wave=ticks freq=220 samplesperbuffer=441 ! audio/x-raw,rate=44100 ! \
         audioconvert ! audioresample ! audio2landmarks name=a2l ! \
         landmarks2face name=l2f portrait={portrait} ! fakesink name=out sync=true qos={qos}"
    );
    let pipeline = gst::parse::launch(&desc)
        .unwrap_or_else(|e| panic!("{desc}: {e}"))
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
    let stats = Arc::new(Mutex::new(SinkStats::default()));
    let st = stats.clone();
    let pl = pipeline.downgrade();
    pipeline
        .by_name("out")
        .and_then(|s| s.static_pad("sink"))
        .expect("sink pad")
        .add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            move |_, info| {
                let pts: Vec<u64> = match &info.data {
                    Some(gst::PadProbeData::Buffer(b)) => {
                        b.pts().map(|t| t.nseconds()).into_iter().collect()
                    }
                    Some(gst::PadProbeData::BufferList(l)) => l
                        .iter()
                        .filter_map(|b| b.pts().map(|t| t.nseconds()))
                        .collect(),
                    _ => Vec::new(),
                };
                let now = pl
                    .upgrade()
                    .and_then(|p| Some((p.clock()?.time().nseconds(), p.base_time()?.nseconds())));
                let mut s = st.lock().unwrap();
                for pts in pts {
                    s.frames += 1;
                    if let Some(last) = s.last_pts {
                        if pts <= last {
                            s.backwards += 1;
                        } else if pts - last != FRAME_NS {
                            s.gaps += 1;
                            s.missing += (pts - last) / FRAME_NS - 1;
                        }
                    }
                    s.last_pts = Some(pts);
                    if let Some((clock, base)) = now {
                        // The segment of a live test source starts at 0: running time = PTS.
                        s.delays.push((clock as f64 - (base + pts) as f64) / 1e6);
                    }
                }
                gst::PadProbeReturn::Ok
            },
        );
    Stream { pipeline, stats }
}

impl Stream {
    pub fn stats(&self) -> SinkStats {
        let s = self.stats.lock().unwrap();
        SinkStats {
            delays: Vec::new(),
            ..s.clone()
        }
    }

    pub fn take_delays(&self) -> Vec<f64> {
        std::mem::take(&mut self.stats.lock().unwrap().delays)
    }

    /// Frames landmarks2face dropped under QoS.
    pub fn dropped(&self) -> u64 {
        self.pipeline
            .by_name("l2f")
            .map(|e| e.property::<u64>("dropped"))
            .unwrap_or(0)
    }

    /// The first error on the bus, if any.
    pub fn error(&self) -> Option<String> {
        let bus = self.pipeline.bus()?;
        let m = bus.pop_filtered(&[gst::MessageType::Error])?;
        match m.view() {
            gst::MessageView::Error(e) => Some(format!("{} ({:?})", e.error(), e.debug())),
            _ => None,
        }
    }
}

/// Resident memory of this process, MB.
pub fn rss_mb() -> f64 {
    super::proc_status_mb("VmRSS")
}

/// The number arguments after `cargo bench --bench NAME --` (cargo adds `--bench` itself).
pub fn args() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect()
}
