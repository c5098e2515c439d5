// SPDX-License-Identifier: MIT OR Apache-2.0
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]

//! GStreamer elements that turn speech into a talking face.
//!
//! - `audio2landmarks`: speech in, one frame of 68 facial landmarks per video frame out.
//! - `landmarksrender`: landmark frames drawn as video.

use gst::glib;

pub mod audio2landmarks;
pub mod dlib;
pub mod facelandmarks;
pub mod faceshape;
pub mod features;
pub mod landmarks;
pub mod landmarks2face;
pub mod landmarksrender;
pub mod motion;
pub mod onnx;

gst::plugin_define!(
    talkingface,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    audio2landmarks::register(plugin)?;
    facelandmarks::register(plugin)?;
    landmarksrender::register(plugin)?;
    landmarks2face::register(plugin)?;
    Ok(())
}
