// SPDX-License-Identifier: MIT OR Apache-2.0
//! The element's properties: [`Settings`] (what the properties hold), their specs, and setting
//! and reading them by name.

use std::path::PathBuf;

use gst::glib;
use gst::prelude::*;

use super::{Mode, PortraitExpression};
use crate::face;
use crate::onnx::{self, SessionOptions};

/// The default model (see [`onnx::default_model_path`]).
pub fn default_model_path() -> PathBuf {
    onnx::default_model_path("landmarks2face.onnx")
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub model: PathBuf,
    pub portrait: Option<PathBuf>,
    pub face_model: PathBuf,
    pub face_detector: PathBuf,
    #[cfg(feature = "dlib")]
    pub dlib_model: Option<PathBuf>,
    pub face_index: u32,
    pub mode: Mode,
    pub expression: PortraitExpression,
    pub session: SessionOptions,
}

impl Settings {
    /// Whether `other` opens the same model, portrait and face analysis (the settings read at
    /// NULL→READY).
    pub fn same_resources(&self, other: &Settings) -> bool {
        #[cfg(feature = "dlib")]
        if self.dlib_model != other.dlib_model {
            return false;
        }
        self.model == other.model
            && self.portrait == other.portrait
            && self.face_model == other.face_model
            && self.face_detector == other.face_detector
            && self.face_index == other.face_index
            && self.session == other.session
    }

    /// Sets the property `name`; false when it is not one of the settings.
    pub fn set(&mut self, name: &str, value: &glib::Value) -> bool {
        let path = |v: &glib::Value| v.get::<Option<String>>().ok().flatten().map(PathBuf::from);
        match name {
            "model" => self.model = path(value).unwrap_or_else(default_model_path),
            "portrait" => self.portrait = path(value),
            "face-model" => {
                self.face_model = path(value).unwrap_or_else(face::default_landmarker_path)
            }
            "face-detector-model" => {
                self.face_detector = path(value).unwrap_or_else(face::default_detector_path)
            }
            #[cfg(feature = "dlib")]
            "dlib-model" => self.dlib_model = path(value),
            "face-index" => self.face_index = value.get().unwrap_or(0),
            "mode" => self.mode = value.get().unwrap_or_default(),
            "portrait-expression" => self.expression = value.get().unwrap_or_default(),
            other => return self.session.set_property(other, value),
        }
        true
    }

    /// The property `name`; None when it is not one of the settings.
    pub fn get(&self, name: &str) -> Option<glib::Value> {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().to_string());
        Some(match name {
            "model" => self.model.to_string_lossy().to_string().to_value(),
            "portrait" => path(&self.portrait).to_value(),
            "face-model" => self.face_model.to_string_lossy().to_string().to_value(),
            "face-detector-model" => self.face_detector.to_string_lossy().to_string().to_value(),
            #[cfg(feature = "dlib")]
            "dlib-model" => path(&self.dlib_model).to_value(),
            "face-index" => self.face_index.to_value(),
            "mode" => self.mode.to_value(),
            "portrait-expression" => self.expression.to_value(),
            other => return self.session.property(other),
        })
    }
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

/// The element's property specs: the ONNX Runtime session's, the settings', and `dropped`.
pub fn properties() -> Vec<glib::ParamSpec> {
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
        .blurb("What the stream's expression is added to: the portrait with a closed, neutral mouth (an open-mouthed photo closes in silence, a smile is lowered), or its own expression as photographed")
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
}
