// SPDX-License-Identifier: MIT OR Apache-2.0
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_video::prelude::*;

use crate::face::tracker::{Tracker, TrackerConfig};
use crate::face::{self, FaceAnalyzer, Image};
use crate::faceshape::Canonicalizer;
use crate::landmarks::{self, N_POINTS, RECORD_SIZE};
use crate::onnx::{self, SessionOptions};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "facelandmarks",
        gst::DebugColorFlags::empty(),
        Some("Facial landmarks from video"),
    )
});

const DEFAULT_DETECT_INTERVAL: u32 = 10;
/// Frames whose longer side exceeds this are scaled down before the analysis.
const DEFAULT_MAX_SIZE: u32 = 960;
/// ONNX Runtime threads per model by default (the element runs once per frame, in real time).
const DEFAULT_THREADS: u32 = 1;

/// Video formats taken: packed RGB orders, 8-bit gray, planar or semi-planar YUV; all but RGB,
/// RGBA and RGBx (read directly) are converted to RGB by gst_video's converter.
const FORMATS: &[gst_video::VideoFormat] = &[
    gst_video::VideoFormat::Rgb,
    gst_video::VideoFormat::Rgba,
    gst_video::VideoFormat::Rgbx,
    gst_video::VideoFormat::Bgr,
    gst_video::VideoFormat::Bgrx,
    gst_video::VideoFormat::Bgra,
    gst_video::VideoFormat::Xrgb,
    gst_video::VideoFormat::Xbgr,
    gst_video::VideoFormat::Argb,
    gst_video::VideoFormat::Abgr,
    gst_video::VideoFormat::I420,
    gst_video::VideoFormat::Yv12,
    gst_video::VideoFormat::Nv12,
    gst_video::VideoFormat::Nv21,
    gst_video::VideoFormat::Y42b,
    gst_video::VideoFormat::Y444,
    gst_video::VideoFormat::Gray8,
];

#[derive(Debug, Clone)]
struct Settings {
    model: PathBuf,
    detector: PathBuf,
    #[cfg(feature = "dlib")]
    dlib_model: Option<PathBuf>,
    detect_interval: u32,
    face_index: u32,
    max_size: u32,
    session: SessionOptions,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: face::default_landmarker_path(),
            detector: face::default_detector_path(),
            #[cfg(feature = "dlib")]
            dlib_model: None,
            detect_interval: DEFAULT_DETECT_INTERVAL,
            face_index: 0,
            max_size: DEFAULT_MAX_SIZE,
            session: SessionOptions {
                threads: DEFAULT_THREADS,
                ..SessionOptions::default()
            },
        }
    }
}

/// The frame as the analysis sees it: RGB, at most `max-analysis-size` on its longer side.
struct Work {
    info: gst_video::VideoInfo,
    /// None: the input is read as it is (RGB, RGBA or RGBx at its own size).
    converter: Option<gst_video::VideoConverter>,
    buffer: Option<gst::Buffer>,
    /// Input pixels per analysis pixel, x and y.
    scale: [f32; 2],
}

enum Backend {
    Onnx(Box<Tracker>),
    #[cfg(feature = "dlib")]
    Dlib(Box<super::tracker::FaceTracker>, Vec<u8>),
}

/// What the models were opened with (a change made in READY reopens them at READY→PAUSED).
#[derive(Debug, Clone, PartialEq)]
struct Opened {
    model: PathBuf,
    detector: PathBuf,
    #[cfg(feature = "dlib")]
    dlib_model: Option<PathBuf>,
    session: SessionOptions,
}

impl From<&Settings> for Opened {
    fn from(s: &Settings) -> Opened {
        Opened {
            model: s.model.clone(),
            detector: s.detector.clone(),
            #[cfg(feature = "dlib")]
            dlib_model: s.dlib_model.clone(),
            session: s.session.clone(),
        }
    }
}

struct State {
    backend: Backend,
    opened_with: Opened,
    canon: Canonicalizer,
    /// The several-faces warning was posted in this stream.
    crowd_warned: bool,
    info: Option<gst_video::VideoInfo>,
    work: Option<Work>,
}

impl State {
    fn reset_stream(&mut self) {
        match &mut self.backend {
            Backend::Onnx(t) => t.reset(),
            #[cfg(feature = "dlib")]
            Backend::Dlib(t, _) => t.reset(),
        }
        self.canon.reset();
        self.crowd_warned = false;
    }
}

pub struct FaceLandmarks {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    provider: Mutex<Option<String>>,
    /// Stops a streaming thread that waits for a background model load (strict provider).
    gate: onnx::LoadGate,
}

/// How frames of `info` reach the analysis.
fn work_for(info: &gst_video::VideoInfo, max_size: u32) -> Result<Work, String> {
    let (w, h) = (info.width(), info.height());
    let longer = w.max(h).max(1);
    let (ww, wh) = if max_size > 0 && longer > max_size {
        let f = max_size as f64 / longer as f64;
        (
            ((w as f64 * f).round() as u32).max(1),
            ((h as f64 * f).round() as u32).max(1),
        )
    } else {
        (w, h)
    };
    let direct = (ww, wh) == (w, h)
        && matches!(
            info.format(),
            gst_video::VideoFormat::Rgb
                | gst_video::VideoFormat::Rgba
                | gst_video::VideoFormat::Rgbx
        );
    let scale = [w as f32 / ww as f32, h as f32 / wh as f32];
    if direct {
        return Ok(Work {
            info: info.clone(),
            converter: None,
            buffer: None,
            scale,
        });
    }
    let out = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, ww, wh)
        .fps(info.fps())
        .par(info.par())
        .interlace_mode(info.interlace_mode())
        .build()
        .map_err(|e| format!("cannot describe a {ww}x{wh} RGB frame: {e}"))?;
    let mut cfg = gst_video::VideoConverterConfig::new();
    cfg.set_threads(1);
    let converter = gst_video::VideoConverter::new(info, &out, Some(cfg)).map_err(|e| {
        format!(
            "cannot convert {:?} {w}x{h} to RGB {ww}x{wh}: {e}",
            info.format()
        )
    })?;
    let buffer = gst::Buffer::with_size(out.size())
        .map_err(|e| format!("cannot allocate a {ww}x{wh} frame: {e}"))?;
    Ok(Work {
        info: out,
        converter: Some(converter),
        buffer: Some(buffer),
        scale,
    })
}

/// Runs the analysis on one frame; the 68 points in input pixels, or None.
fn analyse(
    state: &mut State,
    frame: &gst_video::VideoFrameRef<&gst::BufferRef>,
    cfg: &TrackerConfig,
) -> Result<Option<[[f32; 2]; N_POINTS]>, String> {
    match &mut state.backend {
        #[cfg(feature = "dlib")]
        Backend::Dlib(tracker, gray) => {
            let img = super::tracker::luma(frame, gray)?;
            let tcfg = super::tracker::TrackerConfig {
                detect_interval: cfg.detect_interval,
                upsample: 0,
            };
            Ok(tracker.process(&img, &tcfg)?.map(|f| f.points))
        }
        Backend::Onnx(tracker) => {
            let work = state.work.as_mut().ok_or("no caps yet")?;
            let found = match (&work.converter, &mut work.buffer) {
                (Some(conv), Some(buf)) => {
                    let b = buf.make_mut();
                    let mut out = gst_video::VideoFrameRef::from_buffer_ref_writable(b, &work.info)
                        .map_err(|_| "cannot map the analysis frame".to_string())?;
                    conv.frame_ref(frame, &mut out);
                    let stride = out.plane_stride()[0] as usize;
                    let data = out
                        .plane_data(0)
                        .map_err(|e| format!("cannot read the analysis frame: {e}"))?;
                    let img = Image::new(
                        data,
                        work.info.width() as usize,
                        work.info.height() as usize,
                        stride,
                        3,
                    )?;
                    tracker.process(&img, cfg)?
                }
                _ => {
                    let stride = frame.plane_stride()[0] as usize;
                    let data = frame
                        .plane_data(0)
                        .map_err(|e| format!("cannot read the video frame: {e}"))?;
                    let px = frame.info().format_info().pixel_stride()[0] as usize;
                    let img = Image::new(
                        data,
                        frame.width() as usize,
                        frame.height() as usize,
                        stride,
                        px,
                    )?;
                    tracker.process(&img, cfg)?
                }
            };
            let s = work.scale;
            Ok(found.map(|f| f.points.map(|p| [p[0] * s[0], p[1] * s[1]])))
        }
    }
}

impl FaceLandmarks {
    /// Under a strict provider whose sessions are still loading in the background: waits for
    /// them here, with the state lock released. False when the wait was given up (flushing or
    /// stopping).
    fn wait_for_models(&self) -> bool {
        let waiters = match self
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .map(|s| &mut s.backend)
        {
            Some(Backend::Onnx(t)) => t.analyzer().waiters(),
            _ => Vec::new(),
        };
        waiters.iter().all(|(w, gate)| w.wait(gate).is_ok())
    }

    /// Logs and posts what the models said about their providers (with no lock held); the
    /// read-only `provider` property is the landmark model's.
    fn post_reports(&self, reports: Vec<onnx::ProviderReport>, landmarker: Option<onnx::Provider>) {
        if reports.is_empty() {
            return;
        }
        onnx::post_reports(self.obj().upcast_ref(), *CAT, reports);
        *self.provider.lock().unwrap_or_else(|e| e.into_inner()) =
            landmarker.map(|p| p.nick().to_string());
    }

    fn sink_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        if !self.wait_for_models() {
            return Err(gst::FlowError::Flushing);
        }
        let cfg = {
            let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
            TrackerConfig {
                detect_interval: s.detect_interval,
                rotations: true,
                face_index: s.face_index as usize,
            }
        };
        let record = {
            let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let Some(state) = guard.as_mut() else {
                return Err(gst::FlowError::Flushing);
            };
            let Some(info) = state.info.clone() else {
                drop(guard);
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ("received a video frame before the caps")
                );
                return Err(gst::FlowError::NotNegotiated);
            };
            let frame = match gst_video::VideoFrameRef::from_buffer_ref_readable(&buffer, &info) {
                Ok(f) => f,
                Err(_) => {
                    drop(guard);
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Format,
                        (
                            "buffer of {} bytes is not a {}x{} {:?} frame",
                            buffer.size(),
                            info.width(),
                            info.height(),
                            info.format()
                        )
                    );
                    return Err(gst::FlowError::Error);
                }
            };
            let found = analyse(state, &frame, &cfg);
            let (reports, landmarker) = match &mut state.backend {
                Backend::Onnx(t) => (t.analyzer().take_reports(), t.analyzer().providers().1),
                #[cfg(feature = "dlib")]
                Backend::Dlib(..) => (Vec::new(), None),
            };
            let found = match found {
                Ok(f) => f,
                // Stopped (or flushed) while waiting for a background model load: no error.
                Err(_) if self.gate.is_flushing() => {
                    drop(frame);
                    drop(guard);
                    self.post_reports(reports, landmarker);
                    return Err(gst::FlowError::Flushing);
                }
                Err(e) => {
                    drop(frame);
                    drop(guard);
                    self.post_reports(reports, landmarker);
                    gst::element_imp_error!(
                        self,
                        gst::LibraryError::Failed,
                        ("face landmarks failed: {}", e)
                    );
                    return Err(gst::FlowError::Error);
                }
            };
            let crowd = match &mut state.backend {
                Backend::Onnx(t) => t.take_crowd(),
                #[cfg(feature = "dlib")]
                Backend::Dlib(..) => None,
            };
            let crowd = crowd.filter(|_| !std::mem::replace(&mut state.crowd_warned, true));
            let rec = match found {
                Some(points) => {
                    gst::trace!(CAT, imp = self, "face at {:?}", buffer.pts());
                    state
                        .canon
                        .frame(&points)
                        .unwrap_or_else(Canonicalizer::no_face)
                }
                None => {
                    gst::trace!(CAT, imp = self, "no face at {:?}", buffer.pts());
                    Canonicalizer::no_face()
                }
            };
            (rec.to_bytes(), crowd, reports, landmarker)
        };
        let (record, crowd, reports, landmarker) = record;
        self.post_reports(reports, landmarker);
        if let Some(w) = crowd {
            let sizes: Vec<String> = w.iter().map(|x| format!("{x:.0}px")).collect();
            let index = self
                .settings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .face_index;
            gst::element_imp_warning!(
                self,
                gst::StreamError::Decode,
                (
                    "found {} faces ({}); following face {} by size (face-index chooses another; said once per stream)",
                    w.len(),
                    sizes.join(", "),
                    index
                )
            );
        }
        let mut out = gst::Buffer::with_size(RECORD_SIZE).map_err(|_| gst::FlowError::Error)?;
        {
            let ob = out.get_mut().ok_or(gst::FlowError::Error)?;
            ob.copy_from_slice(0, &record)
                .map_err(|_| gst::FlowError::Error)?;
            ob.set_pts(buffer.pts());
            ob.set_dts(buffer.dts());
            ob.set_duration(buffer.duration());
            ob.set_offset(buffer.offset());
            if buffer.flags().contains(gst::BufferFlags::DISCONT) {
                ob.set_flags(gst::BufferFlags::DISCONT);
            }
        }
        self.srcpad.push(out)
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;
        gst::log!(CAT, obj = pad, "event {:?}", event.type_());
        match event.view() {
            EventView::Caps(c) => {
                let caps = c.caps();
                let info = match gst_video::VideoInfo::from_caps(caps) {
                    Ok(i) => i,
                    Err(_) => {
                        gst::element_imp_error!(
                            self,
                            gst::CoreError::Negotiation,
                            ("caps {} are not usable video caps", caps)
                        );
                        return false;
                    }
                };
                let max_size = self
                    .settings
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .max_size;
                let work = match work_for(&info, max_size) {
                    Ok(w) => w,
                    Err(e) => {
                        gst::element_imp_error!(self, gst::CoreError::Negotiation, ("{}", e));
                        return false;
                    }
                };
                gst::debug!(
                    CAT,
                    imp = self,
                    "analysing {}x{} frames as {}x{} ({})",
                    info.width(),
                    info.height(),
                    work.info.width(),
                    work.info.height(),
                    if work.converter.is_some() {
                        "converted"
                    } else {
                        "read directly"
                    }
                );
                let fps = info.fps();
                {
                    let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    let Some(state) = guard.as_mut() else {
                        return false;
                    };
                    let resized = state
                        .info
                        .as_ref()
                        .is_none_or(|o| o.width() != info.width() || o.height() != info.height());
                    if resized {
                        state.reset_stream();
                    }
                    state.info = Some(info);
                    state.work = Some(work);
                }
                // A variable frame rate (0/1) has no place in the landmark caps: leave it out.
                let out = landmarks::caps((fps.numer() > 0).then_some(fps));
                self.srcpad.push_event(gst::event::Caps::new(&out))
            }
            EventView::FlushStart(_) => {
                self.gate.set_flushing(true);
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            EventView::FlushStop(_) | EventView::StreamStart(_) => {
                if matches!(event.view(), EventView::FlushStop(_)) {
                    self.gate.set_flushing(false);
                }
                if let Some(s) = self
                    .state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_mut()
                {
                    s.reset_stream();
                }
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }

    fn sink_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        use gst::QueryViewMut;
        match query.view_mut() {
            QueryViewMut::Caps(q) => {
                let templ = self.sinkpad.pad_template_caps();
                // Any frame rate the downstream landmark stream can carry.
                let caps = match q.filter() {
                    Some(f) => f.intersect_with_mode(&templ, gst::CapsIntersectMode::First),
                    None => templ,
                };
                q.set_result(&caps);
                true
            }
            QueryViewMut::Allocation(_) => false,
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    /// NULL→READY: loads the models.
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = self
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let t0 = std::time::Instant::now();
        #[cfg(feature = "dlib")]
        if let Some(path) = &s.dlib_model {
            let lm = crate::dlib::FaceLandmarker::new(path).map_err(|e| {
                gst::error_msg!(gst::ResourceError::OpenRead, ("facelandmarks: {}", e))
            })?;
            *self.provider.lock().unwrap_or_else(|e| e.into_inner()) = Some("dlib".into());
            *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
                backend: Backend::Dlib(Box::new(super::tracker::FaceTracker::new(lm)), Vec::new()),
                opened_with: Opened::from(&s),
                canon: Canonicalizer::new(),
                crowd_warned: false,
                info: None,
                work: None,
            });
            return Ok(());
        }
        let mut analyzer =
            FaceAnalyzer::load_with_gate(&s.detector, &s.model, &s.session, self.gate.clone())
                .map_err(|e| {
                    let kind = if s.detector.is_file() && s.model.is_file() {
                        gst::ResourceError::OpenRead
                    } else {
                        gst::ResourceError::NotFound
                    };
                    gst::error_msg!(kind, ("facelandmarks: {}", e))
                })?;
        let (pd, pl) = analyzer.providers();
        let nick = |p: Option<onnx::Provider>| p.map_or("(loading)", |p| p.nick());
        gst::info!(
            CAT,
            imp = self,
            "loaded {} ({}) and {} ({}) in {:.2} s",
            s.detector.display(),
            nick(pd),
            s.model.display(),
            nick(pl),
            t0.elapsed().as_secs_f32()
        );
        let reports = analyzer.take_reports();
        // Unset while a strict provider loads (the first frame waits for it).
        *self.provider.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
            backend: Backend::Onnx(Box::new(Tracker::new(analyzer))),
            opened_with: Opened::from(&s),
            canon: Canonicalizer::new(),
            crowd_warned: false,
            info: None,
            work: None,
        });
        self.post_reports(reports, pl);
        Ok(())
    }
}

#[glib::object_subclass]
impl ObjectSubclass for FaceLandmarks {
    const NAME: &'static str = "GstFaceLandmarks";
    type Type = super::FaceLandmarks;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").expect("sink template");
        let sinkpad = gst::Pad::builder_from_template(&templ)
            .chain_function(|pad, parent, buffer| {
                FaceLandmarks::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.sink_chain(pad, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                FaceLandmarks::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                FaceLandmarks::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_query(pad, query),
                )
            })
            .build();
        let templ = klass.pad_template("src").expect("src template");
        let srcpad = gst::Pad::builder_from_template(&templ)
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

fn path_value(value: &glib::Value) -> Option<PathBuf> {
    value
        .get::<Option<String>>()
        .ok()
        .flatten()
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

impl ObjectImpl for FaceLandmarks {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut v = vec![
                glib::ParamSpecString::builder("model")
                    .nick("Landmark model")
                    .blurb("ONNX face landmark model (default: models/face_landmarks.onnx, MediaPipe's face landmarker, Apache-2.0)")
                    .default_value(Some(face::default_landmarker_path().to_string_lossy().as_ref()))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("detector-model")
                    .nick("Detector model")
                    .blurb("ONNX face detector model (default: models/face_detector.onnx, MediaPipe's face detector, Apache-2.0)")
                    .default_value(Some(face::default_detector_path().to_string_lossy().as_ref()))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("detect-interval")
                    .nick("Detection interval")
                    .blurb("Run the face detector every this many frames while tracking a face, to notice a lost or replaced face (1: on every frame; 0: only when the track is lost)")
                    .maximum(10_000)
                    .default_value(DEFAULT_DETECT_INTERVAL)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("face-index")
                    .nick("Face index")
                    .blurb("Which face to follow when several are found: 0 the largest, 1 the next, ...")
                    .maximum(64)
                    .default_value(0)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("max-analysis-size")
                    .nick("Largest analysis size")
                    .blurb("Frames whose longer side exceeds this many pixels are scaled down before the analysis (0: never)")
                    .maximum(16384)
                    .default_value(DEFAULT_MAX_SIZE)
                    .mutable_ready()
                    .build(),
            ];
            #[cfg(feature = "dlib")]
            v.push(
                glib::ParamSpecString::builder("dlib-model")
                    .nick("dlib model")
                    .blurb("dlib's shape_predictor_68_face_landmarks.dat: when set, dlib finds the face instead of the ONNX models (its model is not free for commercial use)")
                    .mutable_ready()
                    .build(),
            );
            v.extend(onnx::session_properties(DEFAULT_THREADS));
            v
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "model" => {
                s.model = path_value(value).unwrap_or_else(face::default_landmarker_path);
            }
            "detector-model" => {
                s.detector = path_value(value).unwrap_or_else(face::default_detector_path);
            }
            #[cfg(feature = "dlib")]
            "dlib-model" => s.dlib_model = path_value(value),
            "detect-interval" => s.detect_interval = value.get().unwrap_or(DEFAULT_DETECT_INTERVAL),
            "face-index" => s.face_index = value.get().unwrap_or(0),
            "max-analysis-size" => s.max_size = value.get().unwrap_or(DEFAULT_MAX_SIZE),
            name => {
                if !s.session.set_property(name, value) {
                    gst::warning!(CAT, imp = self, "unknown property {}", name);
                }
            }
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "model" => s.model.to_string_lossy().to_value(),
            "detector-model" => s.detector.to_string_lossy().to_value(),
            #[cfg(feature = "dlib")]
            "dlib-model" => s
                .dlib_model
                .as_ref()
                .map(|p| p.to_string_lossy().to_string())
                .to_value(),
            "detect-interval" => s.detect_interval.to_value(),
            "face-index" => s.face_index.to_value(),
            "max-analysis-size" => s.max_size.to_value(),
            "provider" => self
                .provider
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .to_value(),
            name => s
                .session
                .property(name)
                .unwrap_or_else(|| pspec.default_value().clone()),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).expect("add sink pad");
        obj.add_pad(&self.srcpad).expect("add src pad");
    }
}

impl GstObjectImpl for FaceLandmarks {}

impl ElementImpl for FaceLandmarks {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Face landmarks",
                "Filter/Analyzer/Video",
                "Finds the 68 facial landmarks of a face in video (MediaPipe's face detector and \
                 landmarker on ONNX Runtime) and outputs them as a landmark stream (example: \
                 decodebin ! facelandmarks ! landmarksrender)",
                "talkingface developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink_caps = gst_video::VideoCapsBuilder::new()
                .format_list(FORMATS.iter().copied())
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
        // The models are opened at NULL→READY; a change of them (or of the session properties)
        // made in READY reopens them at READY→PAUSED.
        let reopen = transition == gst::StateChange::ReadyToPaused && {
            let want = Opened::from(&*self.settings.lock().unwrap_or_else(|e| e.into_inner()));
            self.state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .is_some_and(|st| st.opened_with != want)
        };
        self.gate.on_state_change(transition);
        if transition == gst::StateChange::NullToReady || reopen {
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
                    s.info = None;
                    s.work = None;
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
