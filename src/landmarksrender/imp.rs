// SPDX-License-Identifier: MIT OR Apache-2.0
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;

use super::render::{Canvas, Style, Writer, FORMATS};
use crate::landmarks::{self, LandmarkFrame, RecordReader};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "landmarksrender",
        gst::DebugColorFlags::empty(),
        Some("Face landmarks drawn as video"),
    )
});

const DEFAULT_LINE_WIDTH: f64 = 2.0;
const DEFAULT_DRAW_POINTS: bool = true;
const DEFAULT_BACKGROUND: u32 = 0xff14181e;
/// Frame size when downstream does not ask for one.
const DEFAULT_SIZE: i32 = 256;
/// Frame rate preferred when upstream leaves it open.
const DEFAULT_FPS: gst::Fraction = gst::Fraction::from_integer(25);

#[derive(Debug, Clone, Copy)]
struct Settings {
    line_width: f64,
    draw_points: bool,
    background: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            line_width: DEFAULT_LINE_WIDTH,
            draw_points: DEFAULT_DRAW_POINTS,
            background: DEFAULT_BACKGROUND,
        }
    }
}

/// What set_caps prepares.
struct State {
    canvas: Canvas,
    writer: Writer,
}

#[derive(Default)]
pub struct LandmarksRender {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// Whole records out of the byte stream, however it is cut.
    records: Mutex<RecordReader>,
}

/// Video caps for the formats the element writes, any size, square pixels, any frame rate.
fn video_caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format_list(FORMATS.iter().copied())
        .pixel_aspect_ratio(gst::Fraction::new(1, 1))
        .build()
}

#[glib::object_subclass]
impl ObjectSubclass for LandmarksRender {
    const NAME: &'static str = "GstLandmarksRender";
    type Type = super::LandmarksRender;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for LandmarksRender {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecDouble::builder("line-width")
                    .nick("Line width")
                    .blurb("Width of the contour lines in pixels")
                    .minimum(0.5)
                    .maximum(32.0)
                    .default_value(DEFAULT_LINE_WIDTH)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("draw-points")
                    .nick("Draw points")
                    .blurb("Draw the 68 landmarks as dots over the contours")
                    .default_value(DEFAULT_DRAW_POINTS)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("background")
                    .nick("Background")
                    .blurb("Background colour as 0xAARRGGBB")
                    .default_value(DEFAULT_BACKGROUND)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "line-width" => s.line_width = value.get().unwrap_or(DEFAULT_LINE_WIDTH),
            "draw-points" => s.draw_points = value.get().unwrap_or(DEFAULT_DRAW_POINTS),
            "background" => s.background = value.get().unwrap_or(DEFAULT_BACKGROUND),
            other => gst::warning!(CAT, imp = self, "unknown property {}", other),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "line-width" => s.line_width.to_value(),
            "draw-points" => s.draw_points.to_value(),
            "background" => s.background.to_value(),
            _ => glib::Value::from_type(pspec.value_type()),
        }
    }
}

impl GstObjectImpl for LandmarksRender {}

impl ElementImpl for LandmarksRender {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Face landmarks renderer",
                "Converter/Visualization/Video",
                "Draws a stream of 68 facial landmarks as video, one frame per landmark frame \
                 (example: audio2landmarks ! landmarksrender ! videoconvert ! autovideosink)",
                "talkingface developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &landmarks::template_caps(),
                )
                .expect("sink template"),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &video_caps(),
                )
                .expect("src template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for LandmarksRender {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reset();
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
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
        self.parent_sink_event(event)
    }

    fn generate_output(
        &self,
    ) -> Result<gst_base::subclass::base_transform::GenerateOutputSuccess, gst::FlowError> {
        use gst_base::subclass::base_transform::{
            GenerateOutputSuccess, InputBuffer, PrepareOutputBufferSuccess,
        };
        // Input buffers may hold any number of bytes: collect them and draw one frame per
        // whole record (the base class calls this until it gives no output).
        let rec = {
            let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(buf) = self.take_queued_buffer() {
                records.push(buf);
            }
            records.pop()
        };
        let Some(rec) = rec else {
            return Ok(GenerateOutputSuccess::NoOutput);
        };
        let mut outbuf = match self.parent_prepare_output_buffer(InputBuffer::Readable(&rec))? {
            PrepareOutputBufferSuccess::Buffer(b) => b,
            PrepareOutputBufferSuccess::InputBuffer => {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Failed,
                    ("the base class offered the input buffer as output")
                );
                return Err(gst::FlowError::Error);
            }
        };
        self.transform(&rec, outbuf.make_mut())?;
        Ok(GenerateOutputSuccess::Buffer(outbuf))
    }

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let mut out = gst::Caps::new_empty();
        {
            let out = out.get_mut()?;
            for s in caps.iter() {
                let framerate = s.value("framerate").ok().cloned();
                let mut c = if direction == gst::PadDirection::Sink {
                    video_caps()
                } else {
                    landmarks::caps(None)
                };
                if let Some(fr) = framerate {
                    if let Some(cs) = c.make_mut().structure_mut(0) {
                        cs.set_value("framerate", fr);
                    }
                }
                out.append(c);
            }
        }
        // Keep the frame rates within what the other side can carry (no 0/1 on the sink).
        let template = if direction == gst::PadDirection::Sink {
            video_caps()
        } else {
            landmarks::template_caps()
        };
        let out = out.intersect_with_mode(&template, gst::CapsIntersectMode::First);
        let out = match filter {
            Some(f) => f.intersect_with_mode(&out, gst::CapsIntersectMode::First),
            None => out,
        };
        gst::debug!(
            CAT,
            imp = self,
            "transformed {} in direction {:?} to {}",
            caps,
            direction,
            out
        );
        Some(out)
    }

    fn fixate_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        othercaps: gst::Caps,
    ) -> gst::Caps {
        let mut othercaps = othercaps;
        othercaps.truncate();
        if let Some(s) = othercaps.make_mut().structure_mut(0) {
            if direction == gst::PadDirection::Sink {
                // Square frames unless downstream says otherwise: a side fixed by downstream is
                // copied to the other, else both are DEFAULT_SIZE.
                match (s.get::<i32>("width").ok(), s.get::<i32>("height").ok()) {
                    (Some(w), None) => {
                        s.fixate_field_nearest_int("height", w);
                    }
                    (None, Some(h)) => {
                        s.fixate_field_nearest_int("width", h);
                    }
                    _ => {
                        s.fixate_field_nearest_int("width", DEFAULT_SIZE);
                        s.fixate_field_nearest_int("height", DEFAULT_SIZE);
                    }
                }
                if s.has_field("pixel-aspect-ratio") {
                    s.fixate_field_nearest_fraction("pixel-aspect-ratio", gst::Fraction::new(1, 1));
                }
            }
            // Carry the other side's frame rate where it is fixed, else prefer 25 fps.
            let fps = caps
                .structure(0)
                .and_then(|c| c.get::<gst::Fraction>("framerate").ok())
                .unwrap_or(DEFAULT_FPS);
            if s.has_field("framerate") {
                s.fixate_field_nearest_fraction("framerate", fps);
            }
        }
        othercaps.fixate();
        gst::debug!(CAT, imp = self, "fixated to {}", othercaps);
        othercaps
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(outcaps)
            .map_err(|_| gst::loggable_error!(CAT, "output caps {} are not video caps", outcaps))?;
        if !FORMATS.contains(&info.format()) {
            return Err(gst::loggable_error!(
                CAT,
                "output format {:?} is not supported",
                info.format()
            ));
        }
        gst::info!(
            CAT,
            imp = self,
            "drawing {} into {}x{} {:?}",
            incaps,
            info.width(),
            info.height(),
            info.format()
        );
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // Reuse the canvas when only the format changes.
        let canvas = match state.take() {
            Some(old)
                if old.canvas.width() == info.width() as usize
                    && old.canvas.height() == info.height() as usize =>
            {
                old.canvas
            }
            _ => Canvas::new(info.width() as usize, info.height() as usize),
        };
        let writer = Writer::new(&info).map_err(|e| gst::loggable_error!(CAT, "{}", e))?;
        *state = Some(State { canvas, writer });
        Ok(())
    }

    fn transform_size(
        &self,
        direction: gst::PadDirection,
        _caps: &gst::Caps,
        _size: usize,
        othercaps: &gst::Caps,
    ) -> Option<usize> {
        // Any input buffer makes one video frame; a bad one is refused in transform() with a
        // message that names the problem.
        if direction == gst::PadDirection::Sink {
            gst_video::VideoInfo::from_caps(othercaps)
                .ok()
                .map(|i| i.size())
        } else {
            Some(landmarks::RECORD_SIZE)
        }
    }

    fn transform(
        &self,
        inbuf: &gst::Buffer,
        outbuf: &mut gst::BufferRef,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = *self.settings.lock().unwrap_or_else(|e| e.into_inner());
        let frame = {
            let map = inbuf.map_readable().map_err(|_| {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ("cannot map the input buffer")
                );
                gst::FlowError::Error
            })?;
            LandmarkFrame::from_bytes(map.as_slice()).map_err(|e| {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    ("bad landmark buffer (pts {}): {}", inbuf.pts().display(), e)
                );
                gst::FlowError::Error
            })?
        };
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(state) = guard.as_mut() else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("no output format negotiated before the first buffer")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        let style = Style {
            line_width: settings.line_width as f32,
            draw_points: settings.draw_points,
            background: settings.background,
        };
        state.canvas.render(&frame, &style);
        let State { canvas, writer, .. } = state;
        writer.write(canvas, outbuf).map_err(|e| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ("{}", e));
            gst::FlowError::Error
        })?;
        gst::trace!(CAT, imp = self, "drew frame at {}", inbuf.pts().display());
        Ok(gst::FlowSuccess::Ok)
    }
}
