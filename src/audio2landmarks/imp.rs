// SPDX-License-Identifier: MIT OR Apache-2.0
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use ort::value::TensorRef;

use crate::features::{FeatureConfig, FeatureExtractor};
use crate::landmarks::{self, LandmarkFrame, FLAG_SPEECH, N_POINTS, RECORD_SIZE};
use crate::motion::{BlinkGenerator, HeadMotion};
use crate::onnx::{self, DimBounds, ModelHandle, ProviderReport, SessionOptions};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "audio2landmarks",
        gst::DebugColorFlags::empty(),
        Some("Speech to facial landmarks"),
    )
});

/// The sample format, little-endian whatever the host (the chain reads samples as such); on a
/// big-endian host audioconvert swaps them.
const SAMPLE_FORMAT: gst_audio::AudioFormat = gst_audio::AudioFormat::F32le;

const DEFAULT_EXPRESSIVENESS: f64 = 1.0;
/// One ONNX Runtime thread: the speech model is small; a second thread costs more than it gives
/// (docs/performance.md).
const DEFAULT_THREADS: u32 = 1;
const DEFAULT_BLINKS: bool = true;
const DEFAULT_HEAD_MOTION: f64 = 1.0;
/// Gaps in the input up to this long are filled with silence; longer ones restart the frame grid.
const MAX_GAP_FILL: gst::ClockTime = gst::ClockTime::from_seconds(10);
/// The most feature frames one model run takes (4 s at 25 fps); longer input is run in pieces,
/// the state carried between them (the result is the same). It bounds TensorRT's optimisation
/// profile, so that no input length makes it build another engine in the streaming thread.
const MAX_RUN_FRAMES: usize = 100;
/// The frames of a typical run, TensorRT's optimal shape: a live or decoder buffer of 40 to
/// 160 ms holds one to four frames.
const OPT_RUN_FRAMES: usize = 4;

/// The default model (see [`onnx::default_model_path`]).
fn default_model_path() -> PathBuf {
    onnx::default_model_path("audio2landmarks.onnx")
}

/// The default low-latency model (at most one frame of lookahead), taken when `low-latency` is
/// set and `model` is not.
fn default_low_latency_model_path() -> PathBuf {
    onnx::default_model_path("audio2landmarks_lowlatency.onnx")
}

#[derive(Debug, Clone)]
struct Settings {
    /// The model set by the user; None: the default for `low_latency`.
    model: Option<PathBuf>,
    low_latency: bool,
    session: SessionOptions,
    expressiveness: f64,
    blinks: bool,
    head_motion: f64,
}

impl Settings {
    /// The model to open: the one set, else the default (low-latency or not).
    fn model_path(&self) -> PathBuf {
        match (&self.model, self.low_latency) {
            (Some(p), _) => p.clone(),
            (None, true) => default_low_latency_model_path(),
            (None, false) => default_model_path(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: None,
            low_latency: false,
            session: SessionOptions {
                threads: DEFAULT_THREADS,
                // The model carries a recurrent state from frame to frame: half-precision
                // rounding would accumulate in it. fp16 only where the user asks.
                trt_fp16: false,
                ..SessionOptions::default()
            },
            expressiveness: DEFAULT_EXPRESSIVENESS,
            blinks: DEFAULT_BLINKS,
            head_motion: DEFAULT_HEAD_MOTION,
        }
    }
}

/// A recurrent state pair of the model.
struct StateTensor {
    input: String,
    output: String,
    shape: Vec<usize>,
    value: Vec<f32>,
}

/// What start() prepares: the model and what the contract says about it.
struct Engine {
    model: ModelHandle,
    cfg: FeatureConfig,
    lookahead: u64,
    fps: gst::Fraction,
    states: Vec<StateTensor>,
    has_speech: bool,
    has_pose: bool,
}

impl Engine {
    /// Checks an opened model against the audio2landmarks contract (docs/model-contract.md).
    fn new(model: ModelHandle) -> Result<Engine, String> {
        model.check_kind("audio2landmarks")?;
        let cfg = FeatureConfig {
            sample_rate: model.meta_parse("sample_rate")?,
            hop_length: model.meta_parse("hop_length")?,
            win_length: model.meta_parse("win_length")?,
            n_fft: model.meta_parse("n_fft")?,
            n_mels: model.meta_parse("n_mels")?,
            fmin: model.meta_parse("fmin")?,
            fmax: model.meta_parse("fmax")?,
            parts: FeatureConfig::parse_parts(model.meta_str("features")?)
                .map_err(|e| format!("model metadata talkingface.features: {e}"))?,
        };
        cfg.validate()
            .map_err(|e| format!("model metadata does not describe a usable front end: {e}"))?;
        let lookahead: u64 = model.meta_parse("lookahead")?;
        if lookahead > 1000 {
            return Err(format!(
                "model metadata talkingface.lookahead = {lookahead} frames is unreasonably long"
            ));
        }
        let fps = gst::Fraction::new(cfg.sample_rate as i32, cfg.hop_length as i32);
        let fps = gst::Fraction::new(fps.numer(), fps.denom()); // reduced by the constructor

        let feat = model
            .input("features")
            .ok_or("model has no input named \"features\" (f32 [1, T, F])")?;
        let fshape = feat
            .shape
            .as_ref()
            .ok_or("model input \"features\" is not a float32 tensor")?;
        if fshape.len() != 3 {
            return Err(format!(
                "model input \"features\" has rank {}, the contract says [1, T, F]",
                fshape.len()
            ));
        }
        if fshape[2] >= 0 && fshape[2] as usize != cfg.dim() {
            return Err(format!(
                "model input \"features\" takes {} values per frame, but its metadata (n_mels {} x features {:?}) gives {}",
                fshape[2],
                cfg.n_mels,
                model.meta_str("features")?,
                cfg.dim()
            ));
        }
        let mut states = Vec::new();
        for inp in &model.inputs {
            if inp.name == "features" {
                continue;
            }
            let Some(k) = inp.name.strip_prefix("state_in.") else {
                return Err(format!(
                    "model has an input {:?} that the contract does not know (features, state_in.<k>)",
                    inp.name
                ));
            };
            let shape = inp
                .shape
                .as_ref()
                .ok_or_else(|| format!("model input {:?} is not a float32 tensor", inp.name))?;
            let out_name = format!("state_out.{k}");
            if model.output(&out_name).is_none() {
                return Err(format!(
                    "model has input {:?} but no output {out_name:?} to carry the state",
                    inp.name
                ));
            }
            // A dynamic dimension of a state is its batch: 1.
            let shape: Vec<usize> = shape.iter().map(|&d| d.max(1) as usize).collect();
            let n = shape.iter().product();
            states.push(StateTensor {
                input: inp.name.clone(),
                output: out_name,
                shape,
                value: vec![0.0; n],
            });
        }
        let lm = model
            .output("landmarks")
            .ok_or("model has no output named \"landmarks\" (f32 [1, T, 68, 2])")?;
        match lm.shape.as_deref() {
            Some([_, _, p, 2]) if *p == N_POINTS as i64 || *p < 0 => {}
            Some(s) => {
                return Err(format!(
                    "model output \"landmarks\" has shape {s:?}, the contract says [1, T, 68, 2]"
                ))
            }
            None => return Err("model output \"landmarks\" is not a float32 tensor".into()),
        }
        let has_speech = model.output("speech").is_some();
        let has_pose = match model.output("pose") {
            None => false,
            Some(p) => match p.shape.as_deref() {
                Some([_, _, 6]) | Some([_, _, -1]) => true,
                other => {
                    return Err(format!(
                        "model output \"pose\" has shape {other:?}, the contract says [1, T, 6]"
                    ))
                }
            },
        };
        Ok(Engine {
            model,
            cfg,
            lookahead,
            fps,
            states,
            has_speech,
            has_pose,
        })
    }

    /// TensorRT's shape bounds: the features' time axis from 1 to [`MAX_RUN_FRAMES`] (a run never
    /// has more), their width the front end's; every other dynamic dimension (batch, a state's
    /// batch) is 1.
    fn trt_bounds(&self) -> Vec<DimBounds> {
        let mut b = vec![DimBounds {
            input: "features".into(),
            axis: 1,
            min: 1,
            opt: OPT_RUN_FRAMES as i64,
            max: MAX_RUN_FRAMES as i64,
        }];
        let dim = self.cfg.dim() as i64;
        b.push(DimBounds {
            input: "features".into(),
            axis: 2,
            min: dim,
            opt: dim,
            max: dim,
        });
        b
    }

    /// Algorithmic latency: one hop to fill a frame, the window's reach past it, the lookahead.
    fn latency(&self) -> gst::ClockTime {
        let samples = self.cfg.hop_length as u64
            + self.cfg.window_lookahead() as u64
            + self.lookahead * self.cfg.hop_length as u64;
        samples_to_time(samples, self.cfg.sample_rate)
    }

    fn reset(&mut self) {
        for s in &mut self.states {
            s.value.iter_mut().for_each(|v| *v = 0.0);
        }
    }

    /// Runs the model over `n` feature frames, carrying the state; appends the outputs. Runs of
    /// more than [`MAX_RUN_FRAMES`] are made in pieces: the state is carried from piece to piece
    /// as from buffer to buffer, so the outputs are the same.
    fn run(&mut self, feats: &[f32], n: usize, out: &mut ModelOutput) -> Result<(), String> {
        let dim = self.cfg.dim();
        let mut done = 0;
        while done < n {
            let k = (n - done).min(MAX_RUN_FRAMES);
            self.run_piece(&feats[done * dim..(done + k) * dim], k, out)?;
            done += k;
        }
        Ok(())
    }

    /// One model run over `n` (at most [`MAX_RUN_FRAMES`]) frames. The session may change from
    /// one run to the next (the GPU session taking over from the CPU one): the recurrent state
    /// is in `self.states`, fed in and read out on every run, so the new session continues it.
    fn run_piece(&mut self, feats: &[f32], n: usize, out: &mut ModelOutput) -> Result<(), String> {
        if n == 0 {
            return Ok(());
        }
        gst::debug!(CAT, "model run of {} frames", n);
        let dim = self.cfg.dim();
        let mut inputs: Vec<(String, ort::session::SessionInputValue<'_>)> =
            Vec::with_capacity(1 + self.states.len());
        inputs.push((
            "features".to_string(),
            TensorRef::from_array_view(([1usize, n, dim], &feats[..n * dim]))
                .map_err(|e| e.to_string())?
                .into(),
        ));
        for s in &self.states {
            inputs.push((
                s.input.clone(),
                TensorRef::from_array_view((s.shape.clone(), &s.value[..]))
                    .map_err(|e| e.to_string())?
                    .into(),
            ));
        }
        let outputs = self
            .model
            .session()?
            .run(inputs)
            .map_err(|e| format!("ONNX Runtime failed to run the model: {e}"))?;
        let (shape, lm) = outputs["landmarks"]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("model output \"landmarks\": {e}"))?;
        if lm.len() != n * N_POINTS * 2 {
            return Err(format!(
                "model output \"landmarks\" has shape {shape:?} for {n} input frames"
            ));
        }
        out.landmarks.extend_from_slice(lm);
        if self.has_speech {
            let (_, sp) = outputs["speech"]
                .try_extract_tensor::<f32>()
                .map_err(|e| format!("model output \"speech\": {e}"))?;
            if sp.len() != n {
                return Err(format!(
                    "model output \"speech\" has {} values for {n} frames",
                    sp.len()
                ));
            }
            out.speech.extend_from_slice(sp);
        }
        if self.has_pose {
            let (_, po) = outputs["pose"]
                .try_extract_tensor::<f32>()
                .map_err(|e| format!("model output \"pose\": {e}"))?;
            if po.len() != n * 6 {
                return Err(format!(
                    "model output \"pose\" has {} values for {n} frames",
                    po.len()
                ));
            }
            out.pose.extend_from_slice(po);
        }
        for s in &mut self.states {
            let (_, v) = outputs[s.output.as_str()]
                .try_extract_tensor::<f32>()
                .map_err(|e| format!("model output {:?}: {e}", s.output))?;
            if v.len() != s.value.len() {
                return Err(format!(
                    "model output {:?} has {} values, its state input {:?} has {}",
                    s.output,
                    v.len(),
                    s.input,
                    s.value.len()
                ));
            }
            s.value.copy_from_slice(v);
        }
        Ok(())
    }
}

/// Model outputs of one run, flattened.
#[derive(Default)]
struct ModelOutput {
    landmarks: Vec<f32>,
    speech: Vec<f32>,
    pose: Vec<f32>,
}

impl ModelOutput {
    fn clear(&mut self) {
        self.landmarks.clear();
        self.speech.clear();
        self.pose.clear();
    }
}

fn samples_to_time(samples: u64, rate: u32) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(
        (samples as u128 * gst::ClockTime::SECOND.nseconds() as u128 / rate as u128) as u64,
    )
}

fn time_to_samples(t: gst::ClockTime, rate: u32) -> u64 {
    (t.nseconds() as u128 * rate as u128 / gst::ClockTime::SECOND.nseconds() as u128) as u64
}

/// Running state of the stream; reset on flush and on a new stream.
struct State {
    engine: Engine,
    fe: FeatureExtractor,
    /// The model and session options it was opened with (a change made in READY reopens it at
    /// READY→PAUSED).
    opened_with: (PathBuf, SessionOptions),
    /// Time of frame 0 (and of sample 0).
    t0: Option<gst::ClockTime>,
    /// Model output frames so far (the first `lookahead` of them belong to no frame).
    model_frames: u64,
    discont: bool,
    warned_nonfinite: bool,
    segment: Option<gst::FormattedSegment<gst::ClockTime>>,
    feats: Vec<f32>,
    samples: Vec<f32>,
    out: ModelOutput,
    blinks: BlinkGenerator,
    head: HeadMotion,
}

impl State {
    /// What the model handle has to say about its provider since the last call.
    fn take_reports(&mut self) -> Vec<ProviderReport> {
        self.engine.model.take_reports()
    }

    fn reset_stream(&mut self) {
        self.engine.reset();
        self.fe.reset();
        self.t0 = None;
        self.model_frames = 0;
        self.warned_nonfinite = false;
        self.discont = true;
        self.blinks.reset();
        self.head.reset();
    }

    fn rate(&self) -> u32 {
        self.engine.cfg.sample_rate
    }

    fn frame_pts(&self, n: u64) -> gst::ClockTime {
        let t0 = self.t0.unwrap_or(gst::ClockTime::ZERO);
        t0 + samples_to_time(n * self.engine.cfg.hop_length as u64, self.rate())
    }

    /// Time of the next sample the front end expects.
    fn expected_time(&self) -> Option<gst::ClockTime> {
        self.t0
            .map(|t0| t0 + samples_to_time(self.fe.samples_pushed(), self.rate()))
    }
}

pub struct Audio2Landmarks {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// Provider in use, for the read-only property.
    provider: Mutex<Option<String>>,
    /// Stops a streaming thread that waits for a background model load (strict provider).
    gate: onnx::LoadGate,
}

impl Audio2Landmarks {
    fn sink_caps(&self) -> gst::Caps {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut b = gst_audio::AudioCapsBuilder::new_interleaved()
            .format(SAMPLE_FORMAT)
            .channels(1);
        if let Some(s) = state.as_ref() {
            b = b.rate(s.rate() as i32);
        }
        b.build()
    }

    fn src_caps(&self) -> gst::Caps {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.as_ref() {
            Some(s) => landmarks::caps(Some(s.engine.fps)),
            None => landmarks::template_caps(),
        }
    }

    /// Makes landmark buffers of the model outputs in `state.out` and clears them.
    fn make_frames(&self, state: &mut State, list: &mut gst::BufferListRef, eos: bool) {
        let n = state.out.landmarks.len() / (N_POINTS * 2);
        let (expr, blinks, head_amount) = {
            let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
            (s.expressiveness as f32, s.blinks, s.head_motion as f32)
        };
        let mean = landmarks::mean_face();
        let fps = state.engine.fps;
        for i in 0..n {
            let m = state.model_frames;
            state.model_frames += 1;
            if m < state.engine.lookahead {
                continue;
            }
            let idx = m - state.engine.lookahead;
            // At EOS only the frames that hold real samples are pushed.
            if eos && idx >= state.fe.frames_for(state.fe.samples_pushed()) {
                continue;
            }
            let mut f = LandmarkFrame {
                confidence: 1.0,
                ..LandmarkFrame::default()
            };
            let lm = &state.out.landmarks[i * N_POINTS * 2..(i + 1) * N_POINTS * 2];
            for (k, p) in f.points.iter_mut().enumerate() {
                let (x, y) = (lm[2 * k], lm[2 * k + 1]);
                let (x, y) = if x.is_finite() && y.is_finite() {
                    (x, y)
                } else {
                    (mean[k][0], mean[k][1])
                };
                *p = [
                    mean[k][0] + expr * (x - mean[k][0]),
                    mean[k][1] + expr * (y - mean[k][1]),
                ];
            }
            let speech = state.out.speech.get(i).copied().unwrap_or(0.0);
            if speech > 0.5 {
                f.flags |= FLAG_SPEECH;
            }
            if state.engine.has_pose {
                for (k, v) in f.pose.iter_mut().enumerate() {
                    let x = state.out.pose[i * 6 + k];
                    *v = if x.is_finite() { x } else { 0.0 };
                }
            } else if head_amount > 0.0 {
                // Prosody-driven motion from the mouth's activity and speech probability.
                let open = crate::faceshape::mouth_opening(&f.points);
                f.pose = state.head.step(open, speech, fps, head_amount);
            }
            if blinks && state.blinks.apply(&mut f, fps) {
                f.flags |= landmarks::FLAG_BLINK;
            }
            let pts = state.frame_pts(idx);
            let end = state.frame_pts(idx + 1);
            let mut buf = gst::Buffer::with_size(RECORD_SIZE).expect("small allocation");
            {
                let b = buf.get_mut().expect("new buffer is writable");
                b.set_pts(pts);
                b.set_duration(end - pts);
                b.set_offset(idx);
                b.set_offset_end(idx + 1);
                if state.discont {
                    b.set_flags(gst::BufferFlags::DISCONT);
                    state.discont = false;
                }
                if let Ok(mut map) = b.map_writable() {
                    let _ = f.write_to(map.as_mut_slice());
                }
            }
            list.add(buf);
        }
        state.out.clear();
    }

    /// Logs and posts what the model handle said about its provider (with no lock held), and
    /// keeps the provider for the read-only property.
    fn post_reports(&self, reports: Vec<ProviderReport>) {
        if reports.is_empty() {
            return;
        }
        if let Some(p) = onnx::post_reports(self.obj().upcast_ref(), *CAT, reports) {
            *self.provider.lock().unwrap_or_else(|e| e.into_inner()) = Some(p.nick().into());
        }
    }

    /// Under a strict provider whose session is still loading in the background: waits for it
    /// here, with the state lock released (queries and property reads go on meanwhile). False
    /// when the wait was given up (flushing or stopping).
    fn wait_for_model(&self) -> bool {
        let waiter = self
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|s| s.engine.model.waiter());
        match waiter {
            Some((w, gate)) => {
                gst::debug!(CAT, imp = self, "waiting for the model's background load");
                w.wait(&gate).is_ok()
            }
            None => true,
        }
    }

    /// A failed model run as a stream error naming the model and ONNX Runtime's message.
    fn inference_error(&self, e: String) -> gst::ErrorMessage {
        let model = self
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .model_path();
        gst::error_msg!(
            gst::StreamError::Failed,
            ("model {} failed: {}", model.display(), e)
        )
    }

    /// Feeds samples (already checked) through the front end and the model.
    fn process(
        &self,
        state: &mut State,
        list: &mut gst::BufferListRef,
        samples: &[f32],
    ) -> Result<(), gst::ErrorMessage> {
        state.feats.clear();
        let n = state.fe.push(samples, &mut state.feats);
        let feats = std::mem::take(&mut state.feats);
        let r = state.engine.run(&feats, n, &mut state.out);
        state.feats = feats;
        r.map_err(|e| self.inference_error(e))?;
        self.make_frames(state, list, false);
        Ok(())
    }

    /// EOS: feeds silence through the lookahead and pushes the last frames.
    fn drain(
        &self,
        state: &mut State,
        list: &mut gst::BufferListRef,
    ) -> Result<(), gst::ErrorMessage> {
        if state.t0.is_none() {
            return Ok(());
        }
        let total = state.fe.frames_for(state.fe.samples_pushed()) + state.engine.lookahead;
        state.feats.clear();
        let n = state.fe.finish(total, &mut state.feats);
        let feats = std::mem::take(&mut state.feats);
        let r = state.engine.run(&feats, n, &mut state.out);
        state.feats = feats;
        r.map_err(|e| self.inference_error(e))?;
        self.make_frames(state, list, true);
        Ok(())
    }

    /// Fills `duration` of silence (a gap in the input).
    fn fill_silence(
        &self,
        state: &mut State,
        list: &mut gst::BufferListRef,
        duration: gst::ClockTime,
    ) -> Result<(), gst::ErrorMessage> {
        let mut left = time_to_samples(duration, state.rate());
        let zeros = [0f32; 4096];
        while left > 0 {
            let k = left.min(zeros.len() as u64) as usize;
            self.process(state, list, &zeros[..k])?;
            left -= k as u64;
        }
        Ok(())
    }

    fn push_list(&self, list: gst::BufferList) -> Result<gst::FlowSuccess, gst::FlowError> {
        if list.is_empty() {
            return Ok(gst::FlowSuccess::Ok);
        }
        self.srcpad.push_list(list)
    }

    /// Places a buffer of audio starting at `pts` on the frame grid: fills gaps with silence or
    /// restarts the grid, and returns how many leading samples overlap what was already consumed.
    fn align(
        &self,
        state: &mut State,
        list: &mut gst::BufferListRef,
        pts: Option<gst::ClockTime>,
    ) -> Result<u64, gst::ErrorMessage> {
        let Some(pts) = pts else {
            if state.t0.is_none() {
                state.t0 = Some(
                    state
                        .segment
                        .as_ref()
                        .and_then(|s| s.start())
                        .unwrap_or(gst::ClockTime::ZERO),
                );
            }
            return Ok(0);
        };
        let Some(expected) = state.expected_time() else {
            state.t0 = Some(pts);
            return Ok(0);
        };
        let half_frame = samples_to_time(state.engine.cfg.hop_length as u64 / 2, state.rate());
        if pts > expected + half_frame {
            let gap = pts - expected;
            if gap <= MAX_GAP_FILL {
                gst::debug!(CAT, imp = self, "gap of {} in the input: silence", gap);
                self.fill_silence(state, list, gap)?;
            } else {
                gst::info!(
                    CAT,
                    imp = self,
                    "gap of {} in the input: new frame grid",
                    gap
                );
                self.drain(state, list)?;
                state.reset_stream();
                state.t0 = Some(pts);
            }
            Ok(0)
        } else if pts + half_frame < expected {
            Ok(time_to_samples(expected - pts, state.rate()))
        } else {
            Ok(0)
        }
    }

    fn sink_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        if !self.wait_for_model() {
            return Err(gst::FlowError::Flushing);
        }
        let mut list = gst::BufferList::new();
        // Bus messages wait until the state lock is released: a synchronous bus handler runs in
        // this thread and may read a property (latency) that takes that lock.
        let mut warning = None;
        let mut reports = Vec::new();
        let r = {
            let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
            match guard.as_mut() {
                None => Err((gst::FlowError::Flushing, None)),
                Some(state) => {
                    let r = self.chain_locked(
                        state,
                        list.get_mut().expect("new list is writable"),
                        &buffer,
                        &mut warning,
                    );
                    reports = state.take_reports();
                    r
                }
            }
        };
        self.post_reports(reports);
        if let Some(text) = warning {
            gst::element_imp_warning!(self, gst::StreamError::Format, ("{}", text));
        }
        match r {
            Ok(()) => self.push_list(list),
            // Stopped (or flushed) while waiting for the model's background load: no error.
            Err(_) if self.gate.is_flushing() => Err(gst::FlowError::Flushing),
            Err((flow, msg)) => {
                if let Some(msg) = msg {
                    self.post_error_message(msg);
                }
                Err(flow)
            }
        }
    }

    /// The body of [`Self::sink_chain`] under the state lock; messages are returned, not posted.
    #[allow(clippy::type_complexity)]
    fn chain_locked(
        &self,
        state: &mut State,
        lref: &mut gst::BufferListRef,
        buffer: &gst::Buffer,
        warning: &mut Option<String>,
    ) -> Result<(), (gst::FlowError, Option<gst::ErrorMessage>)> {
        let fail = |msg| (gst::FlowError::Error, Some(msg));
        let map = buffer.map_readable().map_err(|_| {
            fail(gst::error_msg!(
                gst::StreamError::Failed,
                ("cannot map buffer")
            ))
        })?;
        let bytes = map.as_slice();
        if bytes.len() % 4 != 0 {
            return Err(fail(gst::error_msg!(
                gst::StreamError::Format,
                (
                    "buffer of {} bytes is not a whole number of F32 samples",
                    bytes.len()
                )
            )));
        }
        if bytes.is_empty() {
            return Ok(());
        }
        if buffer.flags().contains(gst::BufferFlags::DISCONT) {
            state.discont = true;
        }
        let skip = self.align(state, lref, buffer.pts()).map_err(fail)? as usize;
        let total = bytes.len() / 4;
        if skip >= total {
            gst::debug!(
                CAT,
                imp = self,
                "dropping a buffer that overlaps consumed audio"
            );
            return Ok(());
        }
        let mut samples = std::mem::take(&mut state.samples);
        samples.clear();
        let mut bad = 0usize;
        samples.extend(bytes[skip * 4..].chunks_exact(4).map(|c| {
            let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            if v.is_finite() {
                v
            } else {
                bad += 1;
                0.0
            }
        }));
        if bad > 0 && !state.warned_nonfinite {
            state.warned_nonfinite = true;
            *warning = Some(format!(
                "input has NaN or infinite samples ({bad} in this buffer); they are replaced by silence"
            ));
        }
        let r = self.process(state, lref, &samples);
        state.samples = samples;
        r.map_err(fail)
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;
        gst::log!(CAT, obj = pad, "event {:?}", event.type_());
        match event.view() {
            EventView::Caps(c) => {
                let caps = c.caps();
                let Some(s) = caps.structure(0) else {
                    return false;
                };
                let rate = s.get::<i32>("rate").unwrap_or(0);
                let channels = s.get::<i32>("channels").unwrap_or(0);
                let little_endian_f32 =
                    s.get::<&str>("format").ok() == Some(SAMPLE_FORMAT.to_str());
                let out = {
                    let guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    let Some(state) = guard.as_ref() else {
                        return false;
                    };
                    if rate != state.rate() as i32 || channels != 1 || !little_endian_f32 {
                        Err(state.rate())
                    } else {
                        Ok(landmarks::caps(Some(state.engine.fps)))
                    }
                };
                // Posted with the state lock released (see sink_chain).
                let out = match out {
                    Ok(out) => out,
                    Err(model_rate) => {
                        gst::element_imp_error!(
                            self,
                            gst::CoreError::Negotiation,
                            ("caps {} cannot be met: the model needs mono F32LE at {} Hz (put audioconvert ! audioresample before this element)", caps, model_rate));
                        return false;
                    }
                };
                self.srcpad.push_event(gst::event::Caps::new(&out))
            }
            EventView::Segment(seg) => {
                let mut reports = Vec::new();
                let segment = seg.segment();
                let Some(tseg) = segment.downcast_ref::<gst::ClockTime>() else {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Format,
                        (
                            "only TIME segments are supported, got {:?}",
                            segment.format()
                        )
                    );
                    return false;
                };
                let mut list = gst::BufferList::new();
                let mut failed = None;
                {
                    let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(state) = guard.as_mut() {
                        // A new segment while running: finish the old grid first.
                        if state.t0.is_some() {
                            failed = self.drain(state, list.get_mut().expect("new list")).err();
                            state.reset_stream();
                        }
                        state.segment = Some(tseg.clone());
                        reports = state.take_reports();
                    }
                }
                self.post_reports(reports);
                if let Some(msg) = failed.filter(|_| !self.gate.is_flushing()) {
                    self.post_error_message(msg);
                }
                let _ = self.push_list(list);
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            EventView::Gap(g) => {
                let (ts, dur) = g.get();
                if !self.wait_for_model() {
                    return false;
                }
                let mut list = gst::BufferList::new();
                let mut reports = Vec::new();
                let r = {
                    let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    match guard.as_mut() {
                        Some(state) => {
                            let lref = list.get_mut().expect("new list");
                            let r = self.align(state, lref, Some(ts)).and_then(|_| {
                                let d = dur.unwrap_or(gst::ClockTime::ZERO).min(MAX_GAP_FILL);
                                self.fill_silence(state, lref, d)
                            });
                            reports = state.take_reports();
                            r
                        }
                        None => Ok(()),
                    }
                };
                self.post_reports(reports);
                if self.gate.is_flushing() && r.is_err() {
                    return false;
                }
                if let Err(msg) = r {
                    self.post_error_message(msg);
                    return false;
                }
                self.push_list(list).is_ok()
            }
            EventView::Eos(_) => {
                let mut reports = Vec::new();
                let mut list = gst::BufferList::new();
                let mut failed = None;
                {
                    let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(state) = guard.as_mut() {
                        failed = self.drain(state, list.get_mut().expect("new list")).err();
                        state.reset_stream();
                        reports = state.take_reports();
                    }
                }
                self.post_reports(reports);
                if let Some(msg) = failed.filter(|_| !self.gate.is_flushing()) {
                    self.post_error_message(msg);
                }
                let _ = self.push_list(list);
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            // A streaming thread waiting for the model's background load gives up (and takes the
            // stream lock's holder out of the way of the flush).
            EventView::FlushStart(_) => {
                self.gate.set_flushing(true);
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            EventView::FlushStop(_) => {
                self.gate.set_flushing(false);
                let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(state) = guard.as_mut() {
                    state.reset_stream();
                }
                drop(guard);
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }

    fn sink_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        use gst::QueryViewMut;
        match query.view_mut() {
            QueryViewMut::Caps(q) => {
                let caps = self.sink_caps();
                let caps = match q.filter() {
                    Some(f) => f.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
                    None => caps,
                };
                q.set_result(&caps);
                true
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        use gst::QueryViewMut;
        match query.view_mut() {
            QueryViewMut::Caps(q) => {
                let caps = self.src_caps();
                let caps = match q.filter() {
                    Some(f) => f.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
                    None => caps,
                };
                q.set_result(&caps);
                true
            }
            QueryViewMut::Latency(q) => {
                if !self.sinkpad.peer_query(q.query_mut()) {
                    return false;
                }
                let ours = {
                    let guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    match guard.as_ref() {
                        Some(s) => s.engine.latency(),
                        None => return false,
                    }
                };
                let (live, min, max) = q.result();
                gst::debug!(
                    CAT,
                    imp = self,
                    "latency: upstream {} (live {}), ours {}",
                    min,
                    live,
                    ours
                );
                q.set(live, min + ours, max.map(|m| m + ours));
                true
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    /// NULL→READY: opens the model and checks it against the contract.
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let path = &settings.model_path();
        // On the CPU at once; the GPU session (where the policy asks for one) in the background,
        // after the contract checks.
        let model = onnx::open_handle(
            self.obj().upcast_ref(),
            path,
            &settings.session,
            self.gate.clone(),
        )?;
        let mut engine = Engine::new(model).map_err(|e| {
            gst::error_msg!(
                gst::ResourceError::Settings,
                (
                    "model {} does not fit the audio2landmarks contract: {}",
                    path.display(),
                    e
                )
            )
        })?;
        let fe = FeatureExtractor::new(engine.cfg.clone())
            .map_err(|e| gst::error_msg!(gst::ResourceError::Settings, ("{}", e)))?;
        let bounds = engine.trt_bounds();
        engine
            .model
            .start_gpu(&bounds)
            .map_err(|e| gst::error_msg!(gst::ResourceError::Failed, ("audio2landmarks: {}", e)))?;
        let reports = engine.model.take_reports();
        gst::info!(
            CAT,
            imp = self,
            "model {} on {}: {} Hz, {} fps, lookahead {} frames, latency {}, {}",
            path.display(),
            engine.model.provider().map_or("(loading)", |p| p.nick()),
            engine.cfg.sample_rate,
            engine.fps,
            engine.lookahead,
            engine.latency(),
            engine
                .model
                .meta
                .get("description")
                .cloned()
                .unwrap_or_default()
        );
        let fps = engine.fps;
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
            engine,
            fe,
            opened_with: (path.clone(), settings.session.clone()),
            t0: None,
            model_frames: 0,
            discont: true,
            warned_nonfinite: false,
            segment: None,
            feats: Vec::new(),
            samples: Vec::new(),
            out: ModelOutput::default(),
            blinks: BlinkGenerator::new(fps),
            head: HeadMotion::new(),
        });
        // Unset while a strict provider loads (the first run waits for it).
        *self.provider.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.post_reports(reports);
        Ok(())
    }
}

#[glib::object_subclass]
impl ObjectSubclass for Audio2Landmarks {
    const NAME: &'static str = "GstAudio2Landmarks";
    type Type = super::Audio2Landmarks;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").expect("sink template");
        let sinkpad = gst::Pad::builder_from_template(&templ)
            .chain_function(|pad, parent, buffer| {
                Audio2Landmarks::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.sink_chain(pad, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                Audio2Landmarks::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                Audio2Landmarks::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_query(pad, query),
                )
            })
            .build();
        let templ = klass.pad_template("src").expect("src template");
        let srcpad = gst::Pad::builder_from_template(&templ)
            .query_function(|pad, parent, query| {
                Audio2Landmarks::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.src_query(pad, query),
                )
            })
            .flags(gst::PadFlags::FIXED_CAPS)
            .build();
        Self {
            sinkpad,
            srcpad,
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(None),
            provider: Mutex::new(None),
            gate: onnx::LoadGate::default(),
        }
    }
}

impl ObjectImpl for Audio2Landmarks {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut props = onnx::session_properties_with(DEFAULT_THREADS, false);
            props.extend([
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb("Path of the ONNX audio2landmarks model (default: the project's model in the user's data folder or the source tree's models/; its low-latency model with low-latency=true)")
                    .default_value(Some(default_model_path().to_string_lossy().as_ref()))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("low-latency")
                    .nick("Low latency")
                    .blurb("Where model is not set: use the project's low-latency model (at most one frame of lookahead; less latency, a little less accurate lip sync)")
                    .default_value(false)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("expressiveness")
                    .nick("Expressiveness")
                    .blurb("Scale of the predicted motion about the mean face (0: still, 1: as predicted)")
                    .minimum(0.0)
                    .maximum(3.0)
                    .default_value(DEFAULT_EXPRESSIVENESS)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("blinks")
                    .nick("Blinks")
                    .blurb("Synthesize eye blinks at a natural rate (flag bit 1 set on blink frames)")
                    .default_value(DEFAULT_BLINKS)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("head-motion")
                    .nick("Head motion")
                    .blurb("Amount of prosody-driven head motion when the model has no pose output (0: still head)")
                    .minimum(0.0)
                    .maximum(3.0)
                    .default_value(DEFAULT_HEAD_MOTION)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt64::builder("latency")
                    .nick("Latency")
                    .blurb("Algorithmic latency in nanoseconds (analysis window + lookahead), once started")
                    .read_only()
                    .build(),
            ]);
            props
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "model" => {
                s.model = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from);
            }
            "low-latency" => s.low_latency = value.get().unwrap_or(false),
            "expressiveness" => s.expressiveness = value.get().unwrap_or(DEFAULT_EXPRESSIVENESS),
            "blinks" => s.blinks = value.get().unwrap_or(DEFAULT_BLINKS),
            "head-motion" => s.head_motion = value.get().unwrap_or(DEFAULT_HEAD_MOTION),
            other => {
                if !s.session.set_property(other, value) {
                    gst::warning!(CAT, imp = self, "unknown property {}", other);
                }
            }
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "model" => s.model_path().to_string_lossy().to_string().to_value(),
            "low-latency" => s.low_latency.to_value(),
            "provider" => self
                .provider
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .to_value(),
            "expressiveness" => s.expressiveness.to_value(),
            "blinks" => s.blinks.to_value(),
            "head-motion" => s.head_motion.to_value(),
            "latency" => {
                drop(s);
                self.state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .map(|st| st.engine.latency().nseconds())
                    .unwrap_or(0)
                    .to_value()
            }
            other => s
                .session
                .property(other)
                .unwrap_or_else(|| glib::Value::from_type(pspec.value_type())),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).expect("add sink pad");
        obj.add_pad(&self.srcpad).expect("add src pad");
    }
}

impl GstObjectImpl for Audio2Landmarks {}

impl ElementImpl for Audio2Landmarks {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Audio to face landmarks",
                "Filter/Analyzer/Audio",
                "Predicts 68 facial landmarks per video frame from speech with an ONNX model \
                 (example: audioconvert ! audioresample ! audio2landmarks ! landmarksrender)",
                "talkingface developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink_caps = gst_audio::AudioCapsBuilder::new_interleaved()
                .format(SAMPLE_FORMAT)
                .channels(1)
                .build();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &sink_caps,
                )
                .expect("sink template"),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &landmarks::template_caps(),
                )
                .expect("src template"),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        gst::trace!(CAT, imp = self, "changing state {:?}", transition);
        // The model is opened at NULL→READY; `model`, `low-latency` and the session properties
        // may change in READY, so a change reopens it at READY→PAUSED.
        let reopen = transition == gst::StateChange::ReadyToPaused && {
            let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
            let want = (s.model_path(), s.session.clone());
            drop(s);
            self.state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .is_some_and(|st| st.opened_with != want)
        };
        self.gate.on_state_change(transition);
        if transition == gst::StateChange::NullToReady || reopen {
            if reopen {
                gst::info!(
                    CAT,
                    imp = self,
                    "model settings changed in READY: reopening"
                );
            }
            if let Err(msg) = self.start() {
                self.post_error_message(msg);
                return Err(gst::StateChangeError);
            }
        }
        let ret = self.parent_change_state(transition)?;
        match transition {
            gst::StateChange::PausedToReady => {
                if let Some(s) = self
                    .state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_mut()
                {
                    s.reset_stream();
                    s.segment = None;
                }
            }
            gst::StateChange::ReadyToNull => {
                *self.state.lock().unwrap_or_else(|e| e.into_inner()) = None;
                *self.provider.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
            _ => {}
        }
        Ok(ret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    fn speechish(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / 16000.0;
                let env = (0.5 - 0.5 * (2.0 * std::f32::consts::PI * 4.0 * t).cos()).powi(2);
                (1..6)
                    .map(|h| (2.0 * std::f32::consts::PI * 130.0 * h as f32 * t).sin() / h as f32)
                    .sum::<f32>()
                    * 0.3
                    * env
            })
            .collect()
    }

    fn engine(path: &Path) -> Engine {
        let opts = SessionOptions {
            threads: 1,
            ..SessionOptions::default()
        };
        let model = ModelHandle::open(path, &opts, onnx::LoadGate::default()).unwrap();
        Engine::new(model).unwrap()
    }

    /// Runs `feats` one frame per run (as a live stream does); `after_frame` is called after
    /// each run.
    fn frame_by_frame(
        e: &mut Engine,
        feats: &[f32],
        mut after_frame: impl FnMut(usize, &mut Engine),
    ) -> Vec<f32> {
        let dim = e.cfg.dim();
        let mut out = ModelOutput::default();
        for (i, f) in feats.chunks_exact(dim).enumerate() {
            e.run(f, 1, &mut out).unwrap();
            after_frame(i, e);
        }
        out.landmarks
    }

    /// Under `auto` the CPU session serves while another one loads; when the load finishes the
    /// next run is on the new session. The recurrent state is the element's (fed in and read out
    /// on every run), so the switch mid-stream changes nothing in the output.
    #[test]
    fn a_session_switch_mid_stream_continues_the_recurrent_state() {
        onnx::environment().expect("ONNX Runtime (scripts/setup.sh)");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for m in ["tests/models/a2l_test.onnx", "models/audio2landmarks.onnx"] {
            let path = root.join(m);
            let mut plain = engine(&path);
            let mut fe = FeatureExtractor::new(plain.cfg.clone()).unwrap();
            let mut feats = Vec::new();
            let n = fe.push(&speechish(16000 * 3), &mut feats);
            assert!(n >= 70);
            let want = frame_by_frame(&mut plain, &feats, |_, _| {});

            let mut switching = engine(&path);
            let (go, wait) = std::sync::mpsc::channel::<()>();
            let p2 = path.clone();
            switching
                .model
                .load_in_background(vec![onnx::Provider::Cpu], move || {
                    // Held until the test lets it finish (a slow GPU build).
                    let _ = wait.recv();
                    let env = onnx::environment()?;
                    let err = |e: &dyn std::fmt::Display| e.to_string();
                    let session = ort::session::Session::builder(env)
                        .map_err(|e| err(&e))?
                        .with_intra_threads(1)
                        .map_err(|e| err(&e))?
                        .commit_from_file(&p2)
                        .map_err(|e| err(&e))?;
                    Ok(onnx::Opened {
                        session,
                        provider: onnx::Provider::Cpu,
                        failures: Vec::new(),
                    })
                });
            let start = switching.model.take_reports();
            assert_eq!(start.len(), 1);
            assert_eq!(start[0].loading, vec![onnx::Provider::Cpu]);
            let mut switched_at = None;
            let got = frame_by_frame(&mut switching, &feats, |i, e| {
                if i == 20 {
                    let _ = go.send(());
                    // The load finishes while frames go on; give it the time to.
                    std::thread::sleep(Duration::from_millis(500));
                }
                if switched_at.is_none() && e.model.generation() == 1 {
                    switched_at = Some(i);
                }
            });
            // The switch happened at the first run after the load finished, mid-stream.
            assert_eq!(switched_at, Some(21), "{m}");
            let reports = switching.model.take_reports();
            assert_eq!(reports.len(), 1, "{m}");
            assert!(reports[0].seconds.is_some_and(|s| s >= 0.0));
            assert!(!switching.model.is_loading());
            assert_eq!(want.len(), got.len());
            let max = want
                .iter()
                .zip(&got)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(max < 1e-6, "{m}: the switch changed the output by {max}");
        }
    }

    /// A run longer than [`MAX_RUN_FRAMES`] is made in pieces with the same result.
    #[test]
    fn long_runs_are_split_with_the_same_result() {
        onnx::environment().expect("ONNX Runtime (scripts/setup.sh)");
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/audio2landmarks.onnx");
        let mut e = engine(&path);
        let mut fe = FeatureExtractor::new(e.cfg.clone()).unwrap();
        let mut feats = Vec::new();
        let n = fe.push(&speechish(16000 * 9), &mut feats);
        assert!(n > 2 * MAX_RUN_FRAMES);
        let mut whole = ModelOutput::default();
        e.run(&feats, n, &mut whole).unwrap();
        e.reset();
        let want = frame_by_frame(&mut e, &feats, |_, _| {});
        assert_eq!(whole.landmarks.len(), want.len());
        let max = want
            .iter()
            .zip(&whole.landmarks)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max < 1e-5, "{max}");
    }
}
