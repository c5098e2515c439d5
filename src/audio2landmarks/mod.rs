// SPDX-License-Identifier: MIT OR Apache-2.0
/**
 * element-audio2landmarks:
 *
 * Speech in, a stream of 68 facial landmarks per video frame out, computed by an ONNX model
 * (Eskimez et al. 2018: an LSTM over log-mel features and their deltas) through ONNX Runtime.
 *
 * The sink takes mono F32LE audio at the model's sample rate (16 kHz for the default model), so
 * `audioconvert ! audioresample` adapts any source. The source produces
 * `application/x-face-landmarks, layout=ibug68` at the model's frame rate (25 fps for the default
 * model), one 576-byte record per frame (docs/landmark-stream.md).
 *
 * Frame n has PTS t0 + n / fps, where t0 is the timestamp of the first buffer after a flush or a
 * segment (the segment start in file pipelines). The model's lookahead is drained at EOS and,
 * together with the analysis window, reported as latency.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=speech.wav ! decodebin ! audioconvert ! audioresample ! \
 *     audio2landmarks ! landmarksrender ! videoconvert ! autovideosink
 * ]|
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct Audio2Landmarks(ObjectSubclass<imp::Audio2Landmarks>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    crate::onnx::ExecutionProvider::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "audio2landmarks",
        gst::Rank::NONE,
        Audio2Landmarks::static_type(),
    )
}
