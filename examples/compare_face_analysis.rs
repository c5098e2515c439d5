// SPDX-License-Identifier: MIT OR Apache-2.0
//! The landmark stream of `facelandmarks` with the default face analysis (MediaPipe's models on
//! ONNX Runtime) against the same element with dlib, on the same clips:
//!
//!     cargo run --release --features dlib --example compare_face_analysis -- [CLIP...]
//!
//! (default: the GRID clips in /work/shared/data/grid; dlib's model from Debian's libdlib-data).
//! Per clip: frames with a face in each stream; the mean distance between the two streams'
//! points per region, in eye-corner distances (the canonical frame has them 0.4 apart); Pearson r
//! of the mouth opening; the mean absolute difference of roll, yaw and pitch; frames per second of
//! each. Both streams are records as consumers see them (identity removed, pose relative).

use std::path::PathBuf;
use std::time::Instant;

use gst::prelude::*;
use gsttalkingface::faceshape::mouth_opening;
use gsttalkingface::landmarks::LandmarkFrame;

const GRID_DIR: &str = "/work/shared/data/grid";
const DLIB_MODEL: &str = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";

fn stream(clip: &str, props: &str) -> Result<(Vec<LandmarkFrame>, f64), String> {
    let p = gst::parse::launch(&format!(
        "filesrc location={clip} ! decodebin ! videoconvert ! facelandmarks {props} ! appsink name=sink sync=false"
    ))
    .map_err(|e| e.to_string())?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "not a pipeline")?;
    let sink = p
        .by_name("sink")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or("no appsink")?;
    let t0 = Instant::now();
    p.set_state(gst::State::Playing)
        .map_err(|_| format!("{clip}: cannot start ({props})"))?;
    let mut out = Vec::new();
    while let Ok(s) = sink.pull_sample() {
        if let Some(b) = s.buffer() {
            let m = b.map_readable().map_err(|e| e.to_string())?;
            out.push(LandmarkFrame::from_bytes(&m).map_err(|e| e.to_string())?);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let _ = p.set_state(gst::State::Null);
    Ok((out, secs))
}

fn pearson(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f32;
    let (ma, mb) = (a.iter().sum::<f32>() / n, b.iter().sum::<f32>() / n);
    let (mut sab, mut saa, mut sbb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    sab / (saa * sbb).sqrt().max(f32::MIN_POSITIVE)
}

const REGIONS: &[(&str, std::ops::Range<usize>)] = &[
    ("jaw", 0..17),
    ("brows", 17..27),
    ("nose", 27..36),
    ("eyes", 36..48),
    ("outer lips", 48..60),
    ("inner lips", 60..68),
];

fn main() -> Result<(), String> {
    gst::init().map_err(|e| e.to_string())?;
    gsttalkingface::plugin_register_static().map_err(|e| e.to_string())?;
    let mut clips: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if clips.is_empty() {
        clips = std::fs::read_dir(GRID_DIR)
            .map_err(|e| format!("{GRID_DIR}: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "mpg"))
            .collect();
        clips.sort();
    }
    println!(
        "| clip | frames (faces onnx / dlib) | {} | mouth r | roll/yaw/pitch diff (rad) | fps onnx / dlib |",
        REGIONS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|{}", "---|".repeat(5 + REGIONS.len()));
    for c in &clips {
        let clip = c.display().to_string();
        let (a, ta) = stream(&clip, "")?;
        let (b, tb) = stream(&clip, &format!("dlib-model={DLIB_MODEL}"))?;
        let both: Vec<(&LandmarkFrame, &LandmarkFrame)> = a
            .iter()
            .zip(b.iter())
            .filter(|(x, y)| x.confidence > 0.0 && y.confidence > 0.0)
            .collect();
        if both.is_empty() {
            println!("| {clip} | no frame with a face in both | |");
            continue;
        }
        let region: Vec<String> = REGIONS
            .iter()
            .map(|(_, r)| {
                let d: f32 = both
                    .iter()
                    .map(|(x, y)| {
                        r.clone()
                            .map(|i| {
                                (x.points[i][0] - y.points[i][0])
                                    .hypot(x.points[i][1] - y.points[i][1])
                            })
                            .sum::<f32>()
                    })
                    .sum::<f32>()
                    / (both.len() * r.len()) as f32;
                format!("{:.3}", d / 0.4)
            })
            .collect();
        let oa: Vec<f32> = both.iter().map(|(x, _)| mouth_opening(&x.points)).collect();
        let ob: Vec<f32> = both.iter().map(|(_, y)| mouth_opening(&y.points)).collect();
        let pose: Vec<String> = (0..3)
            .map(|k| {
                let d = both
                    .iter()
                    .map(|(x, y)| (x.pose[k] - y.pose[k]).abs())
                    .sum::<f32>()
                    / both.len() as f32;
                format!("{d:.3}")
            })
            .collect();
        let name = c.file_name().map(|f| f.to_string_lossy().to_string());
        println!(
            "| {} | {} ({} / {}) | {} | {:.3} | {} | {:.0} / {:.0} |",
            name.unwrap_or(clip),
            a.len(),
            a.iter().filter(|f| f.confidence > 0.0).count(),
            b.iter().filter(|f| f.confidence > 0.0).count(),
            region.join(" | "),
            pearson(&oa, &ob),
            pose.join(" / "),
            a.len() as f64 / ta,
            b.len() as f64 / tb
        );
    }
    Ok(())
}
