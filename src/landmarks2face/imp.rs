// SPDX-License-Identifier: MIT OR Apache-2.0
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_video::prelude::*;
use ort::value::TensorRef;

use super::identity::{decode_image, Crop, Identity, MIN_FACE_PX};
use super::{Mode, PortraitExpression};
use crate::face::{self, FaceAnalyzer, PortraitAnalyzer};
use crate::landmarks::{self, LandmarkFrame, N_POINTS};
use crate::onnx::{self, Model, SessionOptions};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "landmarks2face",
        gst::DebugColorFlags::empty(),
        Some("Landmarks and a portrait to video"),
    )
});

const OUT_FORMATS: &[gst_video::VideoFormat] = &[
    gst_video::VideoFormat::Rgba,
    gst_video::VideoFormat::Bgra,
    gst_video::VideoFormat::Rgbx,
    gst_video::VideoFormat::Bgrx,
    gst_video::VideoFormat::Rgb,
    gst_video::VideoFormat::Bgr,
    gst_video::VideoFormat::I420,
    gst_video::VideoFormat::Nv12,
];

const PORTRAIT_FORMATS: &[gst_video::VideoFormat] = &[
    gst_video::VideoFormat::Rgba,
    gst_video::VideoFormat::Rgbx,
    gst_video::VideoFormat::Bgra,
    gst_video::VideoFormat::Bgrx,
    gst_video::VideoFormat::Rgb,
    gst_video::VideoFormat::Bgr,
];

/// The default model (see [`onnx::default_model_path`]).
fn default_model_path() -> PathBuf {
    onnx::default_model_path("landmarks2face.onnx")
}

#[derive(Debug, Clone)]
struct Settings {
    model: PathBuf,
    portrait: Option<PathBuf>,
    face_model: PathBuf,
    face_detector: PathBuf,
    #[cfg(feature = "dlib")]
    dlib_model: Option<PathBuf>,
    face_index: u32,
    mode: Mode,
    expression: PortraitExpression,
    session: SessionOptions,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: default_model_path(),
            portrait: None,
            face_model: face::default_landmarker_path(),
            face_detector: face::default_detector_path(),
            #[cfg(feature = "dlib")]
            dlib_model: None,
            face_index: 0,
            mode: Mode::Full,
            expression: PortraitExpression::Neutral,
            session: SessionOptions::default(),
        }
    }
}

/// The model, checked against the landmarks2face contract.
struct Generator {
    model: Model,
    crop: Crop,
    has_mask: bool,
}

impl Generator {
    fn new(model: Model) -> Result<Generator, String> {
        model.check_kind("landmarks2face")?;
        let size: usize = model.meta_parse("size")?;
        if !(16..=2048).contains(&size) {
            return Err(format!(
                "model metadata talkingface.size = {size} is out of range"
            ));
        }
        let crop = Crop::parse(model.meta_str("crop")?, size)
            .map_err(|e| format!("model metadata talkingface.crop: {e}"))?;
        let expect = |name: &str, dims: &[i64]| -> Result<(), String> {
            let spec = model
                .input(name)
                .ok_or_else(|| format!("model has no input named {name:?}"))?;
            let shape = spec
                .shape
                .as_ref()
                .ok_or_else(|| format!("model input {name:?} is not a float32 tensor"))?;
            let ok = shape.len() == dims.len()
                && shape
                    .iter()
                    .zip(dims)
                    .all(|(a, b)| *a < 0 || *b < 0 || a == b);
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "model input {name:?} has shape {shape:?}, the contract says {dims:?}"
                ))
            }
        };
        let s = size as i64;
        expect("reference", &[-1, 3, s, s])?;
        expect("reference_landmarks", &[-1, N_POINTS as i64, 2])?;
        expect("target_landmarks", &[-1, N_POINTS as i64, 2])?;
        for i in &model.inputs {
            if !["reference", "reference_landmarks", "target_landmarks"].contains(&i.name.as_str())
            {
                return Err(format!(
                    "model asks for an input {:?} that this element cannot make",
                    i.name
                ));
            }
        }
        let frame = model
            .output("frame")
            .ok_or("model has no output named \"frame\" (f32 [N, 3, S, S])")?;
        match frame.shape.as_deref() {
            Some([_, c, h, w])
                if (*c == 3 || *c < 0) && (*h == s || *h < 0) && (*w == s || *w < 0) => {}
            other => {
                return Err(format!(
                    "model output \"frame\" has shape {other:?}, the contract says [N, 3, {s}, {s}]"
                ))
            }
        }
        let has_mask = model.output("mask").is_some();
        Ok(Generator {
            model,
            crop,
            has_mask,
        })
    }

    /// Runs the model for one target; fills `frame` (3 S S) and `mask` (S S, if any).
    fn run(
        &mut self,
        id: &Identity,
        target: &[[f32; 2]; N_POINTS],
        frame: &mut Vec<f32>,
        mask: &mut Vec<f32>,
    ) -> Result<(), String> {
        let s = self.crop.size;
        // The point arrays are contiguous: viewed as flat slices, no copy per frame.
        let rl = id.reference_landmarks.as_flattened();
        let tl = target.as_flattened();
        let inputs: Vec<(&str, ort::session::SessionInputValue<'_>)> = vec![
            (
                "reference",
                TensorRef::from_array_view(([1usize, 3, s, s], &id.reference[..]))
                    .map_err(|e| e.to_string())?
                    .into(),
            ),
            (
                "reference_landmarks",
                TensorRef::from_array_view(([1usize, N_POINTS, 2], rl))
                    .map_err(|e| e.to_string())?
                    .into(),
            ),
            (
                "target_landmarks",
                TensorRef::from_array_view(([1usize, N_POINTS, 2], tl))
                    .map_err(|e| e.to_string())?
                    .into(),
            ),
        ];
        let out = self
            .model
            .session
            .run(inputs)
            .map_err(|e| format!("ONNX Runtime failed to run the model: {e}"))?;
        let (_, f) = out["frame"]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("model output \"frame\": {e}"))?;
        if f.len() != 3 * s * s {
            return Err(format!(
                "model output \"frame\" has {} values, expected {}",
                f.len(),
                3 * s * s
            ));
        }
        frame.clear();
        frame.extend_from_slice(f);
        mask.clear();
        if self.has_mask {
            let (_, m) = out["mask"]
                .try_extract_tensor::<f32>()
                .map_err(|e| format!("model output \"mask\": {e}"))?;
            if m.len() == s * s {
                mask.extend_from_slice(m);
            }
        }
        Ok(())
    }
}

/// The negotiated output and how to get there from our RGBA rendering.
struct Output {
    info: gst_video::VideoInfo,
    /// RGBA at the natural size (crop, or portrait).
    rgba_info: gst_video::VideoInfo,
    converter: Option<gst_video::VideoConverter>,
    pool: gst::BufferPool,
    rgba: Option<gst::Buffer>,
}

struct State {
    generator: Generator,
    fps: Option<gst::Fraction>,
    segment: Option<gst::FormattedSegment<gst::ClockTime>>,
    /// The segment event waits for our caps (sent with the first frame).
    pending_segment: Option<gst::Event>,
    output: Option<Output>,
    /// Identity the output was negotiated for (size changes renegotiate).
    natural: Option<(u32, u32)>,
    earliest: Option<gst::ClockTime>,
    frame: Vec<f32>,
    mask: Vec<f32>,
    dropped: u64,
}

pub struct Landmarks2Face {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    portrait_pad: Mutex<Option<gst::Pad>>,
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    landmarker: Mutex<Option<PortraitAnalyzer>>,
    identity: Mutex<Option<Arc<Identity>>>,
    /// Hash of the last portrait frame from the pad, to skip repeated frames.
    portrait_hash: Mutex<Option<u64>>,
    portrait_info: Mutex<Option<gst_video::VideoInfo>>,
    provider: Mutex<Option<String>>,
    /// Whole records out of the landmark byte stream, however it is cut.
    records: Mutex<landmarks::RecordReader>,
}

fn src_template_caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format_list(OUT_FORMATS.iter().copied())
        .build()
}

fn hash_bytes(b: &[u8]) -> u64 {
    // FNV-1a over 8-byte words (the portrait only changes rarely; this is a change detector).
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for c in b.chunks(8) {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        h ^= u64::from_le_bytes(w);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Landmarks2Face {
    fn natural_size(&self, state: &State, id: &Identity) -> (u32, u32) {
        let mode = self.settings.lock().unwrap_or_else(|e| e.into_inner()).mode;
        match mode {
            Mode::Crop => (
                state.generator.crop.size as u32,
                state.generator.crop.size as u32,
            ),
            Mode::Full => (id.width as u32, id.height as u32),
        }
    }

    /// Negotiates the output: the natural size and RGBA where downstream allows, else the nearest.
    fn negotiate(&self, state: &mut State, natural: (u32, u32)) -> Result<(), gst::ErrorMessage> {
        let fps = state.fps.unwrap_or(gst::Fraction::new(25, 1));
        let ours = gst_video::VideoCapsBuilder::new()
            .format_list(OUT_FORMATS.iter().copied())
            .framerate(fps)
            .build();
        let peer = self.srcpad.peer_query_caps(Some(&ours));
        if peer.is_empty() {
            return Err(gst::error_msg!(
                gst::CoreError::Negotiation,
                (
                    "downstream accepts none of the output caps {} (video/x-raw RGBA, RGB, I420, ... at {}/{} fps)",
                    ours,
                    fps.numer(),
                    fps.denom()
                )
            ));
        }
        let mut caps = peer;
        caps.truncate();
        {
            let caps = caps.make_mut();
            if let Some(s) = caps.structure_mut(0) {
                s.fixate_field_nearest_int("width", natural.0 as i32);
                s.fixate_field_nearest_int("height", natural.1 as i32);
                s.fixate_field_nearest_fraction("framerate", fps);
                if let Ok(list) = s.get::<gst::List>("format") {
                    if list.iter().any(|v| v.get::<&str>().ok() == Some("RGBA")) {
                        s.set("format", "RGBA");
                    }
                }
                if s.has_field("pixel-aspect-ratio") {
                    s.fixate_field_nearest_fraction("pixel-aspect-ratio", gst::Fraction::new(1, 1));
                }
            }
        }
        caps.fixate();
        let info = gst_video::VideoInfo::from_caps(&caps).map_err(|_| {
            gst::error_msg!(
                gst::CoreError::Negotiation,
                ("cannot make output caps from {}", caps)
            )
        })?;
        let rgba_info =
            gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgba, natural.0, natural.1)
                .fps(info.fps())
                .build()
                .map_err(|_| {
                    gst::error_msg!(
                        gst::CoreError::Negotiation,
                        ("bad output size {:?}", natural)
                    )
                })?;
        let converter = if info.format() == gst_video::VideoFormat::Rgba
            && info.width() == natural.0
            && info.height() == natural.1
        {
            None
        } else {
            Some(
                gst_video::VideoConverter::new(&rgba_info, &info, None).map_err(|e| {
                    gst::error_msg!(
                        gst::CoreError::Negotiation,
                        (
                            "cannot convert RGBA {}x{} to {}: {}",
                            natural.0,
                            natural.1,
                            caps,
                            e
                        )
                    )
                })?,
            )
        };
        if !self.srcpad.push_event(gst::event::Caps::new(&caps)) {
            return Err(gst::error_msg!(
                gst::CoreError::Negotiation,
                ("downstream refused the caps {}", caps)
            ));
        }
        if let Some(old) = state.output.take() {
            let _ = old.pool.set_active(false);
        }
        let pool = gst::BufferPool::new();
        let mut cfg = pool.config();
        cfg.set_params(Some(&caps), info.size() as u32, 2, 0);
        pool.set_config(cfg).map_err(|_| {
            gst::error_msg!(
                gst::CoreError::Negotiation,
                ("cannot configure a buffer pool")
            )
        })?;
        pool.set_active(true).map_err(|_| {
            gst::error_msg!(
                gst::CoreError::Negotiation,
                ("cannot activate a buffer pool")
            )
        })?;
        gst::info!(
            CAT,
            imp = self,
            "output {} (rendering {}x{})",
            caps,
            natural.0,
            natural.1
        );
        state.output = Some(Output {
            info,
            rgba_info,
            converter,
            pool,
            rgba: None,
        });
        state.natural = Some(natural);
        if let Some(seg) = state.pending_segment.take() {
            self.srcpad.push_event(seg);
        }
        Ok(())
    }

    /// Expression and pose of a frame applied to the portrait's landmarks (crop units): to its
    /// neutral (mouth closed) landmarks, or to its own as photographed (`keep`).
    fn retarget(
        id: &Identity,
        f: &LandmarkFrame,
        expression: PortraitExpression,
    ) -> [[f32; 2]; N_POINTS] {
        if f.confidence <= 0.0 {
            return id.reference_landmarks;
        }
        let mean = landmarks::mean_face();
        let k = id.crop.canonical_scale();
        let mut t = match expression {
            PortraitExpression::Neutral => id.neutral_landmarks,
            PortraitExpression::Keep => id.reference_landmarks,
        };
        for (i, p) in t.iter_mut().enumerate() {
            p[0] += k * (f.points[i][0] - mean[i][0]);
            p[1] += k * (f.points[i][1] - mean[i][1]);
        }
        let pose = [
            f.pose[0],
            f.pose[1],
            f.pose[2],
            f.pose[3] * k,
            f.pose[4] * k,
            f.pose[5],
        ];
        for p in t.iter_mut() {
            *p = landmarks::apply_pose(*p, &pose);
        }
        t
    }

    fn render(
        &self,
        state: &mut State,
        id: &Identity,
        f: &LandmarkFrame,
        inbuf: &gst::BufferRef,
    ) -> Result<Option<gst::Buffer>, (gst::FlowError, gst::ErrorMessage)> {
        let natural = self.natural_size(state, id);
        let reconfigure = self.srcpad.check_reconfigure();
        if reconfigure || state.output.is_none() || state.natural != Some(natural) {
            self.negotiate(state, natural)
                .map_err(|m| (gst::FlowError::NotNegotiated, m))?;
        }
        let expression = self
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expression;
        let target = Self::retarget(id, f, expression);
        let (mut frame, mut mask) = (
            std::mem::take(&mut state.frame),
            std::mem::take(&mut state.mask),
        );
        let r = state.generator.run(id, &target, &mut frame, &mut mask);
        let (mode, model) = {
            let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
            (s.mode, s.model.clone())
        };
        let out = state.output.as_mut().ok_or_else(|| {
            let m = gst::error_msg!(gst::CoreError::Negotiation, ("output not negotiated"));
            (gst::FlowError::NotNegotiated, m)
        })?;
        // An inference failure is a stream error, not a negotiation one.
        let result = r.map_err(|e| {
            gst::error_msg!(
                gst::StreamError::Failed,
                (
                    "model {} failed on the frame at {}: {}",
                    model.display(),
                    inbuf.pts().display(),
                    e
                )
            )
        });
        let flow_err = |what: &str| gst::error_msg!(gst::StreamError::Failed, ("{}", what));
        let outbuf = result.and_then(|_| {
            let mut outbuf = out
                .pool
                .acquire_buffer(None)
                .map_err(|_| flow_err("cannot get an output buffer"))?;
            {
                let ob = outbuf
                    .get_mut()
                    .ok_or_else(|| flow_err("output buffer not writable"))?;
                let write_rgba = |dst: &mut [u8]| match mode {
                    Mode::Crop => id.crop_to_rgba(&frame, dst),
                    Mode::Full => id.paste_to_rgba(
                        &frame,
                        if mask.is_empty() { None } else { Some(&mask) },
                        dst,
                    ),
                };
                match &out.converter {
                    None => {
                        let mut vf =
                            gst_video::VideoFrameRef::from_buffer_ref_writable(ob, &out.info)
                                .map_err(|_| flow_err("cannot map the output frame"))?;
                        let stride = vf.plane_stride()[0] as usize;
                        let w = out.info.width() as usize * 4;
                        let data = vf
                            .plane_data_mut(0)
                            .map_err(|_| flow_err("cannot map the output plane"))?;
                        if stride == w {
                            write_rgba(&mut data[..w * out.info.height() as usize]);
                        } else {
                            let mut tmp = vec![0u8; w * out.info.height() as usize];
                            write_rgba(&mut tmp);
                            for (row, src) in data.chunks_mut(stride).zip(tmp.chunks(w)) {
                                row[..w].copy_from_slice(src);
                            }
                        }
                    }
                    Some(conv) => {
                        let size = out.rgba_info.size();
                        let mut rgba = match out.rgba.take() {
                            Some(b) if b.size() == size && b.is_writable() => b,
                            _ => gst::Buffer::with_size(size)
                                .map_err(|_| flow_err("cannot allocate a frame"))?,
                        };
                        {
                            let rb = rgba
                                .get_mut()
                                .ok_or_else(|| flow_err("frame not writable"))?;
                            let mut vf = gst_video::VideoFrameRef::from_buffer_ref_writable(
                                rb,
                                &out.rgba_info,
                            )
                            .map_err(|_| flow_err("cannot map the frame"))?;
                            let stride = vf.plane_stride()[0] as usize;
                            let w = out.rgba_info.width() as usize * 4;
                            let data = vf
                                .plane_data_mut(0)
                                .map_err(|_| flow_err("cannot map the frame plane"))?;
                            if stride == w {
                                write_rgba(&mut data[..w * out.rgba_info.height() as usize]);
                            } else {
                                let mut tmp = vec![0u8; w * out.rgba_info.height() as usize];
                                write_rgba(&mut tmp);
                                for (row, src) in data.chunks_mut(stride).zip(tmp.chunks(w)) {
                                    row[..w].copy_from_slice(src);
                                }
                            }
                        }
                        {
                            let src = gst_video::VideoFrameRef::from_buffer_ref_readable(
                                rgba.as_ref(),
                                &out.rgba_info,
                            )
                            .map_err(|_| flow_err("cannot map the frame"))?;
                            let mut dst =
                                gst_video::VideoFrameRef::from_buffer_ref_writable(ob, &out.info)
                                    .map_err(|_| flow_err("cannot map the output frame"))?;
                            conv.frame_ref(&src, &mut dst);
                        }
                        out.rgba = Some(rgba);
                    }
                }
                ob.set_pts(inbuf.pts());
                ob.set_duration(inbuf.duration());
                ob.set_offset(inbuf.offset());
                ob.set_offset_end(inbuf.offset_end());
                if inbuf.flags().contains(gst::BufferFlags::DISCONT) {
                    ob.set_flags(gst::BufferFlags::DISCONT);
                }
            }
            Ok(outbuf)
        });
        state.frame = frame;
        state.mask = mask;
        outbuf.map(Some).map_err(|m| (gst::FlowError::Error, m))
    }

    /// The landmark byte stream, cut anywhere: one frame per whole record.
    fn sink_chain(
        &self,
        pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.push(buffer);
        while let Some(rec) = records.pop() {
            // Not held while the frame goes downstream.
            drop(records);
            self.frame_chain(pad, rec)?;
            records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        }
        Ok(gst::FlowSuccess::Ok)
    }

    fn frame_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let frame = {
            let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
            match LandmarkFrame::from_bytes(map.as_slice()) {
                Ok(f) => f,
                Err(e) => {
                    gst::element_imp_error!(self, gst::StreamError::Format, ("{}", e));
                    return Err(gst::FlowError::Error);
                }
            }
        };
        let identity = self
            .identity
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(id) = identity else {
            // No portrait yet (it comes through the pad): keep downstream going with a gap.
            gst::debug!(CAT, imp = self, "no portrait yet; gap");
            let negotiated = self
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .is_some_and(|s| s.output.is_some());
            if let (true, Some(pts)) = (negotiated, buffer.pts()) {
                let mut gap = gst::event::Gap::builder(pts);
                if let Some(d) = buffer.duration() {
                    gap = gap.duration(d);
                }
                self.srcpad.push_event(gap.build());
            }
            return Ok(gst::FlowSuccess::Ok);
        };
        let out = {
            let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let Some(state) = guard.as_mut() else {
                return Err(gst::FlowError::Flushing);
            };
            // QoS: a frame that would reach the sink too late is not rendered.
            if let (Some(earliest), Some(seg), Some(pts)) =
                (state.earliest, state.segment.as_ref(), buffer.pts())
            {
                if let Some(rt) = seg.to_running_time(pts) {
                    let end = rt + buffer.duration().unwrap_or(gst::ClockTime::ZERO);
                    if end < earliest {
                        state.dropped += 1;
                        gst::debug!(CAT, imp = self, "late frame {} dropped (QoS)", pts);
                        let qos = gst::message::Qos::builder(true)
                            .running_time(rt)
                            .stream_time(seg.to_stream_time(pts))
                            .timestamp(pts)
                            .duration(buffer.duration())
                            .src(&*self.obj())
                            .build();
                        drop(guard);
                        let _ = self.obj().post_message(qos);
                        return Ok(gst::FlowSuccess::Ok);
                    }
                }
            }
            match self.render(state, &id, &frame, &buffer) {
                Ok(b) => b,
                Err((flow, msg)) => {
                    drop(guard);
                    self.post_error_message(msg);
                    return Err(flow);
                }
            }
        };
        match out {
            Some(b) => self.srcpad.push(b),
            None => Ok(gst::FlowSuccess::Ok),
        }
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;
        let (event, left) = self
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .event(event);
        if let Some(n) = left {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Format,
                ("{}", landmarks::leftover_message(n))
            );
        }
        match event.view() {
            EventView::Caps(c) => {
                let fps = c
                    .caps()
                    .structure(0)
                    .and_then(|s| s.get::<gst::Fraction>("framerate").ok());
                let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(state) = guard.as_mut() {
                    if state.fps != fps {
                        state.fps = fps;
                        state.output = None;
                    }
                }
                // Our own caps go out with the first frame.
                true
            }
            EventView::Segment(s) => {
                let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(state) = guard.as_mut() {
                    if let Some(seg) = s.segment().downcast_ref::<gst::ClockTime>() {
                        state.segment = Some(seg.clone());
                    }
                    if state.output.is_none() {
                        // Sent after our caps, with the first frame.
                        state.pending_segment = Some(event);
                        return true;
                    }
                }
                drop(guard);
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            EventView::FlushStop(_) => {
                if let Some(state) = self
                    .state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_mut()
                {
                    state.earliest = None;
                }
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }

    fn src_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        if let gst::EventView::Qos(q) = event.view() {
            let (_, _, diff, ts) = q.get();
            if let Some(ts) = ts {
                let earliest = if diff > 0 {
                    ts + gst::ClockTime::from_nseconds(diff as u64)
                } else {
                    ts.saturating_sub(gst::ClockTime::from_nseconds(diff.unsigned_abs()))
                };
                if let Some(state) = self
                    .state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_mut()
                {
                    state.earliest = Some(earliest);
                }
            }
        }
        gst::Pad::event_default(pad, Some(&*self.obj()), event)
    }

    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        use gst::QueryViewMut;
        match query.view_mut() {
            QueryViewMut::Latency(q) => {
                if !self.sinkpad.peer_query(q.query_mut()) {
                    return false;
                }
                // One frame of processing time.
                let fps = self
                    .state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .and_then(|s| s.fps)
                    .unwrap_or(gst::Fraction::new(25, 1));
                let ours = gst::ClockTime::SECOND
                    .mul_div_ceil(fps.denom() as u64, fps.numer().max(1) as u64)
                    .unwrap_or(gst::ClockTime::ZERO);
                let (live, min, max) = q.result();
                q.set(live, min + ours, max.map(|m| m + ours));
                true
            }
            QueryViewMut::Caps(q) => {
                let caps = src_template_caps();
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

    /// A portrait frame from the pad: a new identity when it changed.
    fn portrait_chain(&self, buffer: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let Some(info) = self
            .portrait_info
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        else {
            return Err(gst::FlowError::NotNegotiated);
        };
        let vf = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), &info)
            .map_err(|_| gst::FlowError::Error)?;
        let (w, h) = (info.width() as usize, info.height() as usize);
        let stride = vf.plane_stride()[0] as usize;
        let data = vf.plane_data(0).map_err(|_| gst::FlowError::Error)?;
        let hash = hash_bytes(data);
        {
            let mut last = self.portrait_hash.lock().unwrap_or_else(|e| e.into_inner());
            if *last == Some(hash) {
                return Ok(gst::FlowSuccess::Ok);
            }
            *last = Some(hash);
        }
        let (order, bpp): ([usize; 3], usize) = match info.format() {
            gst_video::VideoFormat::Rgba | gst_video::VideoFormat::Rgbx => ([0, 1, 2], 4),
            gst_video::VideoFormat::Bgra | gst_video::VideoFormat::Bgrx => ([2, 1, 0], 4),
            gst_video::VideoFormat::Rgb => ([0, 1, 2], 3),
            gst_video::VideoFormat::Bgr => ([2, 1, 0], 3),
            _ => return Err(gst::FlowError::NotNegotiated),
        };
        let mut rgba = vec![255u8; w * h * 4];
        for y in 0..h {
            let row = &data[y * stride..y * stride + w * bpp];
            for x in 0..w {
                for c in 0..3 {
                    rgba[(y * w + x) * 4 + c] = row[x * bpp + order[c]];
                }
            }
        }
        drop(vf);
        let crop = match self
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some(s) => s.generator.crop,
            None => return Err(gst::FlowError::Flushing),
        };
        let face_index = self
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .face_index as usize;
        let r = {
            let mut lm = self.landmarker.lock().unwrap_or_else(|e| e.into_inner());
            match lm.as_mut() {
                Some(lm) => self.identity_from(lm, rgba, w, h, face_index, crop),
                None => return Err(gst::FlowError::Flushing),
            }
        };
        match r {
            Ok(id) => {
                gst::info!(CAT, imp = self, "new portrait from the pad: {}x{}", w, h);
                *self.identity.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(id));
            }
            Err(e) => {
                // Keep the previous identity; say why this one was not taken.
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Decode,
                    ("portrait from the pad not used: {}", e)
                );
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }

    fn portrait_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Caps(c) => match gst_video::VideoInfo::from_caps(c.caps()) {
                Ok(info) => {
                    *self.portrait_info.lock().unwrap_or_else(|e| e.into_inner()) = Some(info);
                    true
                }
                Err(_) => {
                    gst::element_imp_error!(
                        self,
                        gst::CoreError::Negotiation,
                        ("portrait caps {} are not raw RGB video", c.caps())
                    );
                    false
                }
            },
            // The portrait stream's own timeline does not reach the output.
            gst::EventView::Eos(_)
            | gst::EventView::Segment(_)
            | gst::EventView::StreamStart(_)
            | gst::EventView::FlushStart(_)
            | gst::EventView::FlushStop(_)
            | gst::EventView::Gap(_) => true,
            _ => {
                let _ = pad;
                true
            }
        }
    }

    /// Opens the face analysis of portraits: the ONNX models, or dlib where built and asked for.
    fn open_face_analysis(settings: &Settings) -> Result<PortraitAnalyzer, gst::ErrorMessage> {
        #[cfg(feature = "dlib")]
        if let Some(p) = &settings.dlib_model {
            let lm = crate::dlib::FaceLandmarker::new(p)
                .map_err(|e| gst::error_msg!(gst::ResourceError::OpenRead, ("{}", e)))?;
            return Ok(PortraitAnalyzer::Dlib(Box::new(lm)));
        }
        let a = FaceAnalyzer::load(
            &settings.face_detector,
            &settings.face_model,
            &settings.session,
        )
        .map_err(|e| {
            let kind = if settings.face_detector.is_file() && settings.face_model.is_file() {
                gst::ResourceError::OpenRead
            } else {
                gst::ResourceError::NotFound
            };
            gst::error_msg!(kind, ("landmarks2face: {}", e))
        })?;
        Ok(PortraitAnalyzer::Onnx(Box::new(a)))
    }

    /// Finds the face of a portrait and prepares it; warns when there were several faces.
    fn identity_from(
        &self,
        analyzer: &mut PortraitAnalyzer,
        rgba: Vec<u8>,
        w: usize,
        h: usize,
        face_index: usize,
        crop: Crop,
    ) -> Result<Identity, String> {
        let face = analyzer.portrait(&rgba, w, h, face_index, MIN_FACE_PX)?;
        if !face.others.is_empty() {
            let others: Vec<String> = face.others.iter().map(|x| format!("{x:.0}px")).collect();
            gst::element_imp_warning!(
                self,
                gst::StreamError::Decode,
                (
                    "found {} faces in the portrait; using the {} ({:.0}px), not {} (face-index chooses another)",
                    face.others.len() + 1,
                    if face_index == 0 { "largest".to_string() } else { format!("face {face_index} in order of size") },
                    face.width,
                    others.join(", ")
                )
            );
        }
        if face.quarter_turns != 0 {
            gst::info!(
                CAT,
                imp = self,
                "portrait face found turned by {} degrees",
                face.quarter_turns * 90
            );
        }
        let id = Identity::new(rgba, w, h, &face.points, crop)?;
        gst::info!(
            CAT,
            imp = self,
            "portrait face {:.0}px wide, mouth opening {:.3} (portrait-expression=neutral starts from it closed)",
            face.width,
            id.mouth_opening
        );
        Ok(id)
    }

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let path = &settings.model;
        let (model, msg) =
            onnx::open_model(self.obj().upcast_ref(), *CAT, path, &settings.session)?;
        let provider = model.provider.nick().to_string();
        let generator = Generator::new(model).map_err(|e| {
            gst::error_msg!(
                gst::ResourceError::Settings,
                (
                    "model {} does not fit the landmarks2face contract: {}",
                    path.display(),
                    e
                )
            )
        })?;
        let mut landmarker = Self::open_face_analysis(&settings)?;
        let crop = generator.crop;
        let identity = match &settings.portrait {
            Some(p) => {
                let d = decode_image(p)
                    .map_err(|e| gst::error_msg!(gst::ResourceError::OpenRead, ("{}", e)))?;
                let (rgba, w, h) = (d.rgba, d.width, d.height);
                if d.original != (w as u32, h as u32) {
                    gst::element_imp_warning!(
                        self,
                        gst::ResourceError::Settings,
                        (
                            "portrait {} is {}x{}: scaled down to {}x{} (landmarks2face works on at most {} pixels a side)",
                            p.display(),
                            d.original.0,
                            d.original.1,
                            w,
                            h,
                            super::identity::MAX_PORTRAIT_SIDE
                        )
                    );
                }
                let face_index = settings.face_index as usize;
                let id = self
                    .identity_from(&mut landmarker, rgba, w, h, face_index, crop)
                    .map_err(|e| {
                        gst::error_msg!(
                            gst::ResourceError::Settings,
                            ("portrait {}: {}", p.display(), e)
                        )
                    })?;
                Some(Arc::new(id))
            }
            None => {
                if self
                    .portrait_pad
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_none()
                {
                    return Err(gst::error_msg!(
                        gst::ResourceError::Settings,
                        ("no portrait: set the portrait property (a PNG or JPEG file) or link the portrait pad")
                    ));
                }
                None
            }
        };
        gst::info!(
            CAT,
            imp = self,
            "model {} on {}, crop {}x{}",
            path.display(),
            provider,
            generator.crop.size,
            generator.crop.size
        );
        // Keep the face analysis only when portraits can still come through the pad (dlib's
        // model costs about 85 MB resident, the ONNX models a few).
        let pad_linked = self
            .portrait_pad
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        *self.landmarker.lock().unwrap_or_else(|e| e.into_inner()) =
            pad_linked.then_some(landmarker);
        *self.identity.lock().unwrap_or_else(|e| e.into_inner()) = identity;
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
            generator,
            fps: None,
            segment: None,
            pending_segment: None,
            output: None,
            natural: None,
            earliest: None,
            frame: Vec::new(),
            mask: Vec::new(),
            dropped: 0,
        });
        *self.provider.lock().unwrap_or_else(|e| e.into_inner()) = Some(provider);
        let _ = self.obj().post_message(msg);
        Ok(())
    }
}

#[glib::object_subclass]
impl ObjectSubclass for Landmarks2Face {
    const NAME: &'static str = "GstLandmarks2Face";
    type Type = super::Landmarks2Face;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").expect("sink template");
        let sinkpad = gst::Pad::builder_from_template(&templ)
            .chain_function(|pad, parent, buffer| {
                Landmarks2Face::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.sink_chain(pad, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                Landmarks2Face::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_event(pad, event),
                )
            })
            .build();
        let templ = klass.pad_template("src").expect("src template");
        let srcpad = gst::Pad::builder_from_template(&templ)
            .event_function(|pad, parent, event| {
                Landmarks2Face::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.src_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                Landmarks2Face::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.src_query(pad, query),
                )
            })
            .build();
        Self {
            sinkpad,
            srcpad,
            portrait_pad: Mutex::new(None),
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(None),
            landmarker: Mutex::new(None),
            identity: Mutex::new(None),
            portrait_hash: Mutex::new(None),
            portrait_info: Mutex::new(None),
            provider: Mutex::new(None),
            records: Mutex::new(landmarks::RecordReader::new()),
        }
    }
}

impl ObjectImpl for Landmarks2Face {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut props = onnx::session_properties(0);
            props.extend([
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb("Path of the ONNX landmarks2face model (default: the project's model)")
                    .default_value(Some(default_model_path().to_string_lossy().as_ref()))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("portrait")
                    .nick("Portrait")
                    .blurb("PNG or JPEG file of the face to animate (or link the portrait pad)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("face-model")
                    .nick("Face landmark model")
                    .blurb("ONNX face landmark model for the portrait (default: models/face_landmarks.onnx, MediaPipe's, Apache-2.0)")
                    .default_value(Some(face::default_landmarker_path().to_string_lossy().as_ref()))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("face-detector-model")
                    .nick("Face detector model")
                    .blurb("ONNX face detector model for the portrait (default: models/face_detector.onnx, MediaPipe's, Apache-2.0)")
                    .default_value(Some(face::default_detector_path().to_string_lossy().as_ref()))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("face-index")
                    .nick("Face index")
                    .blurb("Which face of the portrait to animate when it has several: 0 the largest, 1 the next, ...")
                    .maximum(64)
                    .default_value(0)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("mode", Mode::Full)
                    .nick("Mode")
                    .blurb("Output the aligned face crop, or the whole portrait with the face pasted back")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default(
                    "portrait-expression",
                    PortraitExpression::Neutral,
                )
                .nick("Portrait expression")
                .blurb("What the stream's expression is added to: the portrait with a closed, neutral mouth (an open-mouthed photo closes in silence), or its own expression as photographed")
                .mutable_playing()
                .build(),
                glib::ParamSpecUInt64::builder("dropped")
                    .nick("Dropped")
                    .blurb("Frames dropped because they would have been late (QoS)")
                    .read_only()
                    .build(),
            ]);
            #[cfg(feature = "dlib")]
            props.push(
                glib::ParamSpecString::builder("dlib-model")
                    .nick("dlib model")
                    .blurb("dlib's shape_predictor_68_face_landmarks.dat: when set, dlib finds the portrait's face instead of the ONNX models (its model is not free for commercial use)")
                    .mutable_ready()
                    .build(),
            );
            props
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        let path = |v: &glib::Value| v.get::<Option<String>>().ok().flatten().map(PathBuf::from);
        match pspec.name() {
            "model" => s.model = path(value).unwrap_or_else(default_model_path),
            "portrait" => s.portrait = path(value),
            "face-model" => {
                s.face_model = path(value).unwrap_or_else(face::default_landmarker_path)
            }
            "face-detector-model" => {
                s.face_detector = path(value).unwrap_or_else(face::default_detector_path)
            }
            #[cfg(feature = "dlib")]
            "dlib-model" => s.dlib_model = path(value),
            "face-index" => s.face_index = value.get().unwrap_or(0),
            "mode" => s.mode = value.get().unwrap_or_default(),
            "portrait-expression" => s.expression = value.get().unwrap_or_default(),
            other => {
                if !s.session.set_property(other, value) {
                    gst::warning!(CAT, imp = self, "unknown property {}", other);
                }
            }
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().to_string());
        match pspec.name() {
            "model" => s.model.to_string_lossy().to_string().to_value(),
            "portrait" => path(&s.portrait).to_value(),
            "face-model" => s.face_model.to_string_lossy().to_string().to_value(),
            "face-detector-model" => s.face_detector.to_string_lossy().to_string().to_value(),
            #[cfg(feature = "dlib")]
            "dlib-model" => path(&s.dlib_model).to_value(),
            "face-index" => s.face_index.to_value(),
            "mode" => s.mode.to_value(),
            "portrait-expression" => s.expression.to_value(),
            "provider" => self
                .provider
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .to_value(),
            "dropped" => {
                drop(s);
                self.state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .map(|st| st.dropped)
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

impl GstObjectImpl for Landmarks2Face {}

impl ElementImpl for Landmarks2Face {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Landmarks to face",
                "Filter/Editor/Video",
                "Animates a portrait with a stream of facial landmarks through an ONNX model \
                 (example: audio2landmarks ! landmarks2face portrait=face.jpg ! videoconvert ! autovideosink)",
                "talkingface developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let portrait_caps = gst_video::VideoCapsBuilder::new()
                .format_list(PORTRAIT_FORMATS.iter().copied())
                .build();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &landmarks::template_caps(),
                )
                .expect("sink template"),
                gst::PadTemplate::new(
                    "portrait",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Request,
                    &portrait_caps,
                )
                .expect("portrait template"),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &src_template_caps(),
                )
                .expect("src template"),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn request_new_pad(
        &self,
        templ: &gst::PadTemplate,
        _name: Option<&str>,
        _caps: Option<&gst::Caps>,
    ) -> Option<gst::Pad> {
        let mut slot = self.portrait_pad.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            gst::warning!(CAT, imp = self, "there is only one portrait pad");
            return None;
        }
        let pad = gst::Pad::builder_from_template(templ)
            .name("portrait")
            .chain_function(|_pad, parent, buffer| {
                Landmarks2Face::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.portrait_chain(buffer),
                )
            })
            .event_function(|pad, parent, event| {
                Landmarks2Face::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.portrait_event(pad, event),
                )
            })
            .build();
        pad.set_active(true).ok()?;
        self.obj().add_pad(&pad).ok()?;
        *slot = Some(pad.clone());
        Some(pad)
    }

    fn release_pad(&self, pad: &gst::Pad) {
        let mut slot = self.portrait_pad.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref() == Some(pad) {
            *slot = None;
        }
        drop(slot);
        let _ = pad.set_active(false);
        let _ = self.obj().remove_pad(pad);
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::NullToReady {
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
                    s.earliest = None;
                    s.segment = None;
                    if let Some(o) = s.output.take() {
                        let _ = o.pool.set_active(false);
                    }
                    s.natural = None;
                }
                *self.portrait_hash.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
            gst::StateChange::ReadyToNull => {
                *self.state.lock().unwrap_or_else(|e| e.into_inner()) = None;
                *self.landmarker.lock().unwrap_or_else(|e| e.into_inner()) = None;
                *self.identity.lock().unwrap_or_else(|e| e.into_inner()) = None;
                *self.provider.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
            _ => {}
        }
        Ok(ret)
    }
}
