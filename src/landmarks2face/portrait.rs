// SPDX-License-Identifier: MIT OR Apache-2.0
//! The portraits: the `portrait` property's file (decoded within its limits) and the `portrait`
//! pad's frames (their formats, which frame is due when, and the switch to a new identity), both
//! through the face analysis that makes an [`Identity`] of them.

use gst::subclass::prelude::*;
use gst_base::prelude::*;

use super::identity::{self, decode_image, Crop, Identity};
use super::imp::{Landmarks2Face, CAT};
use super::settings::Settings;
use crate::face::{FaceAnalyzer, PortraitAnalyzer, PortraitFace};
use crate::faceshape::{SMILE_LIFT_KEPT, SMILE_WIDTH_KEPT};

/// The raw video formats the portrait pad takes (gst_video's converter makes RGBA of them):
/// packed RGB, and the YUV formats decoders give, so that `jpegdec ! imagefreeze` links without a
/// `videoconvert`.
const PORTRAIT_FORMATS: &[gst_video::VideoFormat] = &[
    gst_video::VideoFormat::Rgba,
    gst_video::VideoFormat::Rgbx,
    gst_video::VideoFormat::Bgra,
    gst_video::VideoFormat::Bgrx,
    gst_video::VideoFormat::Argb,
    gst_video::VideoFormat::Abgr,
    gst_video::VideoFormat::Xrgb,
    gst_video::VideoFormat::Xbgr,
    gst_video::VideoFormat::Rgb,
    gst_video::VideoFormat::Bgr,
    gst_video::VideoFormat::I420,
    gst_video::VideoFormat::Yv12,
    gst_video::VideoFormat::Nv12,
    gst_video::VideoFormat::Nv21,
    gst_video::VideoFormat::Y42b,
    gst_video::VideoFormat::Y444,
    gst_video::VideoFormat::Yuy2,
    gst_video::VideoFormat::Uyvy,
    gst_video::VideoFormat::Gray8,
];

/// The portrait pad template's caps.
pub fn template_caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format_list(PORTRAIT_FORMATS.iter().copied())
        .build()
}

/// Opens the face analysis of portraits: the ONNX models, or dlib where built and asked for.
pub fn open_face_analysis(settings: &Settings) -> Result<PortraitAnalyzer, gst::ErrorMessage> {
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

/// What the face analysis found, said on the bus (`deferred`: posted once the state lock is
/// released): a warning when there were several faces.
fn describe_face(
    imp: &Landmarks2Face,
    face: &PortraitFace,
    id: &Identity,
    face_index: usize,
    deferred: &mut Vec<gst::Message>,
) {
    if !face.others.is_empty() {
        let others: Vec<String> = face.others.iter().map(|x| format!("{x:.0}px")).collect();
        let text = format!(
            "found {} faces in the portrait; using the {} ({:.0}px), not {} (face-index chooses another)",
            face.others.len() + 1,
            if face_index == 0 {
                "largest".to_string()
            } else {
                format!("face {face_index} in order of size")
            },
            face.width,
            others.join(", ")
        );
        deferred.push(
            gst::message::Warning::builder(gst::StreamError::Decode, &text)
                .src(&*imp.obj())
                .build(),
        );
    }
    if face.quarter_turns != 0 {
        gst::info!(
            CAT,
            imp = imp,
            "portrait face found turned by {} degrees",
            face.quarter_turns * 90
        );
    }
    let smile = match id.smile {
        Some(s) => format!(
            "corner lift {:.3} (left) and {:.3} (right), mouth width {:.3} eye-corner distances",
            s.lift[0], s.lift[1], s.width
        ),
        None => "not measured".into(),
    };
    gst::info!(
        CAT,
        imp = imp,
        "portrait face {:.0}px wide, mouth opening {:.3}, smile: {} (portrait-expression=neutral starts from the mouth closed, corners lowered to a lift of {:.2} and the mouth narrowed to {:.2} where beyond)",
        face.width,
        id.mouth_opening,
        smile,
        SMILE_LIFT_KEPT,
        SMILE_WIDTH_KEPT
    );
}

/// The identity of the `portrait` property's file (`settings.portrait`, which must be set): decoded
/// within [`identity::MAX_DECODE_SIDE`] and scaled down (with a warning) to
/// [`identity::MAX_PORTRAIT_SIDE`], then analysed.
pub fn identity_of_file(
    imp: &Landmarks2Face,
    settings: &Settings,
    analyzer: &mut PortraitAnalyzer,
    crop: Crop,
    deferred: &mut Vec<gst::Message>,
) -> Result<Identity, gst::ErrorMessage> {
    let Some(p) = &settings.portrait else {
        return Err(gst::error_msg!(
            gst::ResourceError::Settings,
            ("no portrait file set")
        ));
    };
    let d =
        decode_image(p).map_err(|e| gst::error_msg!(gst::ResourceError::OpenRead, ("{}", e)))?;
    let (rgba, w, h) = (d.rgba, d.width, d.height);
    if d.original != (w as u32, h as u32) {
        gst::element_imp_warning!(
            imp,
            gst::ResourceError::Settings,
            (
                "portrait {} is {}x{}: scaled down to {}x{} (landmarks2face works on at most {} pixels a side)",
                p.display(),
                d.original.0,
                d.original.1,
                w,
                h,
                identity::MAX_PORTRAIT_SIDE
            )
        );
    }
    let face_index = settings.face_index as usize;
    let (id, face) = Identity::analyse(analyzer, rgba, w, h, face_index, crop).map_err(|e| {
        gst::error_msg!(
            gst::ResourceError::Settings,
            ("portrait {}: {}", p.display(), e)
        )
    })?;
    describe_face(imp, &face, &id, face_index, deferred);
    Ok(id)
}

/// A portrait frame of format `info` as tightly packed, opaque RGBA, with its width and height:
/// gst_video's converter, with the colour matrix, range and chroma siting of the caps.
fn frame_to_rgba(
    info: &gst_video::VideoInfo,
    buffer: &gst::Buffer,
) -> Result<(Vec<u8>, usize, usize), gst::ErrorMessage> {
    let (w, h) = (info.width(), info.height());
    let failed = |what: String| gst::error_msg!(gst::StreamError::Format, ("{}", what));
    let src = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), info).map_err(
        |_| {
            failed(format!(
                "a portrait frame is smaller than its caps {w}x{h} say"
            ))
        },
    )?;
    // Same rate, aspect and interlacing: the converter changes the format only.
    let rgba_info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgba, w, h)
        .fps(info.fps())
        .par(info.par())
        .interlace_mode(info.interlace_mode())
        .build()
        .map_err(|e| failed(format!("cannot describe a {w}x{h} RGBA portrait: {e}")))?;
    let mut cfg = gst_video::VideoConverterConfig::new();
    cfg.set_threads(1);
    // Opaque, whatever the portrait's alpha (the output's alpha is the portrait's).
    cfg.set_alpha_mode(gst_video::VideoAlphaMode::Set);
    cfg.set_alpha_value(1.0);
    let converter = gst_video::VideoConverter::new(info, &rgba_info, Some(cfg)).map_err(|e| {
        failed(format!(
            "cannot convert a {:?} {w}x{h} portrait to RGBA: {e}",
            info.format()
        ))
    })?;
    let mut out = gst::Buffer::with_size(rgba_info.size())
        .map_err(|_| failed(format!("cannot allocate a {w}x{h} RGBA portrait")))?;
    {
        let out = out
            .get_mut()
            .ok_or_else(|| failed("new buffer not writable".into()))?;
        let mut dst = gst_video::VideoFrameRef::from_buffer_ref_writable(out, &rgba_info)
            .map_err(|_| failed("cannot map the RGBA portrait".into()))?;
        converter.frame_ref(&src, &mut dst);
    }
    // RGBA rows of any width are 4-byte aligned: the frame is tightly packed.
    let (w, h) = (w as usize, h as usize);
    let map = out
        .map_readable()
        .map_err(|_| failed("cannot read the RGBA portrait".into()))?;
    let rgba = map.as_slice().get(..w * h * 4).map(<[u8]>::to_vec);
    rgba.map(|v| (v, w, h))
        .ok_or_else(|| failed(format!("RGBA portrait of {w}x{h} is short")))
}

/// Whether two buffers hold the same bytes.
fn same_bytes(a: &gst::Buffer, b: &gst::Buffer) -> bool {
    if a.size() != b.size() {
        return false;
    }
    match (a.map_readable(), b.map_readable()) {
        (Ok(x), Ok(y)) => x.as_slice() == y.as_slice(),
        _ => false,
    }
}

/// The portrait pad's side of the element's state.
#[derive(Default)]
pub struct PortraitStream {
    /// The face analysis of portraits from the pad (None while there is no portrait pad).
    pub analyzer: Option<PortraitAnalyzer>,
    /// The pad's format.
    pub info: Option<gst_video::VideoInfo>,
    /// The last portrait frame analysed (a repeated frame, imagefreeze's, is not analysed again).
    last: Option<(gst_video::VideoInfo, gst::Buffer)>,
    /// The newest portrait frame taken from the pad and not yet analysed, with its format.
    next: Option<(Option<gst_video::VideoInfo>, gst::Buffer)>,
    /// Whether the portrait stream has timestamps: then a landmark frame waits until the portrait
    /// pad shows what comes after it (or the deadline passes, live).
    timed: bool,
}

impl PortraitStream {
    /// Nothing taken yet; `analyzer`: the face analysis, if it is open.
    pub fn new(analyzer: Option<PortraitAnalyzer>) -> PortraitStream {
        PortraitStream {
            analyzer,
            ..PortraitStream::default()
        }
    }

    /// A new stream (or the pad released): nothing taken, nothing seen.
    pub fn reset(&mut self) {
        self.next = None;
        self.last = None;
        self.timed = false;
    }

    /// A flush: the frame taken and not yet analysed is dropped.
    pub fn flush(&mut self) {
        self.next = None;
    }

    /// Takes the portrait frames of `pad` due by running time `rt` (all of them where `rt` is
    /// unknown); true when the landmark frame must wait for the portrait pad. `has_identity`:
    /// whether there is a portrait already.
    pub fn collect(
        &mut self,
        pad: &gst_base::AggregatorPad,
        rt: Option<gst::ClockTime>,
        timeout: bool,
        has_identity: bool,
    ) -> bool {
        let segment = pad.segment().downcast::<gst::ClockTime>().ok();
        while let Some(b) = pad.peek_buffer() {
            let prt = b
                .pts()
                .and_then(|t| segment.as_ref().and_then(|s| s.to_running_time(t)));
            if let (Some(p), Some(f)) = (prt, rt) {
                if p > f {
                    break;
                }
            }
            self.timed = prt.is_some();
            self.next = Some((self.info.clone(), b));
            pad.drop_buffer();
        }
        // What comes next on the portrait pad may still be due: wait for it, unless it has
        // ended, its frames carry no time, or (live) the deadline has passed.
        !timeout
            && !pad.is_eos()
            && !pad.has_buffer()
            && rt.is_some()
            && (self.timed || (!has_identity && self.next.is_none()))
    }

    /// The portrait frame collected last becomes the identity (Ok(Some)), unless it repeats the
    /// last one or there is none (Ok(None)). A picture without a usable face is a warning in
    /// `deferred` (Ok(None): the previous identity stays); a frame without caps or smaller than
    /// they say is an error.
    pub fn take_next(
        &mut self,
        imp: &Landmarks2Face,
        crop: Crop,
        deferred: &mut Vec<gst::Message>,
    ) -> Result<Option<Identity>, gst::ErrorMessage> {
        let Some((info, buffer)) = self.next.take() else {
            return Ok(None);
        };
        let Some(info) = info else {
            return Err(gst::error_msg!(
                gst::CoreError::Negotiation,
                ("a portrait frame came before its caps")
            ));
        };
        if let Some((last_info, last)) = &self.last {
            if *last_info == info && same_bytes(last, &buffer) {
                return Ok(None);
            }
        }
        let (rgba, w, h) = frame_to_rgba(&info, &buffer)?;
        self.last = Some((info, buffer));
        let settings = imp.settings();
        if self.analyzer.is_none() {
            self.analyzer = Some(open_face_analysis(&settings)?);
        }
        let face_index = settings.face_index as usize;
        let Some(analyzer) = self.analyzer.as_mut() else {
            return Ok(None);
        };
        match Identity::analyse(analyzer, rgba, w, h, face_index, crop) {
            Ok((id, face)) => {
                gst::info!(CAT, imp = imp, "new portrait from the pad: {}x{}", w, h);
                describe_face(imp, &face, &id, face_index, deferred);
                Ok(Some(id))
            }
            Err(e) => {
                let text = format!("portrait from the pad not used: {e}");
                deferred.push(
                    gst::message::Warning::builder(gst::StreamError::Decode, &text)
                        .src(&*imp.obj())
                        .build(),
                );
                Ok(None)
            }
        }
    }
}
