// SPDX-License-Identifier: MIT OR Apache-2.0
/**
 * element-landmarksrender:
 *
 * Draws a stream of 68 facial landmarks (`application/x-face-landmarks, layout=ibug68`) as video,
 * one video frame per landmark frame with the same timestamps, at the landmark stream's frame rate.
 * It is meant for previews and debugging of `audio2landmarks` and `facelandmarks`.
 *
 * The points are drawn with the frame's pose applied, the canonical unit square scaled to the
 * smaller side of the frame and centred. Each contour has its colour: jaw grey, brows orange,
 * nose yellow, eyes cyan, outer lips red, inner lips pink; the points are white dots
 * (`draw-points`). A frame without a face (confidence 0) is drawn as the background with a small
 * grey cross in the middle; a green dot in the top-left corner marks frames with speech active.
 *
 * The output size and format are negotiated with downstream: RGBA, BGRA, ARGB, ABGR, RGBx, BGRx,
 * xRGB, xBGR, RGB, BGR or I420, 256x256 when downstream does not care.
 *
 * A buffer that is not a landmark record (wrong size, NaN or infinite values) is an error.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=speech.wav ! decodebin ! audioconvert ! audioresample ! \
 *     audio2landmarks ! landmarksrender line-width=3 ! \
 *     video/x-raw,width=512,height=512 ! videoconvert ! autovideosink
 * ]|
 */
use gst::glib;
use gst::prelude::*;

mod imp;
mod render;

glib::wrapper! {
    pub struct LandmarksRender(ObjectSubclass<imp::LandmarksRender>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "landmarksrender",
        gst::Rank::NONE,
        LandmarksRender::static_type(),
    )
}
