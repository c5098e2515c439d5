// SPDX-License-Identifier: MIT OR Apache-2.0
//! For integrators: the speech-to-talking-face pipeline built in Rust, element by element.
//!
//!     cargo run --release --example speech_to_video -- SPEECH PORTRAIT OUT.mp4
//!
//! filesrc ! decodebin ! audioconvert ! audioresample ! tee
//!   tee ! queue ! audio2landmarks ! landmarks2face ! videoconvert ! x264enc ! h264parse ! mp4mux
//!   tee ! queue ! audioconvert ! audioresample ! avenc_aac ! aacparse ! mp4mux
//! mp4mux ! filesink
//!
//! decodebin's audio pad appears at run time and is linked in `pad-added`. Errors from any element
//! (a missing model, a portrait without a face) arrive on the bus with their message. The
//! execution provider that each model runs on is posted once as an element message.

use gst::prelude::*;

fn make(name: &str) -> Result<gst::Element, String> {
    gst::ElementFactory::make(name).build().map_err(|_| {
        format!("element {name} is missing (gst-plugins-good/bad/ugly/libav installed?)")
    })
}

fn run(speech: &str, portrait: &str, out: &str) -> Result<(), String> {
    gst::init().map_err(|e| e.to_string())?;
    // In an application that links the plugin statically; with the installed plugin this is not
    // needed (and is harmless).
    gsttalkingface::plugin_register_static().map_err(|e| e.to_string())?;

    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("filesrc")
        .property("location", speech)
        .build()
        .map_err(|e| e.to_string())?;
    let decode = make("decodebin")?;
    let aconv = make("audioconvert")?;
    let ares = make("audioresample")?;
    let tee = make("tee")?;
    let vq = make("queue")?;
    let a2l = make("audio2landmarks")?;
    let l2f = gst::ElementFactory::make("landmarks2face")
        .property("portrait", portrait)
        .build()
        .map_err(|e| e.to_string())?;
    let vconv = make("videoconvert")?;
    let i420 = gst::ElementFactory::make("capsfilter")
        .property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .build(),
        )
        .build()
        .map_err(|e| e.to_string())?;
    let x264 = make("x264enc")?;
    let h264parse = make("h264parse")?;
    let aq = make("queue")?;
    let aconv2 = make("audioconvert")?;
    let ares2 = make("audioresample")?;
    let aac = make("avenc_aac")?;
    let aacparse = make("aacparse")?;
    let mux = make("mp4mux")?;
    let sink = gst::ElementFactory::make("filesink")
        .property("location", out)
        .build()
        .map_err(|e| e.to_string())?;

    pipeline
        .add_many([
            &src, &decode, &aconv, &ares, &tee, &vq, &a2l, &l2f, &vconv, &i420, &x264, &h264parse,
            &aq, &aconv2, &ares2, &aac, &aacparse, &mux, &sink,
        ])
        .map_err(|e| e.to_string())?;
    src.link(&decode).map_err(|e| e.to_string())?;
    gst::Element::link_many([&aconv, &ares, &tee]).map_err(|e| e.to_string())?;
    gst::Element::link_many([
        &tee, &vq, &a2l, &l2f, &vconv, &i420, &x264, &h264parse, &mux,
    ])
    .map_err(|e| e.to_string())?;
    gst::Element::link_many([&tee, &aq, &aconv2, &ares2, &aac, &aacparse, &mux])
        .map_err(|e| e.to_string())?;
    mux.link(&sink).map_err(|e| e.to_string())?;

    let aconv_weak = aconv.downgrade();
    decode.connect_pad_added(move |_, pad| {
        let Some(aconv) = aconv_weak.upgrade() else {
            return;
        };
        let is_audio = pad
            .current_caps()
            .and_then(|c| c.structure(0).map(|s| s.name().starts_with("audio/")))
            .unwrap_or(false);
        if let Some(sinkpad) = aconv.static_pad("sink") {
            if is_audio && !sinkpad.is_linked() {
                let _ = pad.link(&sinkpad);
            }
        }
    });

    let started = std::time::Instant::now();
    // A failure to start (a missing model, say) is posted on the bus, read below.
    let _ = pipeline.set_state(gst::State::Playing);
    let bus = pipeline.bus().ok_or("no bus")?;
    let mut result = Ok(());
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        use gst::MessageView;
        match msg.view() {
            MessageView::Eos(..) => break,
            MessageView::Error(e) => {
                result = Err(format!(
                    "{}: {}",
                    e.src()
                        .map(|s| s.path_string().to_string())
                        .unwrap_or_default(),
                    e.error()
                ));
                break;
            }
            MessageView::Element(e) => {
                if let Some(s) = e.structure() {
                    if s.name() == "talkingface-execution-provider" {
                        println!(
                            "{} runs on {}",
                            e.src().map(|s| s.name().to_string()).unwrap_or_default(),
                            s.get::<String>("provider").unwrap_or_default()
                        );
                    }
                }
            }
            _ => {}
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    println!("wrote {out} in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 3 {
        eprintln!("usage: speech_to_video SPEECH PORTRAIT OUT.mp4");
        std::process::exit(2);
    }
    if let Err(e) = run(&args[0], &args[1], &args[2]) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
