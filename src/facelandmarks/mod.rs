// SPDX-License-Identifier: MIT OR Apache-2.0
/**
 * element-facelandmarks:
 *
 * Finds the 68 landmarks of a face in video with dlib (its HOG frontal face detector and its
 * 68-point shape predictor, as Eskimez et al. and Wang et al. do) and turns them into the landmark
 * stream: `application/x-face-landmarks, layout=ibug68` at the video's frame rate, one 576-byte
 * record per video frame with the frame's PTS and duration (docs/landmark-stream.md).
 *
 * Each record carries the face's expression in the canonical face frame with the person's identity
 * removed (the mean face plus the person's motion), the head pose relative to the first frame with
 * a face since the stream started or was flushed, and confidence 1 (see `faceshape` for how).
 * Frames without a face give the mean face, zero pose and confidence 0.
 *
 * The detector runs when there is no face being tracked, every `detect-interval` frames while one
 * is (to confirm it: the track restarts from the detector's box only where the two disagree), and
 * at once when the fit looks wrong. In between, the shape predictor follows the face in the
 * detector's box carried along with the face's motion, which is much cheaper (about 200 frames per
 * second at 360x288 on two cores, against about 70 with detection on every frame) and steadier. A
 * face the detector misses three times in a row counts as gone. With several faces, the surest
 * (or, while tracking, the one that overlaps the tracked face most) is followed.
 *
 * The identity (the person's neutral shape) and the pose reference are estimated afresh after a
 * flush or a new stream start, from the first frames with a face. Video with a variable frame rate
 * (0/1) gives landmark caps without a frame rate.
 *
 * The sink takes GRAY8, the common 8-bit RGB orders and planar or semi-planar YUV (the luma plane
 * is used as is), so `videoconvert` is rarely needed. The model file is not part of the plugin
 * (its training data excludes commercial use): Debian's `libdlib-data` installs it at
 * /usr/share/dlib/shape_predictor_68_face_landmarks.dat; the `model` property can point elsewhere.
 * The element adds no latency.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=talk.mp4 ! decodebin ! facelandmarks ! landmarksrender ! \
 *     videoconvert ! autovideosink
 * ]|
 */
use gst::glib;
use gst::prelude::*;

mod imp;
#[cfg(feature = "dlib")]
pub mod tracker;

glib::wrapper! {
    pub struct FaceLandmarks(ObjectSubclass<imp::FaceLandmarks>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "facelandmarks",
        gst::Rank::NONE,
        FaceLandmarks::static_type(),
    )
}
