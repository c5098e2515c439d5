// SPDX-License-Identifier: MIT OR Apache-2.0
//! landmarks2face with the default generator (models/landmarks2face.onnx, made by
//! training/make_warp_generator.py) and a public-domain portrait (Debian python-matplotlib-data).

mod common;

use common::*;
use gst::prelude::*;
use gst_video::prelude::*;
use gsttalkingface::landmarks::{self, LandmarkFrame};

const PORTRAIT: &str = "/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg";

fn l2f_model() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/models/landmarks2face.onnx").to_string()
}

fn element(mode: &str) -> gst::Element {
    init();
    let e = gst::ElementFactory::make("landmarks2face")
        .property("model", l2f_model())
        .property("portrait", PORTRAIT)
        .property("threads", 1u32)
        .build()
        .unwrap();
    e.set_property_from_str("mode", mode);
    e
}

fn landmark_caps() -> gst::Caps {
    landmarks::caps(Some(gst::Fraction::new(25, 1)))
}

fn lm_buffer(f: &LandmarkFrame, n: u64) -> gst::Buffer {
    let mut b = gst::Buffer::from_mut_slice(f.to_bytes().to_vec());
    {
        let b = b.get_mut().unwrap();
        b.set_pts(gst::ClockTime::from_mseconds(40 * n));
        b.set_duration(gst::ClockTime::from_mseconds(40));
        b.set_offset(n);
    }
    b
}

fn harness(e: &gst::Element, out_caps: Option<&str>) -> gst_check::Harness {
    let mut h = gst_check::Harness::with_element(e, Some("sink"), Some("src"));
    if let Some(c) = out_caps {
        h.set_sink_caps_str(c);
    }
    h.play();
    h.set_src_caps(landmark_caps());
    h
}

fn rgba_of(b: &gst::Buffer, caps: &gst::Caps) -> (Vec<u8>, usize, usize) {
    let info = gst_video::VideoInfo::from_caps(caps).unwrap();
    assert_eq!(info.format(), gst_video::VideoFormat::Rgba);
    let f = gst_video::VideoFrameRef::from_buffer_ref_readable(b.as_ref(), &info).unwrap();
    let (w, h) = (info.width() as usize, info.height() as usize);
    let stride = f.plane_stride()[0] as usize;
    let data = f.plane_data(0).unwrap();
    let mut out = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        out.extend_from_slice(&data[y * stride..y * stride + w * 4]);
    }
    (out, w, h)
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse: f64 = a
        .iter()
        .zip(b)
        .enumerate()
        .filter(|(i, _)| i % 4 != 3)
        .map(|(_, (x, y))| (*x as f64 - *y as f64).powi(2))
        .sum::<f64>()
        / (a.len() as f64 * 0.75);
    10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10()
}

fn portrait_rgba() -> (Vec<u8>, usize, usize) {
    let img = image::open(PORTRAIT).unwrap().to_rgba8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    (img.into_raw(), w, h)
}

/// Another identity of another size: the portrait mirrored, with a grey border, 600 x 640.
fn mirrored_with_border(rgba: &[u8], w: usize, hh: usize) -> (Vec<u8>, usize, usize) {
    let (w2, h2) = (600usize, 640usize);
    let mut other = vec![40u8; w2 * h2 * 4];
    for y in 0..hh {
        for x in 0..w {
            let s = (y * w + (w - 1 - x)) * 4;
            let d = ((y + 20) * w2 + x + 44) * 4;
            other[d..d + 4].copy_from_slice(&rgba[s..s + 4]);
        }
    }
    (other, w2, h2)
}

/// The mean face with the jaw dropped by `d` canonical units.
fn open_mouth(d: f32) -> LandmarkFrame {
    let mut f = LandmarkFrame::default();
    for i in [56, 57, 58, 65, 66, 67] {
        f.points[i][1] += d;
    }
    for i in [5, 6, 7, 8, 9, 10, 11, 55, 59] {
        f.points[i][1] += d * 0.7;
    }
    f
}

#[test]
fn full_mode_negotiates_portrait_size_and_keeps_identity() {
    let e = element("full");
    let mut h = harness(&e, None);
    h.push(lm_buffer(&LandmarkFrame::default(), 0)).unwrap();
    let out = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(s.get::<i32>("width").unwrap(), 512);
    assert_eq!(s.get::<i32>("height").unwrap(), 600);
    assert_eq!(s.get::<&str>("format").unwrap(), "RGBA");
    assert_eq!(
        s.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(25, 1)
    );
    assert_eq!(out.pts(), Some(gst::ClockTime::ZERO));
    assert_eq!(out.duration(), Some(gst::ClockTime::from_mseconds(40)));
    // Target = the portrait's own landmarks: the portrait comes back.
    let (got, w, hh) = rgba_of(&out, &caps);
    let (orig, ow, oh) = portrait_rgba();
    assert_eq!((w, hh), (ow, oh));
    let p = psnr(&got, &orig);
    assert!(p > 38.0, "identity PSNR {p:.1} dB");
}

#[test]
fn open_mouth_changes_the_mouth_and_only_the_face() {
    let e = element("full");
    let mut h = harness(&e, None);
    h.push(lm_buffer(&LandmarkFrame::default(), 0)).unwrap();
    h.push(lm_buffer(&open_mouth(0.08), 1)).unwrap();
    // Output comes from the aggregator's thread: the caps are set once a frame is out.
    let a0 = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let (a, w, hh) = rgba_of(&a0, &caps);
    let b1 = h.pull().unwrap();
    assert_eq!(b1.pts(), Some(gst::ClockTime::from_mseconds(40)));
    let (b, _, _) = rgba_of(&b1, &caps);
    // Changed pixels: many, all in the lower face, none in the top quarter (cap, flag).
    let mut changed = 0usize;
    let (mut top, mut dark) = (0usize, 0usize);
    for y in 0..hh {
        for x in 0..w {
            let i = (y * w + x) * 4;
            let d: i32 = (0..3)
                .map(|c| (a[i + c] as i32 - b[i + c] as i32).abs())
                .sum();
            if d > 30 {
                changed += 1;
                if y < hh / 4 {
                    top += 1;
                }
                let lum: u32 = (0..3).map(|c| b[i + c] as u32).sum();
                if lum < 120 {
                    dark += 1;
                }
            }
        }
    }
    assert!(changed > 1500, "{changed} pixels changed");
    assert_eq!(top, 0);
    assert!(dark > 200, "no dark mouth cavity ({dark} dark pixels)");
}

/// The default model's mouth interior (real interiors from GRID s1, colour-matched to the portrait,
/// training/l2f/exemplars.py) takes the portrait's colour: on a grey-scale portrait the open mouth
/// is grey too, where painted teeth or GRID's warm interiors would be coloured.
#[test]
fn open_mouth_interior_follows_a_grey_portrait() {
    let (rgba, w, hh) = portrait_rgba();
    let mut grey = rgba.clone();
    for px in grey.chunks_exact_mut(4) {
        let y = (0.299 * px[0] as f32 + 0.587 * px[1] as f32 + 0.114 * px[2] as f32 + 0.5) as u8;
        px[..3].fill(y);
    }
    let path = write_png("grey-portrait.png", &grey, w, hh);
    init();
    let e = gst::ElementFactory::make("landmarks2face")
        .property("model", l2f_model())
        .property("portrait", path.to_str().unwrap())
        .property("threads", 1u32)
        .build()
        .unwrap();
    let mut h = harness(&e, None);
    h.push(lm_buffer(&LandmarkFrame::default(), 0)).unwrap();
    h.push(lm_buffer(&open_mouth(0.06), 1)).unwrap();
    let a0 = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let (a, _, _) = rgba_of(&a0, &caps);
    let (b, _, _) = rgba_of(&h.pull().unwrap(), &caps);
    let (mut changed, mut dark, mut coloured) = (0usize, 0usize, 0usize);
    for (p, q) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
        let d: i32 = (0..3).map(|c| (p[c] as i32 - q[c] as i32).abs()).sum();
        if d > 30 {
            changed += 1;
            let lum = q[..3].iter().map(|&v| v as u32).sum::<u32>() / 3;
            if lum < 90 {
                dark += 1;
            }
        }
        let spread = q[..3].iter().max().unwrap() - q[..3].iter().min().unwrap();
        if spread > 6 {
            coloured += 1;
        }
    }
    let _ = std::fs::remove_file(&path);
    assert!(changed > 1500, "{changed} pixels changed");
    assert!(dark > 100, "no dark mouth interior ({dark} dark pixels)");
    assert_eq!(
        coloured, 0,
        "{coloured} coloured pixels on a grey-scale portrait"
    );
}

#[test]
fn crop_mode_and_converted_formats() {
    let e = element("crop");
    let mut h = harness(&e, None);
    h.push(lm_buffer(&LandmarkFrame::default(), 0)).unwrap();
    let _ = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(
        (
            s.get::<i32>("width").unwrap(),
            s.get::<i32>("height").unwrap()
        ),
        (256, 256)
    );

    let e = element("full");
    let mut h = harness(
        &e,
        Some("video/x-raw,format=I420,width=320,height=240,framerate=25/1"),
    );
    h.push(lm_buffer(&LandmarkFrame::default(), 0)).unwrap();
    let out = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
    assert_eq!(info.format(), gst_video::VideoFormat::I420);
    assert_eq!((info.width(), info.height()), (320, 240));
    assert_eq!(out.size(), info.size());
}

#[test]
fn portrait_pad_and_identity_change_while_playing() {
    init();
    let e = gst::ElementFactory::make("landmarks2face")
        .property("model", l2f_model())
        .build()
        .unwrap();
    let mut hp = gst_check::Harness::with_element(&e, Some("portrait"), None);
    let mut h = gst_check::Harness::with_element(&e, Some("sink"), Some("src"));
    h.play();
    h.set_src_caps(landmark_caps());
    let (rgba, w, hh) = portrait_rgba();
    hp.set_src_caps_str(&format!(
        "video/x-raw,format=RGBA,width={w},height={hh},framerate=0/1"
    ));
    hp.push(gst::Buffer::from_mut_slice(rgba.clone())).unwrap();
    h.push(lm_buffer(&LandmarkFrame::default(), 0)).unwrap();
    let first = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let (got, _, _) = rgba_of(&first, &caps);
    assert!(psnr(&got, &rgba) > 38.0);

    // A second identity of another size: the mirrored portrait with a border, 600 x 640.
    let (other, w2, h2) = mirrored_with_border(&rgba, w, hh);
    hp.set_src_caps_str(&format!(
        "video/x-raw,format=RGBA,width={w2},height={h2},framerate=0/1"
    ));
    hp.push(gst::Buffer::from_mut_slice(other.clone())).unwrap();
    h.push(lm_buffer(&LandmarkFrame::default(), 1)).unwrap();
    let second = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(
        (
            s.get::<i32>("width").unwrap(),
            s.get::<i32>("height").unwrap()
        ),
        (600, 640)
    );
    let (got, _, _) = rgba_of(&second, &caps);
    assert!(psnr(&got, &other) > 38.0);
}

/// `rgba` (tightly packed, `w` x `h`) as a frame of `format`, through gst_video's converter.
fn picture_as(rgba: &[u8], w: usize, h: usize, format: gst_video::VideoFormat) -> gst::Buffer {
    let src_info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgba, w as u32, h as u32)
        .build()
        .unwrap();
    let info = gst_video::VideoInfo::builder(format, w as u32, h as u32)
        .build()
        .unwrap();
    let src = gst::Buffer::from_mut_slice(rgba.to_vec());
    let src = gst_video::VideoFrameRef::from_buffer_ref_readable(src.as_ref(), &src_info).unwrap();
    let mut out = gst::Buffer::with_size(info.size()).unwrap();
    {
        let mut dst =
            gst_video::VideoFrameRef::from_buffer_ref_writable(out.get_mut().unwrap(), &info)
                .unwrap();
        gst_video::VideoConverter::new(&src_info, &info, None)
            .unwrap()
            .frame_ref(&src, &mut dst);
    }
    out
}

/// Portraits through the pad in packed RGB with padded rows (an odd width), BGR, BGRx, and the
/// YUV formats decoders give (I420, NV12), all converted by gst_video: the packed ones give the
/// very frame the RGBA portrait gives, the YUV ones (chroma subsampled) a frame close to it. At
/// 25 frames/s, as `imagefreeze` sends (the converter refuses a rate change).
#[test]
fn portrait_pad_formats() {
    init();
    let (rgba, w, hh) = portrait_rgba();
    // 511 wide: the RGB and BGR rows (1533 bytes) are padded to 1536.
    let w2 = w - 1;
    let mut cut = Vec::with_capacity(w2 * hh * 4);
    for row in rgba.chunks_exact(w * 4) {
        cut.extend_from_slice(&row[..w2 * 4]);
    }
    let render = |format: gst_video::VideoFormat| -> Vec<u8> {
        let e = gst::ElementFactory::make("landmarks2face")
            .property("model", l2f_model())
            .property("threads", 1u32)
            .build()
            .unwrap();
        let mut hp = gst_check::Harness::with_element(&e, Some("portrait"), None);
        let mut h = gst_check::Harness::with_element(&e, Some("sink"), Some("src"));
        h.set_sink_caps_str("video/x-raw,format=RGBA");
        h.play();
        h.set_src_caps(landmark_caps());
        hp.set_src_caps_str(&format!(
            "video/x-raw,format={},width={w2},height={hh},framerate=25/1",
            format.to_str()
        ));
        hp.push(picture_as(&cut, w2, hh, format)).unwrap();
        h.push(lm_buffer(&open_mouth(0.04), 0)).unwrap();
        let out = h.pull().unwrap();
        let caps = h.sinkpad().unwrap().current_caps().unwrap();
        let (got, gw, gh) = rgba_of(&out, &caps);
        assert_eq!((gw, gh), (w2, hh), "{format:?}");
        got
    };
    let reference = render(gst_video::VideoFormat::Rgba);
    // The face was found and driven: the output is the portrait, not a copy of it.
    let p = psnr(&reference, &cut);
    assert!(p > 25.0 && p < 60.0, "RGBA portrait: PSNR {p:.1} dB");
    for f in [
        gst_video::VideoFormat::Rgb,
        gst_video::VideoFormat::Bgr,
        gst_video::VideoFormat::Bgrx,
    ] {
        assert!(render(f) == reference, "{f:?} portrait differs from RGBA");
    }
    for f in [gst_video::VideoFormat::I420, gst_video::VideoFormat::Nv12] {
        let p = psnr(&render(f), &reference);
        assert!(p > 30.0, "{f:?} portrait: PSNR {p:.1} dB against RGBA");
    }
}

#[test]
fn speech_pipeline_end_to_end() {
    run_pipeline(&format!(
        "audiotestsrc num-buffers=20 ! audioconvert ! audioresample ! audio2landmarks model={} ! \
         landmarks2face model={} portrait={PORTRAIT} ! videoconvert ! fakesink",
        model("a2l_test.onnx"),
        l2f_model()
    ))
    .unwrap();
}

fn error_of(props: &str) -> String {
    run_pipeline(&format!(
        "audiotestsrc num-buffers=5 ! audioconvert ! audioresample ! audio2landmarks model={} ! \
         landmarks2face {props} ! fakesink",
        model("a2l_test.onnx")
    ))
    .expect_err("should fail")
}

/// Runs the speech pipeline into landmarks2face with `props`; the warnings posted, or the error.
fn warnings_of(props: &str) -> Result<Vec<String>, String> {
    let pipeline = gst::parse::launch(&format!(
        "audiotestsrc num-buffers=5 ! audioconvert ! audioresample ! audio2landmarks model={} ! \
         landmarks2face {props} ! fakesink",
        model("a2l_test.onnx")
    ))
    .map_err(|e| e.to_string())?;
    let bus = pipeline.bus().expect("bus");
    let mut warnings = Vec::new();
    let mut result = Ok(());
    if pipeline.set_state(gst::State::Playing).is_err() {
        result = Err("state change failed".to_string());
    }
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(60)) {
        match msg.view() {
            gst::MessageView::Eos(..) => break,
            gst::MessageView::Warning(w) => warnings.push(w.error().to_string()),
            gst::MessageView::Error(e) => {
                result = Err(e.error().to_string());
                break;
            }
            _ => {}
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    result.map(|_| warnings)
}

fn write_png(name: &str, rgba: &[u8], w: usize, h: usize) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("l2f-{}-{name}", std::process::id()));
    image::save_buffer(
        &p,
        rgba,
        w as u32,
        h as u32,
        image::ExtendedColorType::Rgba8,
    )
    .unwrap();
    p
}

#[test]
fn bad_portraits_and_models() {
    let m = l2f_model();
    // No face: a flat grey picture.
    let grey = write_png("grey.png", &vec![128u8; 300 * 300 * 4], 300, 300);
    let msg = error_of(&format!("model={m} portrait={}", grey.display()));
    assert!(msg.contains("no face"), "{msg}");
    // Two faces side by side.
    let (rgba, w, h) = portrait_rgba();
    let mut two = vec![0u8; 2 * w * h * 4];
    for y in 0..h {
        for k in 0..2 {
            let d = (y * 2 * w + k * w) * 4;
            two[d..d + w * 4].copy_from_slice(&rgba[y * w * 4..(y + 1) * w * 4]);
        }
    }
    let twop = write_png("two.png", &two, 2 * w, h);
    // Several faces: the largest is used, with a warning naming the others; face-index picks
    // another; a face-index beyond them is an error.
    let warnings = warnings_of(&format!("model={m} portrait={}", twop.display())).unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("found 2 faces") && w.contains("face-index")),
        "{warnings:?}"
    );
    warnings_of(&format!(
        "model={m} portrait={} face-index=1",
        twop.display()
    ))
    .unwrap();
    let msg = error_of(&format!(
        "model={m} portrait={} face-index=2",
        twop.display()
    ));
    assert!(msg.contains("face-index is 2"), "{msg}");
    // A face too small: the portrait at a sixth of its size.
    let (sw, sh) = (w / 6, h / 6);
    let mut small = vec![0u8; sw * sh * 4];
    for y in 0..sh {
        for x in 0..sw {
            let (d, o) = ((y * sw + x) * 4, ((y * 6) * w + x * 6) * 4);
            small[d..d + 4].copy_from_slice(&rgba[o..o + 4]);
        }
    }
    let smallp = write_png("small.png", &small, sw, sh);
    let msg = error_of(&format!("model={m} portrait={}", smallp.display()));
    assert!(
        msg.contains("too small") || msg.contains("no face"),
        "{msg}"
    );
    // Upside down: found (no error, no warning).
    let flipped: Vec<u8> = rgba
        .chunks_exact(4)
        .rev()
        .flat_map(|p| p.iter().copied())
        .collect();
    let flipp = write_png("flipped.png", &flipped, w, h);
    assert!(
        warnings_of(&format!("model={m} portrait={}", flipp.display()))
            .unwrap()
            .is_empty()
    );
    // Not an image.
    let msg = error_of(&format!("model={m} portrait={}", model("a2l_test.onnx")));
    assert!(msg.contains("cannot decode portrait"), "{msg}");
    // No portrait at all.
    let msg = error_of(&format!("model={m}"));
    assert!(msg.contains("no portrait"), "{msg}");
    // A model of the other kind.
    let msg = error_of(&format!(
        "model={} portrait={PORTRAIT}",
        model("a2l_test.onnx")
    ));
    assert!(msg.contains("kind"), "{msg}");
    // The face models missing, or of the wrong kind.
    for prop in ["face-model", "face-detector-model"] {
        let msg = error_of(&format!(
            "model={m} portrait={PORTRAIT} {prop}=/nonexistent/face.onnx"
        ));
        assert!(msg.contains("/nonexistent/face.onnx"), "{msg}");
    }
    let msg = error_of(&format!("model={m} portrait={PORTRAIT} face-model={m}"));
    assert!(msg.contains("face_landmarks"), "{msg}");
    for f in [grey, twop, smallp, flipp] {
        let _ = std::fs::remove_file(f);
    }
}

/// Pushes `buffer`, then frames, until the element refuses them (the landmark pad queues what it
/// gets and the aggregator's thread handles it: the refusal comes with the next push).
fn push_until_refused(h: &mut gst_check::Harness, buffer: gst::Buffer) -> gst::FlowError {
    let mut r = h.push(buffer);
    for n in 1..200 {
        if let Err(e) = r {
            return e;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        r = h.push(lm_buffer(&LandmarkFrame::default(), n));
    }
    panic!("the element never refused the stream");
}

/// The first error message on `bus` (waits up to 10 s).
fn error_on(bus: &gst::Bus) -> String {
    let m = bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(10), &[gst::MessageType::Error])
        .expect("an error message");
    match m.view() {
        gst::MessageView::Error(e) => e.error().to_string(),
        _ => unreachable!(),
    }
}

/// The landmark stream cut into 100-byte chunks without timestamps (as filesrc reads a file):
/// one frame per whole record at n/fps; the partial record at EOS is a warning naming its bytes.
#[test]
fn landmark_stream_in_any_chunks() {
    let e = element("crop");
    let bus = gst::Bus::new();
    e.set_bus(Some(&bus));
    let mut h = harness(&e, None);
    let mut bytes = Vec::new();
    for d in [0.0, 0.02, 0.04] {
        bytes.extend_from_slice(&open_mouth(d).to_bytes());
    }
    bytes.extend_from_slice(&[0u8; 50]);
    for c in bytes.chunks(100) {
        h.push(gst::Buffer::from_slice(c.to_vec())).unwrap();
    }
    assert!(h.push_event(gst::event::Eos::new()));
    for n in 0..3u64 {
        let out = h.pull().unwrap();
        assert_eq!(out.pts(), Some(gst::ClockTime::from_mseconds(40 * n)));
        assert_eq!(out.duration(), Some(gst::ClockTime::from_mseconds(40)));
    }
    assert!(h.try_pull().is_none());
    // Posted from the aggregator's thread when it handles the EOS: wait for it.
    let w = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(10),
            &[gst::MessageType::Warning],
        )
        .expect("a warning for the leftover bytes");
    if let gst::MessageView::Warning(w) = w.view() {
        assert!(
            w.error().to_string().contains("50 bytes left over"),
            "{}",
            w.error()
        );
    }
    assert!(!bus
        .iter()
        .any(|m| matches!(m.view(), gst::MessageView::Error(_))));
}

/// A record of finite nonsense (pose yaw of 1e9 radians) is an error naming the field.
#[test]
fn out_of_range_landmarks_are_an_error() {
    let e = element("crop");
    let bus = gst::Bus::new();
    e.set_bus(Some(&bus));
    let mut h = harness(&e, None);
    let mut f = LandmarkFrame::default();
    f.pose[1] = 1e9;
    assert_eq!(
        push_until_refused(&mut h, lm_buffer(&f, 0)),
        gst::FlowError::Error
    );
    let err = error_on(&bus);
    assert!(err.contains("pose yaw = 1e9"), "{err}");
    // Which record: its frame number and time.
    assert!(err.contains("pts 0:00:00"), "{err}");
}

/// A model that fits the contract but fails in ONNX Runtime on every run: a stream error that
/// names the model and ONNX Runtime's message, and FlowError::Error (not NotNegotiated).
#[test]
fn inference_failure_is_a_stream_error_naming_the_model() {
    init();
    let m = model("l2f_fails_at_run_time.onnx");
    let e = gst::ElementFactory::make("landmarks2face")
        .property("model", &m)
        .property("portrait", PORTRAIT)
        .property("threads", 1u32)
        .build()
        .unwrap();
    e.set_property_from_str("mode", "crop");
    let bus = gst::Bus::new();
    e.set_bus(Some(&bus));
    let mut h = harness(&e, None);
    assert_eq!(
        push_until_refused(&mut h, lm_buffer(&LandmarkFrame::default(), 0)),
        gst::FlowError::Error
    );
    let err = bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(10), &[gst::MessageType::Error])
        .expect("an error message");
    let gst::MessageView::Error(err) = err.view() else {
        unreachable!()
    };
    assert!(
        err.error().matches(gst::StreamError::Failed),
        "{}",
        err.error()
    );
    let text = err.error().to_string();
    assert!(text.contains(&m), "{text}");
    assert!(
        text.contains("ONNX Runtime failed to run the model"),
        "{text}"
    );
    assert!(text.to_lowercase().contains("reshape"), "{text}");
}

#[test]
fn any_model_that_fits_the_contract_runs() {
    // Another size (128), another crop, no mask: a model that returns its reference crop.
    init();
    let e = gst::ElementFactory::make("landmarks2face")
        .property("model", model("l2f_identity.onnx"))
        .property("portrait", PORTRAIT)
        .build()
        .unwrap();
    e.set_property_from_str("mode", "crop");
    let mut h = harness(&e, None);
    h.push(lm_buffer(&open_mouth(0.08), 0)).unwrap();
    let _ = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!(
        (
            s.get::<i32>("width").unwrap(),
            s.get::<i32>("height").unwrap()
        ),
        (128, 128)
    );

    let e = gst::ElementFactory::make("landmarks2face")
        .property("model", model("l2f_identity.onnx"))
        .property("portrait", PORTRAIT)
        .build()
        .unwrap();
    let mut h = harness(&e, None);
    h.push(lm_buffer(&open_mouth(0.08), 0)).unwrap();
    let out = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let (got, _, _) = rgba_of(&out, &caps);
    let (orig, _, _) = portrait_rgba();
    // The crop went through a 128-pixel resampling and back, nothing else.
    let p = psnr(&got, &orig);
    assert!(p > 25.0 && p < 60.0, "PSNR {p:.1}");
}

/// Live (the harness says its source is live): frames that would be late are skipped, counted and
/// posted as QoS messages that say live.
#[test]
fn late_frames_are_dropped_under_qos() {
    let e = element("crop");
    let bus = gst::Bus::new();
    e.set_bus(Some(&bus));
    let mut h = harness(&e, None);
    h.push(lm_buffer(&LandmarkFrame::default(), 0)).unwrap();
    assert!(h.pull().is_ok());
    // The sink says it is 2 s late at running time 40 ms: frames before 2.04 s are skipped.
    assert!(h.push_upstream_event(gst::event::Qos::new(
        gst::QOSType::Underflow,
        0.5,
        2_000_000_000,
        gst::ClockTime::from_mseconds(40),
    )));
    for n in 1..10 {
        h.push(lm_buffer(&LandmarkFrame::default(), n)).unwrap();
    }
    h.push(lm_buffer(&LandmarkFrame::default(), 60)).unwrap();
    // The next frame out is the first one in time: none of the late ones was rendered.
    assert_eq!(
        h.pull().unwrap().pts(),
        Some(gst::ClockTime::from_mseconds(2400))
    );
    assert_eq!(e.property::<u64>("dropped"), 9);
    let qos: Vec<bool> = bus
        .iter()
        .filter_map(|m| match m.view() {
            gst::MessageView::Qos(q) => Some(q.get().0),
            _ => None,
        })
        .collect();
    assert_eq!(qos, vec![true; 9]);
}

/// Not live: QoS events do not make the element skip frames (every frame is rendered, in order).
#[test]
fn no_frames_dropped_when_not_live() {
    let e = element("crop");
    let bus = gst::Bus::new();
    e.set_bus(Some(&bus));
    let mut h = gst_check::Harness::with_element(&e, Some("sink"), Some("src"));
    h.set_live(false);
    h.play();
    h.set_src_caps(landmark_caps());
    h.push(lm_buffer(&LandmarkFrame::default(), 0)).unwrap();
    assert!(h.pull().is_ok());
    assert!(h.push_upstream_event(gst::event::Qos::new(
        gst::QOSType::Underflow,
        0.5,
        2_000_000_000,
        gst::ClockTime::from_mseconds(40),
    )));
    for n in 1..5 {
        h.push(lm_buffer(&LandmarkFrame::default(), n)).unwrap();
        assert_eq!(
            h.pull().unwrap().pts(),
            Some(gst::ClockTime::from_mseconds(40 * n))
        );
    }
    assert_eq!(e.property::<u64>("dropped"), 0);
    assert!(!bus
        .iter()
        .any(|m| matches!(m.view(), gst::MessageView::Qos(_))));
}

/// The mouth opening (inner-lip gap over mouth width) of the face in an RGBA picture, by the
/// default face analysis.
fn opening_of(rgba: &[u8], w: usize, h: usize) -> f32 {
    gsttalkingface::faceshape::mouth_opening(&points_of(rgba, w, h))
}

/// The 68 landmarks of the face in an RGBA picture, by the default face analysis.
fn points_of(rgba: &[u8], w: usize, h: usize) -> [[f32; 2]; landmarks::N_POINTS] {
    use gsttalkingface::face::{self, FaceAnalyzer, Image};
    let mut a = FaceAnalyzer::load(
        &face::default_detector_path(),
        &face::default_landmarker_path(),
        &gsttalkingface::onnx::SessionOptions {
            provider: gsttalkingface::onnx::ExecutionProvider::Cpu,
            threads: 1,
            ..Default::default()
        },
    )
    .unwrap();
    a.portrait(&Image::rgba(rgba, w, h).unwrap(), 0, 64.0)
        .unwrap()
        .points
}

/// One full-mode frame of `portrait` driven by `f`, with `portrait-expression` = `expression`.
fn render_one(portrait: &str, expression: &str, f: &LandmarkFrame) -> (Vec<u8>, usize, usize) {
    render_with(&l2f_model(), portrait, expression, f)
}

/// One frame of landmarks2face with `model`, in full mode, as RGBA.
fn render_with(
    model: &str,
    portrait: &str,
    expression: &str,
    f: &LandmarkFrame,
) -> (Vec<u8>, usize, usize) {
    let e = element("full");
    e.set_property("model", model);
    e.set_property("portrait", portrait);
    e.set_property_from_str("portrait-expression", expression);
    let mut h = harness(&e, None);
    h.push(lm_buffer(f, 0)).unwrap();
    let out = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    rgba_of(&out, &caps)
}

/// A portrait photographed with its mouth open: in silence, `neutral` (the default) closes it and
/// `keep` leaves it open; speech opens the neutral face again. (`L2F_TEST_OUT=folder` writes the
/// open portrait and the three renderings there, to look at: open.png, keep.png, neutral.png,
/// speech.png; training/diagnostics/neutral_mouth_figure.py puts them side by side.)
#[test]
fn portrait_expression_neutral_closes_an_open_mouth() {
    // The open-mouthed portrait: the generator's own rendering of the jaw dropped, as a PNG.
    let (open, w, h) = render_one(PORTRAIT, "keep", &open_mouth(0.08));
    let open_png = std::env::temp_dir().join(format!("l2f-{}-open.png", std::process::id()));
    image::save_buffer(
        &open_png,
        &open,
        w as u32,
        h as u32,
        image::ExtendedColorType::Rgba8,
    )
    .unwrap();
    let p = open_png.to_string_lossy().to_string();
    let o_portrait = opening_of(&open, w, h);
    let silence = LandmarkFrame::default();
    // The closed-mouthed portrait as it is, through the same measure: what closed lips measure.
    let (closed, w0, h0) = render_one(PORTRAIT, "keep", &silence);
    let o_closed = opening_of(&closed, w0, h0);
    let (kept, w2, h2) = render_one(&p, "keep", &silence);
    let o_keep = opening_of(&kept, w2, h2);
    let (neutral, w3, h3) = render_one(&p, "neutral", &silence);
    let o_neutral = opening_of(&neutral, w3, h3);
    let (speaking, w4, h4) = render_one(&p, "neutral", &open_mouth(0.05));
    let o_speaking = opening_of(&speaking, w4, h4);
    if let Some(d) = std::env::var_os("L2F_TEST_OUT") {
        let d = std::path::PathBuf::from(d);
        for (name, px) in [
            ("open", &open),
            ("keep", &kept),
            ("neutral", &neutral),
            ("speech", &speaking),
        ] {
            image::save_buffer(
                d.join(format!("{name}.png")),
                px,
                w as u32,
                h as u32,
                image::ExtendedColorType::Rgba8,
            )
            .unwrap();
        }
    }
    eprintln!(
        "mouth opening: closed portrait {o_closed:.3}, open portrait {o_portrait:.3}, silence kept {o_keep:.3}, silence neutral {o_neutral:.3}, speech neutral {o_speaking:.3}"
    );
    assert!(o_portrait > 0.2, "{o_portrait}");
    assert!(
        (o_keep - o_portrait).abs() < 0.05,
        "{o_keep} vs {o_portrait}"
    );
    // Closed lips where the portrait shows teeth and cavity, measured like closed lips: default
    // generator, closed portrait 0.029, open portrait 0.310, silence neutral 0.023, speech 0.189.
    // Before (0.267 -> 0.067) the mouth's Delaunay triangles joined the upper lip to the lower one
    // across the mouth and the 64x64 grid smeared the lip line, leaving a sliver of teeth
    // (training/make_warp_generator.py: UPPER_LIP, mouth_box, lips_inward).
    assert!(
        o_neutral < 0.035 && o_neutral < o_closed + 0.01,
        "{o_neutral} (closed portrait {o_closed})"
    );
    assert!(o_speaking > o_neutral + 0.1, "{o_speaking} vs {o_neutral}");
    let _ = std::fs::remove_file(open_png);
}

/// The mean face smiling: the mouth corners raised by `lift` and pulled out by `widen` canonical
/// units each (the lip points between them following, the lift by the square of their distance
/// from the mouth's middle, the widening in proportion to it).
fn smile_frame(lift: f32, widen: f32) -> LandmarkFrame {
    let mut f = LandmarkFrame::default();
    let m = landmarks::mean_face();
    for i in 48..68 {
        let half = if i < 60 {
            m[54][0] - m[48][0]
        } else {
            m[64][0] - m[60][0]
        } / 2.0;
        let r = ((m[i][0] - 0.5) / half).clamp(-1.0, 1.0);
        f.points[i][1] -= lift * r * r;
        f.points[i][0] += widen * r;
    }
    f
}

/// A smiling portrait: in silence, `neutral` (the default) lowers its raised mouth corners and
/// narrows its widened mouth back towards a neutral mouth, `keep` keeps the smile; a portrait
/// that does not smile is left as it is, and speech still opens the neutral mouth.
/// (`L2F_TEST_OUT=folder` writes smile_*.png there: the portrait, the smiling portrait, and the
/// renderings; `training/diagnostics/neutral_mouth_figure.py --smile` puts them side by side.)
#[test]
fn portrait_expression_neutral_lowers_a_smile() {
    use gsttalkingface::faceshape::{close_mouth, smile, Smile, SMILE_LIFT_KEPT, SMILE_WIDTH_KEPT};
    let silence = LandmarkFrame::default();
    // Measured as the element measures the portrait: with the mouth closed.
    let smile_of = |px: &[u8], w: usize, h: usize| -> Smile {
        smile(&close_mouth(&points_of(px, w, h))).expect("a face")
    };
    // The smiling portrait: the generator's own rendering of the corners raised by 0.04 and
    // pulled out by 0.02 canonical units (0.1 and 0.05 eye-corner distances), as a PNG. (The face
    // analysis sees less of the lift: +0.037.)
    let (smiling, w, h) = render_one(PORTRAIT, "keep", &smile_frame(0.04, 0.02));
    let path = std::env::temp_dir().join(format!("l2f-{}-smile.png", std::process::id()));
    image::save_buffer(
        &path,
        &smiling,
        w as u32,
        h as u32,
        image::ExtendedColorType::Rgba8,
    )
    .unwrap();
    let p = path.to_string_lossy().to_string();
    let (plain, ..) = render_one(PORTRAIT, "keep", &silence);
    let (plain_neutral, ..) = render_one(PORTRAIT, "neutral", &silence);
    let (kept, ..) = render_one(&p, "keep", &silence);
    let (neutral, ..) = render_one(&p, "neutral", &silence);
    let (speaking, ..) = render_one(&p, "neutral", &open_mouth(0.05));
    if let Some(d) = std::env::var_os("L2F_TEST_OUT") {
        let d = std::path::PathBuf::from(d);
        for (name, px) in [
            ("portrait", &plain),
            ("smiling", &smiling),
            ("keep", &kept),
            ("neutral", &neutral),
            ("speech", &speaking),
        ] {
            image::save_buffer(
                d.join(format!("smile_{name}.png")),
                px,
                w as u32,
                h as u32,
                image::ExtendedColorType::Rgba8,
            )
            .unwrap();
        }
    }
    let s_plain = smile_of(&plain, w, h);
    let s_plain_neutral = smile_of(&plain_neutral, w, h);
    let s_smiling = smile_of(&smiling, w, h);
    let s_keep = smile_of(&kept, w, h);
    let s_neutral = smile_of(&neutral, w, h);
    let o_speaking = opening_of(&speaking, w, h);
    let o_neutral = opening_of(&neutral, w, h);
    let o_smiling = opening_of(&smiling, w, h);
    let say = |s: &Smile| format!("lift {:.3} width {:.3}", s.mean_lift(), s.width);
    eprintln!(
        "smile (eye-corner distances): portrait {}, portrait neutral {}, smiling portrait {}, silence keep {}, silence neutral {}; opening: smiling portrait {o_smiling:.3}, silence neutral {o_neutral:.3}, speech neutral {o_speaking:.3}",
        say(&s_plain),
        say(&s_plain_neutral),
        say(&s_smiling),
        say(&s_keep),
        say(&s_neutral)
    );
    let _ = std::fs::remove_file(&path);
    // Measured: portrait lift 0.014 width 0.574; smiling portrait 0.051 and 0.693 (kept alike);
    // silence neutral 0.032 and 0.606, the limits (faceshape::SMILE_*_KEPT) as the analysis sees
    // them; before (the mouth only closed) 0.041 and 0.650 for a smaller smile; the portrait
    // itself neutral 0.016 and 0.574; speech opens the neutral smiling face to 0.112.
    assert!(
        s_smiling.mean_lift() > s_plain.mean_lift() + 0.025
            && s_smiling.width > s_plain.width + 0.06,
        "the smile is not there for the face analysis: {} vs {}",
        say(&s_smiling),
        say(&s_plain)
    );
    assert!(
        (s_keep.mean_lift() - s_smiling.mean_lift()).abs() < 0.01
            && (s_keep.width - s_smiling.width).abs() < 0.01,
        "keep: {} vs {}",
        say(&s_keep),
        say(&s_smiling)
    );
    // `neutral` brings the corners down to the limit, near the portrait's own, and the mouth in.
    assert!(
        s_neutral.mean_lift() < SMILE_LIFT_KEPT + 0.008
            && s_neutral.mean_lift() < s_smiling.mean_lift() - 0.012
            && s_neutral.mean_lift() < s_plain.mean_lift() + 0.025,
        "neutral: {} vs smiling {}, portrait {}",
        say(&s_neutral),
        say(&s_smiling),
        say(&s_plain)
    );
    assert!(
        s_neutral.width < SMILE_WIDTH_KEPT + 0.02 && s_neutral.width < s_smiling.width - 0.05,
        "neutral: {} vs smiling {}",
        say(&s_neutral),
        say(&s_smiling)
    );
    // A portrait that does not smile keeps its mouth.
    assert!(
        (s_plain_neutral.mean_lift() - s_plain.mean_lift()).abs() < 0.006
            && (s_plain_neutral.width - s_plain.width).abs() < 0.006,
        "{} vs {}",
        say(&s_plain_neutral),
        say(&s_plain)
    );
    // Speech opens the neutral mouth.
    assert!(
        o_speaking > 0.08 && o_speaking > o_neutral + 0.06,
        "{o_speaking} vs {o_neutral}"
    );
}

/// A portrait pad requested while the element plays (it started with the `portrait` property):
/// its pictures are used. (Before, the face analysis was not kept when no pad existed at start,
/// and the pad's pictures were refused.)
#[test]
fn portrait_pad_requested_while_playing() {
    let e = element("full");
    let mut h = harness(&e, None);
    h.push(lm_buffer(&LandmarkFrame::default(), 0)).unwrap();
    let _ = h.pull().unwrap();
    let (rgba, w, hh) = portrait_rgba();
    let (other, w2, h2) = mirrored_with_border(&rgba, w, hh);
    let mut hp = gst_check::Harness::with_element(&e, Some("portrait"), None);
    hp.set_src_caps_str(&format!(
        "video/x-raw,format=RGBA,width={w2},height={h2},framerate=0/1"
    ));
    hp.push(gst::Buffer::from_mut_slice(other.clone())).unwrap();
    h.push(lm_buffer(&LandmarkFrame::default(), 1)).unwrap();
    let out = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
    assert_eq!((info.width(), info.height()), (600, 640));
    let (got, _, _) = rgba_of(&out, &caps);
    assert!(psnr(&got, &other) > 38.0);
}

/// A new portrait takes effect from the landmark frame whose running time reaches the portrait's:
/// portrait A at 0 ms, B at 80 ms, landmark frames every 40 ms: frames 0 and 1 show A, frames 2 on
/// show B (another size: the output renegotiates); the portrait stream's EOS keeps B.
#[test]
fn portrait_takes_effect_at_its_running_time() {
    init();
    let p = launch(&format!(
        "appsrc name=lm format=time ! landmarks2face name=f model={} threads=1 ! \
         appsink name=out sync=false appsrc name=pt format=time ! f.portrait",
        l2f_model()
    ));
    let lm = p
        .by_name("lm")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    let pt = p
        .by_name("pt")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    let out = appsink(&p, "out");
    let (a, w, hh) = portrait_rgba();
    let (b, w2, h2) = mirrored_with_border(&a, w, hh);
    lm.set_caps(Some(&landmark_caps()));
    p.set_state(gst::State::Playing).unwrap();
    for n in 0..5 {
        lm.push_buffer(lm_buffer(&LandmarkFrame::default(), n))
            .unwrap();
    }
    lm.end_of_stream().unwrap();
    for (px, pw, ph, ms) in [(&a, w, hh, 0u64), (&b, w2, h2, 80)] {
        let caps = gst::Caps::builder("video/x-raw")
            .field("format", "RGBA")
            .field("width", pw as i32)
            .field("height", ph as i32)
            .field("framerate", gst::Fraction::new(0, 1))
            .build();
        let mut buf = gst::Buffer::from_mut_slice(px.clone());
        buf.get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_mseconds(ms));
        pt.push_sample(&gst::Sample::builder().buffer(&buf).caps(&caps).build())
            .unwrap();
    }
    pt.end_of_stream().unwrap();
    for n in 0..5u64 {
        let s = out
            .try_pull_sample(gst::ClockTime::from_seconds(60))
            .expect("a frame");
        let buf = s.buffer().unwrap();
        assert_eq!(buf.pts(), Some(gst::ClockTime::from_mseconds(40 * n)));
        let caps = s.caps().unwrap();
        let (got, gw, gh) = rgba_of(&buf.to_owned(), &caps.to_owned());
        let want = if n < 2 { (&a, w, hh) } else { (&b, w2, h2) };
        assert_eq!((gw, gh), (want.1, want.2), "frame {n}");
        assert!(psnr(&got, want.0) > 38.0, "frame {n}");
    }
    assert!(out
        .try_pull_sample(gst::ClockTime::from_seconds(10))
        .is_none());
    assert!(out.is_eos());
    let errors: Vec<_> = p
        .bus()
        .unwrap()
        .iter()
        .filter(|m| matches!(m.view(), gst::MessageView::Error(_)))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    p.set_state(gst::State::Null).unwrap();
}

/// `imagefreeze ! landmarks2face.portrait` (the documented pipeline): only the portrait frames up to
/// the output's time are taken, about one per landmark frame (before: thousands a second).
#[test]
fn imagefreeze_portrait_is_taken_at_the_landmark_rate() {
    init();
    let p = launch(&format!(
        "audiotestsrc num-buffers=40 ! audioconvert ! audioresample ! audio2landmarks model={} ! \
         landmarks2face name=f model={} threads=1 ! fakesink name=out \
         filesrc location={PORTRAIT} ! jpegdec ! videoconvert ! imagefreeze ! identity name=count ! \
         f.portrait",
        model("a2l_test.onnx"),
        l2f_model()
    ));
    let count = |name: &str, pad: &str| {
        let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let n2 = n.clone();
        p.by_name(name).unwrap().static_pad(pad).unwrap().add_probe(
            gst::PadProbeType::BUFFER,
            move |_, _| {
                n2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                gst::PadProbeReturn::Ok
            },
        );
        n
    };
    let portraits = count("count", "src");
    let frames = count("out", "sink");
    let t0 = std::time::Instant::now();
    p.set_state(gst::State::Playing).unwrap();
    let bus = p.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("EOS");
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    let secs = t0.elapsed().as_secs_f64();
    p.set_state(gst::State::Null).unwrap();
    let (np, nf) = (
        portraits.load(std::sync::atomic::Ordering::SeqCst),
        frames.load(std::sync::atomic::Ordering::SeqCst),
    );
    eprintln!(
        "{nf} frames, {np} portrait buffers in {secs:.2} s ({:.0} portrait buffers/s)",
        np as f64 / secs
    );
    assert!(nf >= 50, "{nf} frames");
    assert!(np <= nf + 3, "{np} portrait buffers for {nf} frames");
}

/// Output buffers carry a GstVideoMeta where downstream says it supports it.
#[test]
fn output_buffers_carry_video_meta() {
    let e = element("crop");
    let mut h = gst_check::Harness::with_element(&e, Some("sink"), Some("src"));
    h.add_propose_allocation_meta(gst_video::VideoMeta::meta_api(), None);
    h.play();
    h.set_src_caps(landmark_caps());
    h.push(lm_buffer(&LandmarkFrame::default(), 0)).unwrap();
    let out = h.pull().unwrap();
    let meta = out
        .meta::<gst_video::VideoMeta>()
        .expect("a video meta on the output buffer");
    assert_eq!((meta.width(), meta.height()), (256, 256));
    assert_eq!(meta.format(), gst_video::VideoFormat::Rgba);
}

/// The latency added is one frame at the landmark stream's own rate (50 fps: 20 ms).
#[test]
fn latency_is_one_frame_at_the_stream_rate() {
    let e = element("crop");
    let mut h = gst_check::Harness::with_element(&e, Some("sink"), Some("src"));
    h.play();
    h.set_src_caps(landmarks::caps(Some(gst::Fraction::new(50, 1))));
    h.push(lm_buffer(&LandmarkFrame::default(), 0)).unwrap();
    let _ = h.pull().unwrap();
    let mut q = gst::query::Latency::new();
    assert!(e.static_pad("src").unwrap().query(&mut q));
    let (live, min, _) = q.result();
    assert!(live);
    assert_eq!(min, gst::ClockTime::from_mseconds(20));
}

/// The output's segment is the landmark stream's; a flush on the landmark pad starts it again.
#[test]
fn landmark_segment_and_flush() {
    let e = element("crop");
    let mut h = harness(&e, None);
    let mut seg = gst::FormattedSegment::<gst::ClockTime>::new();
    seg.set_start(gst::ClockTime::from_seconds(10));
    seg.set_time(gst::ClockTime::from_seconds(10));
    assert!(h.push_event(gst::event::Segment::new(&seg)));
    let at = |ms: u64, n: u64| {
        let mut b = lm_buffer(&LandmarkFrame::default(), n);
        b.get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_mseconds(ms));
        b
    };
    h.push(at(10_000, 0)).unwrap();
    assert_eq!(
        h.pull().unwrap().pts(),
        Some(gst::ClockTime::from_seconds(10))
    );
    let out_seg = loop {
        let ev = h.pull_event().unwrap();
        if let gst::EventView::Segment(s) = ev.view() {
            break s.segment().clone();
        }
    };
    let out_seg = out_seg.downcast::<gst::ClockTime>().unwrap();
    assert_eq!(out_seg.start(), Some(gst::ClockTime::from_seconds(10)));
    assert!(h.push_event(gst::event::FlushStart::new()));
    assert!(h.push_event(gst::event::FlushStop::new(true)));
    assert!(
        h.push_event(gst::event::Segment::new(&gst::FormattedSegment::<
            gst::ClockTime,
        >::new()))
    );
    h.push(at(0, 0)).unwrap();
    assert_eq!(h.pull().unwrap().pts(), Some(gst::ClockTime::ZERO));
}

/// A file of records read by filesrc (4096-byte blocks, a segment in bytes): one frame per record,
/// at n / fps, on a time segment.
#[test]
fn landmark_file_through_filesrc() {
    init();
    let path = std::env::temp_dir().join(format!("l2f-{}-records.bin", std::process::id()));
    let mut bytes = Vec::new();
    for n in 0..12 {
        bytes.extend_from_slice(&open_mouth(0.005 * n as f32).to_bytes());
    }
    std::fs::write(&path, &bytes).unwrap();
    let p = launch(&format!(
        "filesrc location={} ! application/x-face-landmarks,layout=ibug68,framerate=25/1 ! \
         landmarks2face model={} portrait={PORTRAIT} threads=1 mode=crop ! appsink name=out sync=false",
        path.display(),
        l2f_model()
    ));
    let out = appsink(&p, "out");
    p.set_state(gst::State::Playing).unwrap();
    let mut pts = Vec::new();
    while let Some(s) = out.try_pull_sample(gst::ClockTime::from_seconds(60)) {
        pts.push(s.buffer().unwrap().pts());
        let seg = s.segment().unwrap();
        assert_eq!(seg.format(), gst::Format::Time);
    }
    p.set_state(gst::State::Null).unwrap();
    let _ = std::fs::remove_file(&path);
    let want: Vec<_> = (0..12)
        .map(|n| Some(gst::ClockTime::from_mseconds(40 * n)))
        .collect();
    assert_eq!(pts, want);
}

/// Live, with a sink that sends no QoS: frames that arrive past their deadline (running time plus
/// the reported latency) are skipped by the element itself, so the delay stays bounded instead of
/// growing (here upstream is slower than real time: 60 ms per 40 ms frame).
#[test]
fn live_frames_past_their_deadline_are_skipped_without_qos() {
    init();
    let p = launch(&format!(
        "audiotestsrc is-live=true samplesperbuffer=640 num-buffers=40 ! audio/x-raw,rate=16000 ! \
         audio2landmarks model={} ! identity sleep-time=60000 ! \
         landmarks2face name=l2f model={} portrait={PORTRAIT} threads=1 ! \
         fakesink sync=false qos=false",
        model("a2l_test.onnx"),
        l2f_model()
    ));
    let bus = p.bus().unwrap();
    p.set_state(gst::State::Playing).unwrap();
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(60)) {
        match msg.view() {
            gst::MessageView::Eos(..) => break,
            gst::MessageView::Error(e) => panic!("{}", e.error()),
            _ => {}
        }
    }
    let dropped = p.by_name("l2f").unwrap().property::<u64>("dropped");
    p.set_state(gst::State::Null).unwrap();
    eprintln!("{dropped} frames skipped past their deadline");
    assert!(dropped > 0, "no frame skipped");
}

/// `portrait` (like `model` and the face models) is changeable in READY: a portrait set there is
/// the one used; here a missing one, which fails at READY→PAUSED naming it instead of being
/// silently ignored.
#[test]
fn portrait_changed_in_ready_is_the_one_used() {
    let e = element("full");
    e.set_state(gst::State::Ready).unwrap();
    e.set_property("portrait", "/nonexistent/changed-in-ready.png");
    let bus = gst::Bus::new();
    e.set_bus(Some(&bus));
    assert!(e.set_state(gst::State::Paused).is_err());
    let err = error_on(&bus);
    assert!(err.contains("/nonexistent/changed-in-ready.png"), "{err}");
    e.set_state(gst::State::Null).unwrap();
}

/// The learned mouth stage (models/landmarks2face_mouth.onnx, training/l2f): same contract, so the
/// element loads it and renders; the portrait comes back at rest, an open mouth changes the lower
/// face only. (Not asserted: a dark cavity. For this portrait and an opening this large the stage
/// gives lip-coloured, not dark, interiors: docs/landmarks2face.md, where it fails.)
#[test]
fn learned_mouth_model_loads_and_renders() {
    init();
    let e = gst::ElementFactory::make("landmarks2face")
        .property(
            "model",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/models/landmarks2face_mouth.onnx"
            ),
        )
        .property("portrait", PORTRAIT)
        .property("threads", 1u32)
        .build()
        .unwrap();
    let mut h = harness(&e, None);
    h.push(lm_buffer(&LandmarkFrame::default(), 0)).unwrap();
    h.push(lm_buffer(&open_mouth(0.08), 1)).unwrap();
    let a0 = h.pull().unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let (a, w, hh) = rgba_of(&a0, &caps);
    let (orig, ow, oh) = portrait_rgba();
    assert_eq!((w, hh), (ow, oh));
    let p = psnr(&a, &orig);
    assert!(p > 33.0, "identity PSNR {p:.1} dB");
    let (b, _, _) = rgba_of(&h.pull().unwrap(), &caps);
    let (mut changed, mut top) = (0usize, 0usize);
    for y in 0..hh {
        for x in 0..w {
            let i = (y * w + x) * 4;
            let d: i32 = (0..3)
                .map(|c| (a[i + c] as i32 - b[i + c] as i32).abs())
                .sum();
            if d > 30 {
                changed += 1;
                if y < hh / 4 {
                    top += 1;
                }
            }
        }
    }
    assert!(changed > 1500, "{changed} pixels changed");
    assert_eq!(top, 0);
}

/// The learned mouth stage also closes a portrait's open mouth in silence under `neutral` (it was
/// fine-tuned with the clips' most open frames as references for that; the stage before left
/// teeth: 0.044 at crop level), and opens it again for speech. The open portrait is the default
/// generator's own rendering of the jaw dropped, as in portrait_expression_neutral_closes_an_open_mouth.
#[test]
fn learned_mouth_model_closes_an_open_mouth() {
    let learned = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/landmarks2face_mouth.onnx"
    );
    let (open, w, h) = render_one(PORTRAIT, "keep", &open_mouth(0.08));
    let open_png = write_png("open-learned.png", &open, w, h);
    let p = open_png.to_string_lossy().to_string();
    let silence = LandmarkFrame::default();
    let (closed, w0, h0) = render_with(learned, PORTRAIT, "keep", &silence);
    let o_closed = opening_of(&closed, w0, h0);
    let (neutral, w1, h1) = render_with(learned, &p, "neutral", &silence);
    let o_neutral = opening_of(&neutral, w1, h1);
    let (speaking, w2, h2) = render_with(learned, &p, "neutral", &open_mouth(0.05));
    let o_speaking = opening_of(&speaking, w2, h2);
    let _ = std::fs::remove_file(open_png);
    eprintln!(
        "learned stage, mouth opening: closed portrait {o_closed:.3}, open portrait {:.3}, silence neutral {o_neutral:.3}, speech neutral {o_speaking:.3}",
        opening_of(&open, w, h)
    );
    assert!(
        o_neutral < 0.035 && o_neutral < o_closed + 0.01,
        "{o_neutral} (closed portrait {o_closed})"
    );
    assert!(o_speaking > o_neutral + 0.03, "{o_speaking} vs {o_neutral}");
}
