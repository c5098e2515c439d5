// SPDX-License-Identifier: MIT OR Apache-2.0
//! The scripts of pipelines/, run for real with the plugin built under target/debug (scripts/test.sh
//! builds it first) and the default models.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use gst::prelude::*;

const PORTRAIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/media/portrait.jpg");

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tf-pipelines-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn script(name: &str, args: &[&str]) -> std::process::Child {
    Command::new("bash")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("pipelines")
                .join(name),
        )
        .args(args)
        .env("GST_PLUGIN_PATH", plugin_dir())
        .spawn()
        .expect("bash")
}

fn run_script(name: &str, args: &[&str]) {
    let st = script(name, args).wait().unwrap();
    assert!(st.success(), "{name} failed: {st}");
}

/// A short speech-like WAV (44.1 kHz stereo, so the converters have work to do).
fn speech_wav(seconds: u32) -> PathBuf {
    let p = tmp(&format!("speech{seconds}.wav"));
    if !p.exists() {
        run_pipeline(&format!(
            "filesrc location={}/media/speech_sample.ogg ! decodebin ! audioconvert ! audioresample ! \
             audio/x-raw,rate=44100,channels=2 ! wavenc ! filesink location={}",
            env!("CARGO_MANIFEST_DIR"),
            p.display()
        ))
        .unwrap();
    }
    let _ = seconds;
    p
}

/// Counts the video frames and audio buffers of a file.
fn count_media(path: &Path) -> (usize, usize, Option<(i32, i32)>) {
    init();
    let p = launch(&format!(
        "filesrc location={} ! decodebin name=d d. ! queue ! videoconvert ! appsink name=v sync=false \
         d. ! queue ! audioconvert ! appsink name=a sync=false",
        path.display()
    ));
    let v = appsink(&p, "v");
    let a = appsink(&p, "a");
    p.set_state(gst::State::Playing).unwrap();
    let vt = std::thread::spawn(move || {
        let mut n = 0;
        let mut size = None;
        while let Ok(s) = v.pull_sample() {
            if size.is_none() {
                size = s.caps().and_then(|c| {
                    let st = c.structure(0)?;
                    Some((st.get::<i32>("width").ok()?, st.get::<i32>("height").ok()?))
                });
            }
            n += 1;
        }
        (n, size)
    });
    let mut na = 0;
    while a.pull_sample().is_ok() {
        na += 1;
    }
    let (nv, size) = vt.join().unwrap();
    p.set_state(gst::State::Null).unwrap();
    (nv, na, size)
}

#[test]
fn speech_to_video() {
    let out = tmp("talking.mp4");
    let wav = speech_wav(10);
    run_script(
        "speech-to-video.sh",
        &[wav.to_str().unwrap(), PORTRAIT, out.to_str().unwrap()],
    );
    let (nv, na, size) = count_media(&out);
    // 10.3 s of speech at 25 fps.
    assert!((255..=260).contains(&nv), "{nv} video frames");
    assert!(na > 0);
    assert_eq!(size, Some((512, 600)));
}

#[test]
fn speech_to_landmark_video_and_records() {
    let wav = speech_wav(10);
    let out = tmp("landmarks.mp4");
    run_script(
        "speech-to-landmark-video.sh",
        &[wav.to_str().unwrap(), out.to_str().unwrap()],
    );
    let (nv, na, size) = count_media(&out);
    assert!((255..=260).contains(&nv), "{nv} video frames");
    assert!(na > 0);
    assert_eq!(size, Some((512, 512)));
    let bin = tmp("landmarks.bin");
    run_script(
        "speech-to-landmarks-file.sh",
        &[wav.to_str().unwrap(), bin.to_str().unwrap()],
    );
    let bytes = std::fs::read(&bin).unwrap();
    assert_eq!(bytes.len() % gsttalkingface::landmarks::RECORD_SIZE, 0);
    assert!((255..=260).contains(&(bytes.len() / gsttalkingface::landmarks::RECORD_SIZE)));
}

#[test]
fn reenactment() {
    // A driving video with a face and a sound track: the portrait itself, 2 s, with a tone.
    let drv = tmp("driving.mp4");
    run_pipeline(&format!(
        "filesrc location={PORTRAIT} ! jpegdec ! videoconvert ! imagefreeze num-buffers=50 ! \
         video/x-raw,framerate=25/1 ! videoconvert ! x264enc ! h264parse ! queue ! mux. \
         audiotestsrc num-buffers=86 ! audioconvert ! avenc_aac ! aacparse ! queue ! mux. \
         mp4mux name=mux ! filesink location={}",
        drv.display()
    ))
    .unwrap();
    let out = tmp("reenacted.mp4");
    run_script(
        "reenactment.sh",
        &[drv.to_str().unwrap(), PORTRAIT, out.to_str().unwrap()],
    );
    let (nv, na, size) = count_media(&out);
    assert_eq!(nv, 50);
    assert!(na > 0);
    assert_eq!(size, Some((512, 600)));
}

fn receive(desc: &str, min_frames: usize) -> usize {
    init();
    let p = launch(desc);
    let v = appsink(&p, "v");
    p.set_state(gst::State::Playing).unwrap();
    let mut n = 0;
    while n < min_frames {
        match v.try_pull_sample(gst::ClockTime::from_seconds(20)) {
            Some(_) => n += 1,
            None => break,
        }
    }
    p.set_state(gst::State::Null).unwrap();
    n
}

#[test]
fn rtp_out() {
    let wav = speech_wav(10);
    let port = 15000 + (std::process::id() % 1000) as u16 * 4;
    let rx = std::thread::spawn(move || {
        receive(
            &format!(
                "udpsrc port={port} caps=\"application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload=96\" ! \
                 rtpjitterbuffer ! rtph264depay ! h264parse ! avdec_h264 ! appsink name=v sync=false"
            ),
            25,
        )
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut child = script(
        "rtp-out.sh",
        &[
            wav.to_str().unwrap(),
            PORTRAIT,
            "127.0.0.1",
            &port.to_string(),
        ],
    );
    let n = rx.join().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(n >= 25, "received {n} frames over RTP");
}

#[test]
fn srt_out() {
    let wav = speech_wav(10);
    let port = 16000 + (std::process::id() % 1000) as u16 * 4;
    let mut child = script(
        "srt-out.sh",
        &[wav.to_str().unwrap(), PORTRAIT, &port.to_string()],
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let n = receive(
        &format!(
            "srtsrc uri=srt://127.0.0.1:{port} ! tsdemux ! h264parse ! avdec_h264 ! appsink name=v sync=false"
        ),
        25,
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(n >= 25, "received {n} frames over SRT");
}
