// SPDX-License-Identifier: MIT OR Apache-2.0
//! Audio and video of the main job's MP4 are in sync: the mouth opening that facelandmarks measures
//! on the video follows the audio's energy, with its best lag within one frame of zero.

mod common;

use std::path::Path;

use common::*;
use gst::prelude::*;

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt().max(1e-12)
}

#[test]
fn mouth_follows_audio_energy_at_lag_zero() {
    init();
    let dir = std::env::temp_dir().join(format!("tf-sync-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("talking.mp4");
    let st = std::process::Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/speech-to-video.sh"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("media/speech_sample.ogg"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("media/portrait.jpg"))
        .arg(&out)
        .env("GST_PLUGIN_PATH", plugin_dir())
        .status()
        .unwrap();
    assert!(st.success());

    // Video: mouth opening per frame with facelandmarks; audio: RMS per 40 ms from the MP4's own
    // sound track, both on the file's timeline.
    let p = launch(&format!(
        "filesrc location={} ! qtdemux name=d \
         d. ! queue ! h264parse ! avdec_h264 ! videoconvert ! facelandmarks ! appsink name=v sync=false \
         d. ! queue ! aacparse ! avdec_aac ! audioconvert ! audioresample ! \
              audio/x-raw,format=F32LE,channels=1,rate=16000 ! appsink name=a sync=false",
        out.display()
    ));
    let v = appsink(&p, "v");
    let a = appsink(&p, "a");
    p.set_state(gst::State::Playing).unwrap();
    let vt = std::thread::spawn(move || {
        let mut open = Vec::new();
        while let Ok(s) = v.pull_sample() {
            let b = s.buffer().unwrap();
            let m = b.map_readable().unwrap();
            let f = gsttalkingface::landmarks::LandmarkFrame::from_bytes(m.as_slice()).unwrap();
            let pts = b.pts().unwrap();
            open.push((
                pts,
                gsttalkingface::faceshape::mouth_opening(&f.points) as f64,
            ));
        }
        open
    });
    let mut samples: Vec<(gst::ClockTime, Vec<f32>)> = Vec::new();
    while let Ok(s) = a.pull_sample() {
        let b = s.buffer().unwrap();
        let m = b.map_readable().unwrap();
        let v: Vec<f32> = m
            .as_slice()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        samples.push((b.pts().unwrap(), v));
    }
    let open = vt.join().unwrap();
    p.set_state(gst::State::Null).unwrap();

    // Audio on a 16 kHz timeline from its first timestamp; energy per video frame's 40 ms.
    let t0 = samples.first().unwrap().0;
    let mut audio = Vec::new();
    for (pts, v) in &samples {
        let start = ((pts.nseconds() - t0.nseconds()) as u128 * 16000 / 1_000_000_000) as usize;
        if audio.len() < start {
            audio.resize(start, 0.0);
        }
        audio.truncate(start);
        audio.extend_from_slice(v);
    }
    let energy: Vec<f64> = open
        .iter()
        .map(|(pts, _)| {
            let s = ((pts.nseconds().saturating_sub(t0.nseconds())) as u128 * 16000 / 1_000_000_000)
                as usize;
            let e = (s + 640).min(audio.len());
            let w = &audio[s.min(e)..e];
            (w.iter().map(|x| (*x as f64) * (*x as f64)).sum::<f64>() / w.len().max(1) as f64)
                .sqrt()
        })
        .collect();
    let mouth: Vec<f64> = open.iter().map(|(_, o)| *o).collect();
    assert!(mouth.len() > 200, "{} frames", mouth.len());
    // Correlation at lags -8..8 frames (video later than audio is a positive lag).
    let mut best = (0i64, f64::MIN);
    let mut table = Vec::new();
    for lag in -8i64..=8 {
        let (x, y): (Vec<f64>, Vec<f64>) = (0..mouth.len() as i64)
            .filter_map(|t| {
                let u = t - lag;
                (u >= 0 && (u as usize) < energy.len())
                    .then(|| (mouth[t as usize], energy[u as usize]))
            })
            .unzip();
        let r = pearson(&x, &y);
        table.push(format!("{lag}:{r:.2}"));
        if r > best.1 {
            best = (lag, r);
        }
    }
    println!("mouth opening vs audio energy by lag: {}", table.join(" "));
    assert!(
        best.1 > 0.25,
        "the mouth does not follow the audio (best r {:.2})",
        best.1
    );
    assert!(
        best.0.abs() <= 1,
        "best lag {} frames (r {:.2})",
        best.0,
        best.1
    );
    let _ = std::fs::remove_dir_all(&dir);
}
