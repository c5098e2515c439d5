// SPDX-License-Identifier: MIT OR Apache-2.0
//! The element: a `GstAggregator` with the landmark stream as its master pad (`sink`: its frames
//! set the output's timing, one output frame per landmark frame with its timestamps) and the
//! optional `portrait` request pad (raw video; a new picture takes effect from the landmark frame
//! whose running time reaches the picture's). Events, queries, negotiation, QoS and the state;
//! the properties are in `settings`, the portraits (file and pad) in `portrait`, the pixels and
//! tensors in the other sibling modules.

use std::sync::{LazyLock, Mutex, MutexGuard};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;

use super::composite::Output;
use super::generator::Generator;
use super::identity::Identity;
use super::portrait::{self, PortraitStream};
use super::retarget::retarget;
use super::settings::{self, Settings};
use super::{Mode, PortraitExpression};
use crate::landmarks::{self, LandmarkFrame};
use crate::onnx;

pub(super) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
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

/// Everything from READY on: the models, the identity and the stream.
struct State {
    /// The settings the models and the identity were made from (a change made in READY remakes
    /// them at READY→PAUSED).
    opened_with: Settings,
    generator: Generator,
    /// The provider in use (unset while a strict provider loads in the background).
    provider: Option<String>,
    identity: Option<Identity>,
    /// The portrait pad's frames and their face analysis.
    portrait: PortraitStream,
    /// The landmark stream's frame rate and segment (in time).
    fps: Option<gst::Fraction>,
    segment: gst::FormattedSegment<gst::ClockTime>,
    /// Whole records out of the landmark byte stream, however it is cut.
    records: landmarks::RecordReader,
    /// The next landmark frame (a whole record), waiting for the portrait pad or its turn.
    pending: Option<gst::Buffer>,
    /// The size the output is negotiated for (the crop's, or the identity's).
    natural: Option<(u32, u32)>,
    output: Option<Output>,
    frame: Vec<f32>,
    mask: Vec<f32>,
}

impl State {
    fn reset_stream(&mut self) {
        self.records.reset();
        self.pending = None;
        self.portrait.reset();
        self.segment = gst::FormattedSegment::new();
    }
}

/// QoS: kept apart from [`State`], whose lock is held while a frame renders, because QoS events
/// come from downstream's thread.
#[derive(Default)]
struct Qos {
    earliest: Option<gst::ClockTime>,
    dropped: u64,
}

pub struct Landmarks2Face {
    /// The landmark stream.
    sinkpad: gst_base::AggregatorPad,
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    qos: Mutex<Qos>,
    /// Stops the aggregate thread waiting for the generator's background load (strict provider).
    gate: onnx::LoadGate,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn src_template_caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format_list(OUT_FORMATS.iter().copied())
        .build()
}

/// One frame at `fps`.
fn frame_duration(fps: gst::Fraction) -> Option<gst::ClockTime> {
    if fps.numer() <= 0 || fps.denom() <= 0 {
        return None;
    }
    gst::ClockTime::SECOND.mul_div_ceil(fps.denom() as u64, fps.numer() as u64)
}

/// Messages to post once the state lock is released (a bus handler may call back into us).
#[derive(Default)]
struct Deferred(Vec<gst::Message>);

impl Landmarks2Face {
    /// A copy of the settings.
    pub(super) fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    fn portrait_pad(&self) -> Option<gst_base::AggregatorPad> {
        self.obj()
            .static_pad("portrait")
            .and_then(|p| p.downcast::<gst_base::AggregatorPad>().ok())
    }

    /// NULL to READY: the model, the face analysis, and the identity of the `portrait` property.
    fn open(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let path = &settings.model;
        // On the CPU at once; the GPU session (where the policy asks for one) in the background,
        // after the contract checks.
        let model = onnx::open_handle(
            self.obj().upcast_ref(),
            path,
            &settings.session,
            self.gate.clone(),
        )?;
        let mut generator = Generator::new(model).map_err(|e| {
            gst::error_msg!(
                gst::ResourceError::Settings,
                (
                    "model {} does not fit the landmarks2face contract: {}",
                    path.display(),
                    e
                )
            )
        })?;
        // Static shapes but the batch, which the TensorRT profile pins to 1.
        generator
            .model
            .start_gpu(&[])
            .map_err(|e| gst::error_msg!(gst::ResourceError::Failed, ("landmarks2face: {}", e)))?;
        let reports = generator.model.take_reports();
        let provider = generator.model.provider().map(|p| p.nick().to_string());
        let mut analyzer = portrait::open_face_analysis(&settings)?;
        let crop = generator.crop;
        let has_pad = self.portrait_pad().is_some();
        let mut deferred = Deferred::default();
        let identity = match &settings.portrait {
            Some(_) => Some(portrait::identity_of_file(
                self,
                &settings,
                &mut analyzer,
                crop,
                &mut deferred.0,
            )?),
            None if has_pad => None,
            None => {
                return Err(gst::error_msg!(
                    gst::ResourceError::Settings,
                    ("no portrait: set the portrait property (a PNG or JPEG file) or link the portrait pad")
                ));
            }
        };
        gst::info!(
            CAT,
            imp = self,
            "model {} on {}, crop {}x{}",
            path.display(),
            provider.as_deref().unwrap_or("(loading)"),
            crop.size,
            crop.size
        );
        *lock(&self.state) = Some(State {
            opened_with: settings.clone(),
            generator,
            provider,
            identity,
            // The face analysis is kept only while portraits can come through the pad (dlib's
            // model costs about 85 MB resident, the ONNX models a few); a pad requested later
            // opens it again.
            portrait: PortraitStream::new(has_pad.then_some(analyzer)),
            fps: None,
            segment: gst::FormattedSegment::new(),
            records: landmarks::RecordReader::new(),
            pending: None,
            natural: None,
            output: None,
            frame: Vec::new(),
            mask: Vec::new(),
        });
        *lock(&self.qos) = Qos::default();
        for m in deferred.0 {
            let _ = self.obj().post_message(m);
        }
        onnx::post_reports(self.obj().upcast_ref(), *CAT, reports);
        Ok(())
    }

    /// The landmark frame for this round: the one waiting, or the next whole record of the
    /// landmark byte stream (buffers cut anywhere are collected by the record reader).
    /// Err(Eos) when the landmark stream has ended, with the warning for a partial record left
    /// over.
    fn next_landmark_frame(
        &self,
        state: &mut State,
        deferred: &mut Deferred,
    ) -> Result<gst::Buffer, gst::FlowError> {
        if let Some(b) = state.pending.take() {
            return Ok(b);
        }
        loop {
            if let Some(rec) = state.records.pop() {
                return Ok(rec);
            }
            match self.sinkpad.pop_buffer() {
                Some(b) => state.records.push(b),
                None if self.sinkpad.is_eos() => {
                    let left = state.records.pending();
                    if left > 0 {
                        state.records.reset();
                        deferred.0.push(
                            gst::message::Warning::builder(
                                gst::StreamError::Format,
                                &landmarks::leftover_message(left),
                            )
                            .src(&*self.obj())
                            .build(),
                        );
                    }
                    return Err(gst::FlowError::Eos);
                }
                None => return Err(gst_base::AGGREGATOR_FLOW_NEED_DATA),
            }
        }
    }

    /// Takes the portrait frames due by running time `rt` (all of them where `rt` is unknown);
    /// true when the frame must wait for the portrait pad.
    fn collect_portraits(
        &self,
        state: &mut State,
        rt: Option<gst::ClockTime>,
        timeout: bool,
    ) -> bool {
        let Some(pad) = self.portrait_pad() else {
            return false;
        };
        let has_identity = state.identity.is_some();
        state.portrait.collect(&pad, rt, timeout, has_identity)
    }

    /// Skips a frame that would reach the sink too late (live pipelines only); says so on the bus.
    fn late(
        &self,
        state: &State,
        buffer: &gst::Buffer,
        rt: Option<gst::ClockTime>,
        live: bool,
    ) -> Option<gst::Message> {
        let rt = rt?;
        if !live {
            return None;
        }
        let end = rt + buffer.duration().unwrap_or(gst::ClockTime::ZERO);
        // Late by QoS (the sink said so), or by the clock (the frame's deadline, its running time
        // plus the latency we report, has passed already: no sink needs to send QoS for a
        // pipeline that cannot keep up to skip frames instead of falling further behind).
        let past_deadline = self
            .obj()
            .latency()
            .zip(self.obj().current_running_time())
            .is_some_and(|(lat, now)| now > rt + lat);
        let mut qos = lock(&self.qos);
        let late_by_qos = qos.earliest.is_some_and(|earliest| end < earliest);
        if !late_by_qos && !past_deadline {
            return None;
        }
        qos.dropped += 1;
        let dropped = qos.dropped;
        drop(qos);
        gst::debug!(
            CAT,
            imp = self,
            "late frame {:?} dropped ({})",
            buffer.pts(),
            if late_by_qos {
                "QoS"
            } else {
                "past its deadline"
            }
        );
        Some(
            gst::message::Qos::builder(live)
                .running_time(rt)
                .stream_time(buffer.pts().and_then(|t| state.segment.to_stream_time(t)))
                .timestamp(buffer.pts())
                .duration(buffer.duration())
                .stats(
                    gst::format::Buffers::from_u64(0),
                    gst::format::Buffers::from_u64(dropped),
                )
                .src(&*self.obj())
                .build(),
        )
    }

    /// The output's size for the identity in this mode.
    fn natural_size(state: &State, id: &Identity, mode: Mode) -> (u32, u32) {
        match mode {
            Mode::Crop => (
                state.generator.crop.size as u32,
                state.generator.crop.size as u32,
            ),
            Mode::Full => (id.width as u32, id.height as u32),
        }
    }

    /// Renders one landmark frame into an output buffer.
    fn render(
        &self,
        state: &mut State,
        frame: &LandmarkFrame,
        inbuf: &gst::Buffer,
        mode: Mode,
        expression: PortraitExpression,
        model: &std::path::Path,
    ) -> Result<gst::Buffer, gst::ErrorMessage> {
        let failed = |what: String| gst::error_msg!(gst::StreamError::Failed, ("{}", what));
        let State {
            generator,
            identity,
            output,
            frame: f,
            mask,
            ..
        } = state;
        let id = identity
            .as_ref()
            .ok_or_else(|| failed("no portrait".into()))?;
        let out = output.as_mut().ok_or_else(|| {
            gst::error_msg!(gst::CoreError::Negotiation, ("output not negotiated"))
        })?;
        let target = retarget(id, frame, expression);
        // An inference failure is a stream error naming the model and the frame.
        generator.run(id, &target, f, mask).map_err(|e| {
            failed(format!(
                "model {} failed on the frame at {}: {}",
                model.display(),
                inbuf.pts().display(),
                e
            ))
        })?;
        if let Some(e) = generator.take_binding_note() {
            gst::warning!(
                CAT,
                imp = self,
                "no IoBinding for the model; every frame hands all its inputs to ONNX Runtime: {}",
                e
            );
        }
        let mut outbuf = match self.obj().buffer_pool() {
            Some(pool) => {
                if !pool.is_active() {
                    pool.set_active(true)
                        .map_err(|_| failed("cannot activate the output buffer pool".into()))?;
                }
                pool.acquire_buffer(None)
                    .map_err(|e| failed(format!("cannot get an output buffer: {e:?}")))?
            }
            None => gst::Buffer::with_size(out.info.size())
                .map_err(|_| failed("cannot allocate an output buffer".into()))?,
        };
        {
            let ob = outbuf
                .get_mut()
                .ok_or_else(|| failed("output buffer not writable".into()))?;
            let m = if mask.is_empty() {
                None
            } else {
                Some(&mask[..])
            };
            out.render(id, mode, f, m, ob).map_err(failed)?;
            ob.set_pts(inbuf.pts());
            ob.set_duration(inbuf.duration());
            ob.set_offset(inbuf.offset());
            ob.set_offset_end(inbuf.offset_end());
            if inbuf.flags().contains(gst::BufferFlags::DISCONT) {
                ob.set_flags(gst::BufferFlags::DISCONT);
            }
        }
        Ok(outbuf)
    }
}

#[glib::object_subclass]
impl ObjectSubclass for Landmarks2Face {
    const NAME: &'static str = "GstLandmarks2Face";
    type Type = super::Landmarks2Face;
    type ParentType = gst_base::Aggregator;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").expect("sink template");
        let sinkpad = gst::PadBuilder::<gst_base::AggregatorPad>::from_template(&templ)
            .name("sink")
            .build();
        Self {
            sinkpad,
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(None),
            qos: Mutex::new(Qos::default()),
            gate: onnx::LoadGate::default(),
        }
    }
}
impl ObjectImpl for Landmarks2Face {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(settings::properties);
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if !lock(&self.settings).set(pspec.name(), value) {
            gst::warning!(CAT, imp = self, "unknown property {}", pspec.name());
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "provider" => lock(&self.state)
                .as_ref()
                .and_then(|st| st.provider.clone())
                .to_value(),
            "dropped" => lock(&self.qos).dropped.to_value(),
            name => lock(&self.settings)
                .get(name)
                .unwrap_or_else(|| glib::Value::from_type(pspec.value_type())),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).expect("add sink pad");
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
            let portrait_caps = portrait::template_caps();
            let pad = gst_base::AggregatorPad::static_type();
            vec![
                gst::PadTemplate::with_gtype(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &landmarks::template_caps(),
                    pad,
                )
                .expect("sink template"),
                gst::PadTemplate::with_gtype(
                    "portrait",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Request,
                    &portrait_caps,
                    pad,
                )
                .expect("portrait template"),
                gst::PadTemplate::with_gtype(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &src_template_caps(),
                    pad,
                )
                .expect("src template"),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn request_new_pad(
        &self,
        templ: &gst::PadTemplate,
        name: Option<&str>,
        caps: Option<&gst::Caps>,
    ) -> Option<gst::Pad> {
        let pad = self.parent_request_new_pad(templ, name, caps)?;
        // Already past NULL without a portrait pad: the face analysis was not kept; open it now
        // so that the pad's portraits are used.
        let mut guard = lock(&self.state);
        if let Some(state) = guard.as_mut() {
            if state.portrait.analyzer.is_none() {
                let settings = lock(&self.settings).clone();
                match portrait::open_face_analysis(&settings) {
                    Ok(a) => state.portrait.analyzer = Some(a),
                    Err(msg) => {
                        drop(guard);
                        self.post_error_message(msg);
                        self.parent_release_pad(&pad);
                        return None;
                    }
                }
            }
        }
        Some(pad)
    }

    fn release_pad(&self, pad: &gst::Pad) {
        if let Some(state) = lock(&self.state).as_mut() {
            state.portrait.reset();
        }
        self.parent_release_pad(pad);
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        // The models and the portrait are opened at NULL→READY; a change of their properties made
        // in READY reopens them at READY→PAUSED (the per-frame ones, mode and
        // portrait-expression, are read as they are used).
        let reopen = transition == gst::StateChange::ReadyToPaused && {
            let want = lock(&self.settings).clone();
            lock(&self.state)
                .as_ref()
                .is_some_and(|st| !st.opened_with.same_resources(&want))
        };
        // The aggregate thread, if it waits for the generator's background load, gives up.
        self.gate.on_state_change(transition);
        if transition == gst::StateChange::NullToReady || reopen {
            if let Err(msg) = self.open() {
                self.post_error_message(msg);
                return Err(gst::StateChangeError);
            }
        }
        let ret = self.parent_change_state(transition)?;
        if transition == gst::StateChange::ReadyToNull {
            *lock(&self.state) = None;
        }
        Ok(ret)
    }
}

impl AggregatorImpl for Landmarks2Face {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(s) = lock(&self.state).as_mut() {
            s.reset_stream();
            s.output = None;
            s.natural = None;
        }
        lock(&self.qos).earliest = None;
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        self.start()
    }

    fn flush(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.gate.set_flushing(false);
        if let Some(s) = lock(&self.state).as_mut() {
            s.records.reset();
            s.pending = None;
            s.portrait.flush();
        }
        lock(&self.qos).earliest = None;
        Ok(gst::FlowSuccess::Ok)
    }

    fn create_new_pad(
        &self,
        templ: &gst::PadTemplate,
        _req_name: Option<&str>,
        _caps: Option<&gst::Caps>,
    ) -> Option<gst_base::AggregatorPad> {
        if templ.name_template() != "portrait" {
            return None;
        }
        if self.portrait_pad().is_some() {
            gst::warning!(CAT, imp = self, "there is only one portrait pad");
            return None;
        }
        Some(
            gst::PadBuilder::<gst_base::AggregatorPad>::from_template(templ)
                .name("portrait")
                .build(),
        )
    }

    /// Live: the running time of the next landmark frame; the portrait pad is not waited for past
    /// it (plus the latency).
    fn next_time(&self) -> Option<gst::ClockTime> {
        let guard = lock(&self.state);
        let state = guard.as_ref()?;
        let next = state
            .pending
            .clone()
            .or_else(|| self.sinkpad.peek_buffer())?;
        Some(
            next.pts()
                .and_then(|t| state.segment.to_running_time(t))
                .unwrap_or(gst::ClockTime::ZERO),
        )
    }

    fn sink_event(&self, pad: &gst_base::AggregatorPad, event: gst::Event) -> bool {
        use gst::EventView;
        if event.type_() == gst::EventType::FlushStart {
            // The aggregate thread, if it waits for the generator's background load, gives up.
            self.gate.set_flushing(true);
        }
        let mut event = event;
        if pad == &self.sinkpad && event.type_() != gst::EventType::Eos {
            // The reader takes the frame rate, the segment (one in bytes becomes the same span
            // in time) and flushes; a partial record at EOS is found when the frames run out.
            if let Some(st) = lock(&self.state).as_mut() {
                event = st.records.event(event).0;
            }
        }
        if pad == &self.sinkpad {
            match event.view() {
                EventView::Caps(c) => {
                    let fps = c
                        .caps()
                        .structure(0)
                        .and_then(|s| s.get::<gst::Fraction>("framerate").ok());
                    let changed = match lock(&self.state).as_mut() {
                        Some(s) if s.fps != fps => {
                            s.fps = fps;
                            true
                        }
                        _ => false,
                    };
                    // One frame of processing time, at the stream's own rate.
                    if let Some(d) = fps.and_then(frame_duration) {
                        self.obj().set_latency(d, Some(d));
                    }
                    if changed {
                        self.obj().src_pad().mark_reconfigure();
                    }
                }
                EventView::Segment(s) => {
                    let Some(seg) = s.segment().downcast_ref::<gst::ClockTime>().cloned() else {
                        gst::element_imp_error!(
                            self,
                            gst::StreamError::Format,
                            (
                                "landmark stream segment in {:?}; landmarks2face needs a segment in time",
                                s.segment().format()
                            )
                        );
                        return false;
                    };
                    if let Some(st) = lock(&self.state).as_mut() {
                        st.segment = seg.clone();
                    }
                    // The output's timeline is the landmark stream's.
                    self.obj().update_segment(&seg);
                }
                EventView::FlushStop(_) => {
                    if let Some(st) = lock(&self.state).as_mut() {
                        st.pending = None;
                    }
                    lock(&self.qos).earliest = None;
                }
                _ => {}
            }
        } else {
            match event.view() {
                EventView::Caps(c) => match gst_video::VideoInfo::from_caps(c.caps()) {
                    Ok(info) => {
                        if let Some(st) = lock(&self.state).as_mut() {
                            st.portrait.info = Some(info);
                        }
                    }
                    Err(_) => {
                        gst::element_imp_error!(
                            self,
                            gst::CoreError::Negotiation,
                            ("portrait caps {} are not raw video", c.caps())
                        );
                        return false;
                    }
                },
                EventView::FlushStop(_) => {
                    if let Some(st) = lock(&self.state).as_mut() {
                        st.portrait.flush();
                    }
                }
                _ => {}
            }
        }
        self.parent_sink_event(pad, event)
    }

    fn src_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::Qos(q) = event.view() {
            let (_, _, diff, ts) = q.get();
            if let Some(ts) = ts {
                let earliest = if diff > 0 {
                    ts + gst::ClockTime::from_nseconds(diff as u64)
                } else {
                    ts.saturating_sub(gst::ClockTime::from_nseconds(diff.unsigned_abs()))
                };
                lock(&self.qos).earliest = Some(earliest);
            }
        }
        self.parent_src_event(event)
    }

    /// Downstream's caps, fixated to the natural size (crop or portrait) and RGBA where it allows.
    fn update_src_caps(&self, caps: &gst::Caps) -> Result<gst::Caps, gst::FlowError> {
        let (natural, fps) = match lock(&self.state).as_ref() {
            Some(s) => (s.natural, s.fps),
            None => return Err(gst::FlowError::Flushing),
        };
        // Not before the first identity: its size is the output's.
        let Some(natural) = natural else {
            return Err(gst_base::AGGREGATOR_FLOW_NEED_DATA);
        };
        let fps = fps.unwrap_or(gst::Fraction::new(25, 1));
        let ours = gst_video::VideoCapsBuilder::new()
            .format_list(OUT_FORMATS.iter().copied())
            .framerate(fps)
            .build();
        let mut caps = caps.intersect_with_mode(&ours, gst::CapsIntersectMode::First);
        if caps.is_empty() {
            gst::warning!(CAT, imp = self, "downstream accepts none of {}", ours);
            return Err(gst::FlowError::NotNegotiated);
        }
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
        Ok(caps)
    }

    fn negotiated_src_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|_| gst::loggable_error!(CAT, "cannot make output caps from {}", caps))?;
        let mut guard = lock(&self.state);
        let state = guard
            .as_mut()
            .ok_or_else(|| gst::loggable_error!(CAT, "not started"))?;
        let natural = state
            .natural
            .ok_or_else(|| gst::loggable_error!(CAT, "no portrait yet"))?;
        let output = Output::new(info, natural).map_err(|e| gst::loggable_error!(CAT, "{}", e))?;
        gst::info!(
            CAT,
            imp = self,
            "output {} (rendering {}x{})",
            caps,
            natural.0,
            natural.1
        );
        state.output = Some(output);
        Ok(())
    }

    /// A video buffer pool for the output, downstream's where it offers one; buffers carry a
    /// video meta where downstream supports it (then their layout may be downstream's own).
    fn decide_allocation(
        &self,
        query: &mut gst::query::Allocation,
    ) -> Result<(), gst::LoggableError> {
        let (caps, _) = query.get_owned();
        let caps =
            caps.ok_or_else(|| gst::loggable_error!(CAT, "allocation query without caps"))?;
        let info = gst_video::VideoInfo::from_caps(&caps)
            .map_err(|_| gst::loggable_error!(CAT, "cannot read caps {}", caps))?;
        let video_meta = query
            .find_allocation_meta::<gst_video::VideoMeta>()
            .is_some();
        let proposed = query.allocation_pools().next();
        let has_pool = proposed.is_some();
        let (pool, size, min, max) = match proposed {
            Some((pool, size, min, max)) => (pool, size.max(info.size() as u32), min, max),
            None => (None, info.size() as u32, 2, 0),
        };
        let configure = |pool: &gst::BufferPool| -> bool {
            let mut cfg = pool.config();
            cfg.set_params(Some(&caps), size, min, max);
            if video_meta {
                cfg.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META);
            }
            pool.set_config(cfg).is_ok()
        };
        let pool = match pool.filter(|p| configure(p)) {
            Some(p) => p,
            None => {
                let ours = gst_video::VideoBufferPool::new().upcast::<gst::BufferPool>();
                if !configure(&ours) {
                    return Err(gst::loggable_error!(
                        CAT,
                        "cannot configure a buffer pool for {}",
                        caps
                    ));
                }
                ours
            }
        };
        gst::debug!(
            CAT,
            imp = self,
            "output pool {:?}, video meta {}",
            pool,
            video_meta
        );
        if has_pool {
            query.set_nth_allocation_pool(0, Some(&pool), size, min, max);
        } else {
            query.add_allocation_pool(Some(&pool), size, min, max);
        }
        Ok(())
    }

    fn aggregate(&self, timeout: bool) -> Result<gst::FlowSuccess, gst::FlowError> {
        let obj = self.obj();
        // Live when upstream is (the aggregator then waits on the clock).
        let live = obj.latency().is_some();
        let (mode, expression, model) = {
            let s = lock(&self.settings);
            (s.mode, s.expression, s.model.clone())
        };
        // Under a strict provider still loading in the background: wait here, with the state lock
        // released (queries and property reads go on meanwhile).
        let waiter = lock(&self.state)
            .as_ref()
            .and_then(|s| s.generator.model.waiter());
        if let Some((w, gate)) = waiter {
            if w.wait(&gate).is_err() {
                return Err(gst::FlowError::Flushing);
            }
        }
        let mut deferred = Deferred::default();
        let mut guard = lock(&self.state);
        let Some(state) = guard.as_mut() else {
            return Err(gst::FlowError::Flushing);
        };
        let inbuf = match self.next_landmark_frame(state, &mut deferred) {
            Ok(b) => b,
            Err(flow) => {
                drop(guard);
                for m in deferred.0 {
                    let _ = obj.post_message(m);
                }
                return Err(flow);
            }
        };
        let frame = {
            let map = inbuf.map_readable().map_err(|_| gst::FlowError::Error)?;
            LandmarkFrame::from_bytes(map.as_slice())
        };
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                drop(guard);
                let frame_no = match inbuf.offset() {
                    u64::MAX => String::new(),
                    n => format!("frame {n}, "),
                };
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    (
                        "bad landmark record ({}pts {}): {}",
                        frame_no,
                        inbuf.pts().display(),
                        e
                    )
                );
                return Err(gst::FlowError::Error);
            }
        };
        let rt = inbuf.pts().and_then(|t| state.segment.to_running_time(t));
        // The portrait due at this frame's running time.
        if self.collect_portraits(state, rt, timeout) {
            state.pending = Some(inbuf);
            return Err(gst_base::AGGREGATOR_FLOW_NEED_DATA);
        }
        let crop = state.generator.crop;
        match state.portrait.take_next(self, crop, &mut deferred.0) {
            Ok(Some(id)) => state.identity = Some(id),
            Ok(None) => {}
            Err(msg) => {
                drop(guard);
                self.post_error_message(msg);
                return Err(gst::FlowError::Error);
            }
        }
        let late = self.late(state, &inbuf, rt, live);
        let natural = state
            .identity
            .as_ref()
            .map(|id| Self::natural_size(state, id, mode));
        let Some(natural) = natural.filter(|_| late.is_none()) else {
            drop(guard);
            for m in deferred.0.into_iter().chain(late) {
                let _ = obj.post_message(m);
            }
            // No portrait yet (live: its pad did not deliver in time) or too late: no frame.
            gst::debug!(CAT, imp = self, "no frame for {:?}", inbuf.pts());
            return Ok(gst::FlowSuccess::Ok);
        };
        if state.output.is_none() || state.natural != Some(natural) {
            // A new size (first identity, another identity, or the mode): renegotiate.
            state.natural = Some(natural);
            state.output = None;
            drop(guard);
            for m in std::mem::take(&mut deferred.0) {
                let _ = obj.post_message(m);
            }
            if !obj.negotiate() {
                let fps = lock(&self.state)
                    .as_ref()
                    .and_then(|s| s.fps)
                    .unwrap_or(gst::Fraction::new(25, 1));
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    (
                        "downstream accepts none of the output caps (video/x-raw RGBA, RGB, I420, ... at {}/{} fps, {}x{} natural size)",
                        fps.numer(),
                        fps.denom(),
                        natural.0,
                        natural.1
                    )
                );
                return Err(gst::FlowError::NotNegotiated);
            }
            guard = lock(&self.state);
        }
        let Some(state) = guard.as_mut() else {
            return Err(gst::FlowError::Flushing);
        };
        let out = self.render(state, &frame, &inbuf, mode, expression, &model);
        // The next record, if the stream already holds it: its time is the next deadline.
        if state.pending.is_none() {
            state.pending = state.records.pop();
        }
        let reports = state.generator.model.take_reports();
        if !reports.is_empty() {
            state.provider = state
                .generator
                .model
                .provider()
                .map(|p| p.nick().to_string());
        }
        drop(guard);
        for m in deferred.0 {
            let _ = obj.post_message(m);
        }
        onnx::post_reports(obj.upcast_ref(), *CAT, reports);
        match out {
            // Stopped (or flushed) while waiting for the generator's background load.
            Err(_) if self.gate.is_flushing() => Err(gst::FlowError::Flushing),
            Ok(b) => obj.finish_buffer(b),
            Err(msg) => {
                self.post_error_message(msg);
                Err(gst::FlowError::Error)
            }
        }
    }
}
