// SPDX-License-Identifier: MIT OR Apache-2.0
/**
 * element-landmarks2face:
 *
 * Landmark frames plus one portrait in, video of that person speaking out. The portrait is given
 * by the `portrait` property (a PNG or JPEG file) or through the optional `portrait` sink pad
 * (video/x-raw), which lets the identity change while playing. Its 68 landmarks are found with
 * the face analysis of `crate::face` (MediaPipe's face detector and landmarker, Apache-2.0, on ONNX
 * Runtime; the largest face where there are several, with a warning, or the one `face-index`
 * names; a portrait turned by 90, 180 or 270 degrees is found too). With `portrait-expression`
 * `neutral` (default) the portrait's mouth is closed first (a photo taken mid-word is silent in
 * silence) and a smile beyond a neutral mouth's range is lowered to it; `keep` keeps its
 * expression as photographed. The face is cropped and aligned as the model's `crop` metadata says; each
 * landmark frame's expression (relative to the mean face) is applied to the portrait's own
 * landmarks, its pose as a rigid motion, and the model (ONNX, through ONNX Runtime) renders the
 * face. In `full` mode the generated face is pasted back into the whole portrait.
 *
 * The element is an aggregator: one output frame per landmark frame, with its timestamps; a
 * portrait frame takes effect from the landmark frame whose running time reaches its own
 * (docs/landmarks2face.md).
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 filesrc location=speech.wav ! decodebin ! audioconvert ! audioresample ! \
 *     audio2landmarks ! landmarks2face portrait=face.jpg ! videoconvert ! autovideosink
 * gst-launch-1.0 filesrc location=speech.wav ! decodebin ! audioconvert ! audioresample ! \
 *     audio2landmarks ! landmarks2face name=f ! videoconvert ! autovideosink \
 *     filesrc location=face.jpg ! jpegdec ! videoconvert ! imagefreeze ! f.portrait
 * ]|
 */
use gst::glib;
use gst::prelude::*;

mod composite;
mod generator;
mod identity;
mod imp;
mod portrait;
mod retarget;
mod settings;

glib::wrapper! {
    pub struct Landmarks2Face(ObjectSubclass<imp::Landmarks2Face>) @extends gst_base::Aggregator, gst::Element, gst::Object;
}

/// What the element outputs.
#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstLandmarks2FaceMode")]
pub enum Mode {
    #[enum_value(name = "The aligned face crop the model makes", nick = "crop")]
    Crop = 0,
    #[default]
    #[enum_value(name = "The whole portrait with the face pasted back", nick = "full")]
    Full = 1,
}

/// Which expression of the portrait the stream's expression is added to.
#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstLandmarks2FacePortraitExpression")]
pub enum PortraitExpression {
    #[default]
    #[enum_value(
        name = "A closed, neutral mouth: the portrait's open mouth is closed and a smile lowered, silence gives closed lips",
        nick = "neutral"
    )]
    Neutral = 0,
    #[enum_value(
        name = "The portrait's own expression, as photographed (an open mouth stays open in silence, a smile stays)",
        nick = "keep"
    )]
    Keep = 1,
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    Mode::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    PortraitExpression::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "landmarks2face",
        gst::Rank::NONE,
        Landmarks2Face::static_type(),
    )
}

#[cfg(test)]
mod tests {
    use super::identity::Crop;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// The `talkingface.crop` metadata parser takes any text and size without panicking; a
        /// crop it accepts has four values in [0, 1], eyes apart and a usable scale.
        #[test]
        fn crop_metadata_takes_any_text(
            s in prop_oneof![
                ".*",
                "(eyes:)?[-+0-9., eE]{0,40}",
                "eyes:(0?\\.[0-9]{1,4}|1|0),(0?\\.[0-9]{1,4}|1|0),(0?\\.[0-9]{1,4}|1|0),(0?\\.[0-9]{1,4}|1|0)",
            ],
            size in any::<usize>(),
        ) {
            if let Ok(c) = Crop::parse(&s, size) {
                prop_assert_eq!(c.size, size);
                for v in [c.eye_r[0], c.eye_r[1], c.eye_l[0], c.eye_l[1]] {
                    prop_assert!((0.0..=1.0).contains(&v), "{}", s);
                }
                let k = c.canonical_scale();
                prop_assert!(k.is_finite() && k > 0.0, "{}: scale {}", s, k);
            }
        }
    }
}
