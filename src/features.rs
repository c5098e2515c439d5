// SPDX-License-Identifier: MIT OR Apache-2.0
//! The audio feature front end of audio2landmarks models: log-mel, causal deltas, as the model's
//! metadata says. The exact definition is in docs/model-contract.md; the training kit computes the
//! same in numpy (training/talkingface_kit/features.py) and tests/features.rs checks that both agree.
//!
//! [`FeatureExtractor`] is streaming: push any number of samples, get the features of every frame that
//! became complete; [`FeatureExtractor::finish`] pads with silence to flush the rest.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// Added to mel energies before the logarithm.
pub const LOG_FLOOR: f64 = 1e-6;

/// One stacked part of the feature vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    LogMel,
    Delta,
    Delta2,
}

impl Part {
    pub fn parse(s: &str) -> Result<Part, String> {
        match s.trim() {
            "logmel" => Ok(Part::LogMel),
            "delta" => Ok(Part::Delta),
            "delta2" => Ok(Part::Delta2),
            other => Err(format!(
                "unknown feature part {other:?} (known: logmel, delta, delta2)"
            )),
        }
    }
}

/// The front end's parameters, as a model's metadata gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureConfig {
    pub sample_rate: u32,
    pub hop_length: usize,
    pub win_length: usize,
    pub n_fft: usize,
    pub n_mels: usize,
    pub fmin: f64,
    pub fmax: f64,
    pub parts: Vec<Part>,
}

impl FeatureConfig {
    /// Parses the comma-separated `features` list.
    pub fn parse_parts(s: &str) -> Result<Vec<Part>, String> {
        let parts = s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(Part::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if parts.is_empty() {
            return Err("the features list is empty".into());
        }
        Ok(parts)
    }

    /// Length of one feature vector.
    pub fn dim(&self) -> usize {
        self.n_mels * self.parts.len()
    }

    /// Checks that the parameters make sense; the message names the wrong one.
    pub fn validate(&self) -> Result<(), String> {
        if self.sample_rate < 1000 || self.sample_rate > 384_000 {
            return Err(format!("sample_rate {} is out of range", self.sample_rate));
        }
        if self.hop_length == 0 || self.hop_length > self.sample_rate as usize {
            return Err(format!("hop_length {} is out of range", self.hop_length));
        }
        // Bounds that keep the front end's set-up (mel filters: n_mels x n_fft / 2) to
        // milliseconds: a speech front end needs far less (the default model: 400 / 512 / 80).
        if self.win_length == 0 || self.win_length > MAX_FFT {
            return Err(format!(
                "win_length {} is out of range (1 to {MAX_FFT})",
                self.win_length
            ));
        }
        if self.n_fft < self.win_length || self.n_fft > MAX_FFT {
            return Err(format!(
                "n_fft {} must be at least win_length {} (and at most {MAX_FFT})",
                self.n_fft, self.win_length
            ));
        }
        if self.n_mels == 0 || self.n_mels > self.n_fft / 2 || self.n_mels > MAX_MELS {
            return Err(format!(
                "n_mels {} is out of range (1 to n_fft / 2, at most {MAX_MELS})",
                self.n_mels
            ));
        }
        let nyq = self.sample_rate as f64 / 2.0;
        if !(self.fmin >= 0.0 && self.fmin < self.fmax && self.fmax <= nyq + 1e-6) {
            return Err(format!(
                "fmin {} / fmax {} must satisfy 0 <= fmin < fmax <= sample_rate / 2",
                self.fmin, self.fmax
            ));
        }
        Ok(())
    }

    /// Offset of frame 0's window from sample 0: floor((H - W) / 2).
    pub fn window_offset(&self) -> i64 {
        (self.hop_length as i64 - self.win_length as i64).div_euclid(2)
    }

    /// Samples past the end of a frame's own span that its window reaches (0 if none).
    pub fn window_lookahead(&self) -> usize {
        (self.window_offset() + self.win_length as i64 - self.hop_length as i64).max(0) as usize
    }
}

/// Largest analysis window and FFT a model may ask for (0.34 s at 48 kHz).
pub const MAX_FFT: usize = 1 << 14;
/// Most mel bands a model may ask for.
pub const MAX_MELS: usize = 512;

fn hz_to_mel(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// Sparse triangular filters: (first bin, weights).
fn mel_filters(cfg: &FeatureConfig) -> Vec<(usize, Vec<f32>)> {
    let (lo, hi) = (hz_to_mel(cfg.fmin), hz_to_mel(cfg.fmax));
    let edges: Vec<f64> = (0..cfg.n_mels + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (cfg.n_mels + 1) as f64))
        .collect();
    let n_bins = cfg.n_fft / 2 + 1;
    (0..cfg.n_mels)
        .map(|j| {
            let (a, c, b) = (edges[j], edges[j + 1], edges[j + 2]);
            let w: Vec<f64> = (0..n_bins)
                .map(|k| {
                    let f = k as f64 * cfg.sample_rate as f64 / cfg.n_fft as f64;
                    ((f - a) / (c - a)).min((b - f) / (b - c)).max(0.0)
                })
                .collect();
            let first = w.iter().position(|&x| x > 0.0).unwrap_or(0);
            let last = w.iter().rposition(|&x| x > 0.0).unwrap_or(0);
            let weights = if last >= first {
                w[first..=last].iter().map(|&x| x as f32).collect()
            } else {
                Vec::new()
            };
            (first, weights)
        })
        .collect()
}

/// Streaming feature extractor.
pub struct FeatureExtractor {
    cfg: FeatureConfig,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    filters: Vec<(usize, Vec<f32>)>,
    /// Pending samples; `buf[0]` is absolute sample `buf_start` (negative: the zeros before 0).
    buf: Vec<f32>,
    buf_start: i64,
    /// Next frame to compute.
    next_frame: u64,
    /// Real samples pushed so far.
    pushed: u64,
    prev_logmel: Vec<f32>,
    prev_delta: Vec<f32>,
    frame: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    logmel: Vec<f32>,
}

impl FeatureExtractor {
    pub fn new(cfg: FeatureConfig) -> Result<Self, String> {
        cfg.validate()?;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(cfg.n_fft);
        let window = (0..cfg.win_length)
            .map(|i| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / cfg.win_length as f64).cos())
                    as f32
            })
            .collect();
        let filters = mel_filters(&cfg);
        let spectrum = fft.make_output_vec();
        let scratch = fft.make_scratch_vec();
        let frame = fft.make_input_vec();
        let mut fe = FeatureExtractor {
            fft,
            window,
            filters,
            buf: Vec::with_capacity(cfg.win_length + cfg.hop_length * 8),
            buf_start: 0,
            next_frame: 0,
            pushed: 0,
            prev_logmel: Vec::new(),
            prev_delta: Vec::new(),
            frame,
            spectrum,
            scratch,
            logmel: vec![0.0; cfg.n_mels],
            cfg,
        };
        fe.reset();
        Ok(fe)
    }

    pub fn config(&self) -> &FeatureConfig {
        &self.cfg
    }

    /// Back to the start of a stream.
    pub fn reset(&mut self) {
        let off = self.cfg.window_offset();
        self.buf.clear();
        self.buf_start = off.min(0);
        self.buf.resize((-self.buf_start) as usize, 0.0);
        self.next_frame = 0;
        self.pushed = 0;
        self.prev_logmel = vec![LOG_FLOOR.ln() as f32; self.cfg.n_mels];
        self.prev_delta = vec![0.0; self.cfg.n_mels];
    }

    /// Real samples pushed so far.
    pub fn samples_pushed(&self) -> u64 {
        self.pushed
    }

    fn frame_start(&self, n: u64) -> i64 {
        n as i64 * self.cfg.hop_length as i64 + self.cfg.window_offset()
    }

    /// Appends samples; appends to `out` the features of each frame that became complete and returns
    /// how many frames that was.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) -> usize {
        self.pushed += samples.len() as u64;
        self.buf.extend_from_slice(samples);
        self.drain_ready(out)
    }

    /// Feeds silence until `total` frames have been computed (at least the frames that hold real
    /// samples, `ceil(samples / hop)`, plus whatever the caller adds, such as a model's lookahead).
    pub fn finish(&mut self, total: u64, out: &mut Vec<f32>) -> usize {
        let mut n = 0;
        while self.next_frame < total {
            let need = self.frame_start(self.next_frame) + self.cfg.win_length as i64;
            let have = self.buf_start + self.buf.len() as i64;
            if need > have {
                let pad = (need - have) as usize;
                self.buf.resize(self.buf.len() + pad, 0.0);
            }
            n += self.drain_ready_upto(out, total);
        }
        n
    }

    /// Frames a stream of `samples` samples yields: ceil(samples / hop).
    pub fn frames_for(&self, samples: u64) -> u64 {
        samples.div_ceil(self.cfg.hop_length as u64)
    }

    fn drain_ready(&mut self, out: &mut Vec<f32>) -> usize {
        self.drain_ready_upto(out, u64::MAX)
    }

    fn drain_ready_upto(&mut self, out: &mut Vec<f32>, limit: u64) -> usize {
        let mut n = 0;
        while self.next_frame < limit {
            let s = self.frame_start(self.next_frame);
            let end = s + self.cfg.win_length as i64;
            if end > self.buf_start + self.buf.len() as i64 {
                break;
            }
            let i0 = (s - self.buf_start) as usize;
            self.compute_frame(i0, out);
            self.next_frame += 1;
            n += 1;
        }
        // Drop what no later frame needs.
        let keep_from = self.frame_start(self.next_frame);
        if keep_from > self.buf_start {
            let k = ((keep_from - self.buf_start) as usize).min(self.buf.len());
            self.buf.drain(..k);
            self.buf_start += k as i64;
        }
        n
    }

    fn compute_frame(&mut self, i0: usize, out: &mut Vec<f32>) {
        let w = self.cfg.win_length;
        for (d, (s, win)) in self
            .frame
            .iter_mut()
            .zip(self.buf[i0..i0 + w].iter().zip(&self.window))
        {
            *d = s * win;
        }
        for d in self.frame[w..].iter_mut() {
            *d = 0.0;
        }
        // The lengths come from the planner itself, so this cannot fail.
        if self
            .fft
            .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
            .is_err()
        {
            self.spectrum
                .iter_mut()
                .for_each(|c| *c = Complex::new(0.0, 0.0));
        }
        for (j, (first, weights)) in self.filters.iter().enumerate() {
            let mut acc = 0f64;
            for (c, wt) in self.spectrum[*first..].iter().zip(weights) {
                acc += (*wt as f64) * (c.re as f64 * c.re as f64 + c.im as f64 * c.im as f64);
            }
            self.logmel[j] = (acc + LOG_FLOOR).ln() as f32;
        }
        for part in &self.cfg.parts {
            match part {
                Part::LogMel => out.extend_from_slice(&self.logmel),
                Part::Delta => out.extend(
                    self.logmel
                        .iter()
                        .zip(&self.prev_logmel)
                        .map(|(a, b)| a - b),
                ),
                Part::Delta2 => out.extend(
                    self.logmel
                        .iter()
                        .zip(&self.prev_logmel)
                        .zip(&self.prev_delta)
                        .map(|((a, b), pd)| (a - b) - pd),
                ),
            }
        }
        for ((pd, a), b) in self
            .prev_delta
            .iter_mut()
            .zip(&self.logmel)
            .zip(&self.prev_logmel)
        {
            *pd = a - b;
        }
        self.prev_logmel.copy_from_slice(&self.logmel);
    }
}
