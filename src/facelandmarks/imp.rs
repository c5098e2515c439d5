// SPDX-License-Identifier: MIT OR Apache-2.0
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_video::prelude::*;

use super::tracker::{FaceTracker, Gray, TrackerConfig};
use crate::dlib::{FaceLandmarker, MODEL_FILE};
use crate::faceshape::Canonicalizer;
use crate::landmarks::{self, RECORD_SIZE};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "facelandmarks",
        gst::DebugColorFlags::empty(),
        Some("Facial landmarks from video (dlib)"),
    )
});

const DEFAULT_DETECT_INTERVAL: u32 = 10;
const DEFAULT_UPSAMPLE: u32 = 0;

/// The installed dlib model, or where Debian would install it (so that the error names it).
fn default_model_path() -> PathBuf {
    FaceLandmarker::default_model_path()
        .unwrap_or_else(|| PathBuf::from("/usr/share/dlib").join(MODEL_FILE))
}

/// Video formats taken: 8-bit gray, packed RGB orders (converted to gray), YUV (luma used).
const FORMATS: &[gst_video::VideoFormat] = &[
    gst_video::VideoFormat::Gray8,
    gst_video::VideoFormat::I420,
    gst_video::VideoFormat::Yv12,
    gst_video::VideoFormat::Nv12,
    gst_video::VideoFormat::Nv21,
    gst_video::VideoFormat::Y42b,
    gst_video::VideoFormat::Y444,
    gst_video::VideoFormat::Rgb,
    gst_video::VideoFormat::Bgr,
    gst_video::VideoFormat::Rgbx,
    gst_video::VideoFormat::Bgrx,
    gst_video::VideoFormat::Xrgb,
    gst_video::VideoFormat::Xbgr,
    gst_video::VideoFormat::Rgba,
    gst_video::VideoFormat::Bgra,
    gst_video::VideoFormat::Argb,
    gst_video::VideoFormat::Abgr,
];

#[derive(Debug, Clone)]
struct Settings {
    model: PathBuf,
    detect_interval: u32,
    upsample: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: default_model_path(),
            detect_interval: DEFAULT_DETECT_INTERVAL,
            upsample: DEFAULT_UPSAMPLE,
        }
    }
}

struct State {
    tracker: FaceTracker,
    canon: Canonicalizer,
    info: Option<gst_video::VideoInfo>,
    /// Gray image converted from RGB input.
    gray: Vec<u8>,
}

impl State {
    fn reset_stream(&mut self) {
        self.tracker.reset();
        self.canon.reset();
    }
}

pub struct FaceLandmarks {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

/// Luma of a packed 8-bit RGB frame (BT.601 weights), into `out` (width x height, tight).
fn rgb_to_gray(
    frame: &gst_video::VideoFrameRef<&gst::BufferRef>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let info = frame.info();
    let finfo = info.format_info();
    let (w, h) = (info.width() as usize, info.height() as usize);
    let stride = frame.plane_stride()[0] as usize;
    let px = finfo.pixel_stride()[0] as usize;
    let off = finfo.poffset();
    let (ro, go, bo) = (off[0] as usize, off[1] as usize, off[2] as usize);
    if px == 0 || ro.max(go).max(bo) >= px {
        return Err(format!("unexpected pixel layout of {:?}", info.format()));
    }
    let data = frame
        .plane_data(0)
        .map_err(|e| format!("cannot read the video frame: {e}"))?;
    if w == 0 || h == 0 || stride < w * px || data.len() < stride * (h - 1) + w * px {
        return Err(format!(
            "video frame of {} bytes is too small for {w}x{h} {:?}",
            data.len(),
            info.format()
        ));
    }
    out.resize(w * h, 0);
    for (y, row) in out.chunks_exact_mut(w).enumerate() {
        let src = &data[y * stride..y * stride + w * px];
        for (o, p) in row.iter_mut().zip(src.chunks_exact(px)) {
            let v = 77 * p[ro] as u32 + 150 * p[go] as u32 + 29 * p[bo] as u32;
            *o = (v >> 8) as u8;
        }
    }
    Ok(())
}

impl FaceLandmarks {
    fn sink_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let cfg = {
            let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
            TrackerConfig {
                detect_interval: s.detect_interval,
                upsample: s.upsample,
            }
        };
        let record = {
            let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let Some(state) = guard.as_mut() else {
                return Err(gst::FlowError::Flushing);
            };
            let Some(info) = state.info.clone() else {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ("received a video frame before the caps")
                );
                return Err(gst::FlowError::NotNegotiated);
            };
            let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(&buffer, &info)
                .map_err(|_| {
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
                    gst::FlowError::Error
                })?;
            let (w, h) = (info.width() as usize, info.height() as usize);
            let rgb = info.format_info().is_rgb();
            if rgb {
                let mut gray = std::mem::take(&mut state.gray);
                let r = rgb_to_gray(&frame, &mut gray);
                state.gray = gray;
                if let Err(e) = r {
                    gst::element_imp_error!(self, gst::StreamError::Format, ("{}", e));
                    return Err(gst::FlowError::Error);
                }
            }
            let (data, stride) = if rgb {
                (&state.gray[..], w)
            } else {
                let d = frame.plane_data(0).map_err(|e| {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Format,
                        ("cannot read the video frame: {}", e)
                    );
                    gst::FlowError::Error
                })?;
                (d, frame.plane_stride()[0] as usize)
            };
            let img = Gray {
                data,
                width: w,
                height: h,
                stride,
            };
            let found = match state.tracker.process(&img, &cfg) {
                Ok(f) => f,
                Err(e) => {
                    gst::element_imp_error!(
                        self,
                        gst::LibraryError::Failed,
                        ("face landmarks failed: {}", e)
                    );
                    return Err(gst::FlowError::Error);
                }
            };
            let rec = match found {
                Some(f) => {
                    gst::trace!(
                        CAT,
                        imp = self,
                        "face at {:?} ({})",
                        buffer.pts(),
                        if f.detected { "detected" } else { "tracked" }
                    );
                    state
                        .canon
                        .frame(&f.points)
                        .unwrap_or_else(Canonicalizer::no_face)
                }
                None => {
                    gst::trace!(CAT, imp = self, "no face at {:?}", buffer.pts());
                    Canonicalizer::no_face()
                }
            };
            rec.to_bytes()
        };
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
                        state.tracker.reset();
                    }
                    state.info = Some(info);
                }
                // A variable frame rate (0/1) has no place in the landmark caps: leave it out.
                let out = landmarks::caps((fps.numer() > 0).then_some(fps));
                self.srcpad.push_event(gst::event::Caps::new(&out))
            }
            EventView::FlushStop(_) | EventView::StreamStart(_) => {
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

    /// NULL→READY: loads the model.
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let path = self
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .model
            .clone();
        if !path.is_file() {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                (
                    "facelandmarks: dlib's 68-point face landmark model {} does not exist: install the Debian package libdlib-data, or set the model property to a copy of {}",
                    path.display(),
                    MODEL_FILE
                )
            ));
        }
        let t0 = std::time::Instant::now();
        let lm = FaceLandmarker::new(&path)
            .map_err(|e| gst::error_msg!(gst::ResourceError::OpenRead, ("facelandmarks: {}", e)))?;
        gst::info!(
            CAT,
            imp = self,
            "loaded {} in {:.2} s",
            path.display(),
            t0.elapsed().as_secs_f32()
        );
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
            tracker: FaceTracker::new(lm),
            canon: Canonicalizer::new(),
            info: None,
            gray: Vec::new(),
        });
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
        }
    }
}

impl ObjectImpl for FaceLandmarks {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb("Path of dlib's shape_predictor_68_face_landmarks.dat (default: where Debian's libdlib-data, /usr/local or ~/.local/share/dlib has it)")
                    .default_value(Some(default_model_path().to_string_lossy().as_ref()))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("detect-interval")
                    .nick("Detection interval")
                    .blurb("Run the face detector every this many frames while tracking a face, to confirm it (1: on every frame; 0: only when the track is lost or the fit degrades)")
                    .maximum(10_000)
                    .default_value(DEFAULT_DETECT_INTERVAL)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("upsample")
                    .nick("Upsample")
                    .blurb("Double the image this many times before detection, to find faces smaller than 80x80 pixels (each time costs 4x)")
                    .maximum(3)
                    .default_value(DEFAULT_UPSAMPLE)
                    .mutable_playing()
                    .build(),
            ]
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
                    .map(PathBuf::from)
                    .unwrap_or_else(default_model_path);
            }
            "detect-interval" => s.detect_interval = value.get().unwrap_or(DEFAULT_DETECT_INTERVAL),
            "upsample" => s.upsample = value.get::<u32>().unwrap_or(DEFAULT_UPSAMPLE).min(3),
            other => gst::warning!(CAT, imp = self, "unknown property {}", other),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "model" => s.model.to_string_lossy().to_value(),
            "detect-interval" => s.detect_interval.to_value(),
            "upsample" => s.upsample.to_value(),
            _ => pspec.default_value().clone(),
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
                "Finds the 68 facial landmarks of a face in video with dlib and outputs them as a \
                 landmark stream (example: decodebin ! facelandmarks ! landmarksrender)",
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
                    s.reset_stream();
                    s.info = None;
                }
            }
            gst::StateChange::ReadyToNull => {
                *self.state.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
            _ => {}
        }
        Ok(ret)
    }
}
