// SPDX-License-Identifier: MIT OR Apache-2.0
//! The model: the landmarks2face contract checked against its metadata and signature
//! (docs/model-contract.md), and one run per frame, through an ONNX Runtime IoBinding.

use std::sync::Arc;

use ort::memory::Allocator;
use ort::session::{IoBinding, Session, SharedSessionInner};
use ort::value::{Tensor, TensorRef};

use super::identity::{Crop, Identity};
use crate::landmarks::N_POINTS;
use crate::onnx::ModelHandle;

/// The model, checked against the landmarks2face contract.
pub struct Generator {
    /// Its session may change while running (the GPU session taking over, see
    /// [`ModelHandle`]); whatever is made for a session is stale when `model.generation()`
    /// changes.
    pub model: ModelHandle,
    pub crop: Crop,
    has_mask: bool,
    /// Whether the mask's declared shape is [1, 1, S, S] (or N for 1): then the IoBinding
    /// preallocates it.
    mask_fixed: bool,
    /// The IoBinding for the identity of the last frame, made on its first frame.
    bound: Option<Bound>,
    /// The session for which no IoBinding could be made, and why (its frames take the plain
    /// run).
    binding_failed: Option<(Arc<SharedSessionInner>, String)>,
    /// That failure, until the element has logged it.
    binding_note: Option<String>,
}

impl Generator {
    pub fn new(model: ModelHandle) -> Result<Generator, String> {
        model.check_kind("landmarks2face")?;
        let size: usize = model.meta_parse("size")?;
        if !(16..=2048).contains(&size) {
            return Err(format!(
                "model metadata talkingface.size = {size} is out of range"
            ));
        }
        let crop = Crop::parse(model.meta_str("crop")?, size)
            .map_err(|e| format!("model metadata talkingface.crop: {e}"))?;
        let expect = |name: &str, dims: &[i64]| -> Result<(), String> {
            let spec = model
                .input(name)
                .ok_or_else(|| format!("model has no input named {name:?}"))?;
            let shape = spec
                .shape
                .as_ref()
                .ok_or_else(|| format!("model input {name:?} is not a float32 tensor"))?;
            let ok = shape.len() == dims.len()
                && shape
                    .iter()
                    .zip(dims)
                    .all(|(a, b)| *a < 0 || *b < 0 || a == b);
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "model input {name:?} has shape {shape:?}, the contract says {dims:?}"
                ))
            }
        };
        let s = size as i64;
        expect("reference", &[-1, 3, s, s])?;
        expect("reference_landmarks", &[-1, N_POINTS as i64, 2])?;
        expect("target_landmarks", &[-1, N_POINTS as i64, 2])?;
        for i in &model.inputs {
            if !["reference", "reference_landmarks", "target_landmarks"].contains(&i.name.as_str())
            {
                return Err(format!(
                    "model asks for an input {:?} that this element cannot make",
                    i.name
                ));
            }
        }
        let frame = model
            .output("frame")
            .ok_or("model has no output named \"frame\" (f32 [N, 3, S, S])")?;
        match frame.shape.as_deref() {
            Some([_, c, h, w])
                if (*c == 3 || *c < 0) && (*h == s || *h < 0) && (*w == s || *w < 0) => {}
            other => {
                return Err(format!(
                    "model output \"frame\" has shape {other:?}, the contract says [N, 3, {s}, {s}]"
                ))
            }
        }
        let has_mask = model.output("mask").is_some();
        let mask_fixed = model
            .output("mask")
            .and_then(|m| m.shape.as_deref())
            .is_some_and(
                |d| matches!(d, [n, 1, h, w] if (*n == 1 || *n < 0) && *h == s && *w == s),
            );
        Ok(Generator {
            model,
            crop,
            has_mask,
            mask_fixed,
            bound: None,
            binding_failed: None,
            binding_note: None,
        })
    }

    /// Runs the model for one target; fills `frame` (3 S S) and `mask` (S S, if any).
    ///
    /// Through an IoBinding ([`Bound`]): the identity's reference inputs are handed to the
    /// session once per identity (and again for a new session), the outputs are written into
    /// tensors allocated once; where the binding cannot be made, the plain run.
    pub fn run(
        &mut self,
        id: &Identity,
        target: &[[f32; 2]; N_POINTS],
        frame: &mut Vec<f32>,
        mask: &mut Vec<f32>,
    ) -> Result<(), String> {
        let (s, has_mask, mask_fixed) = (self.crop.size, self.has_mask, self.mask_fixed);
        let sess = self.model.session()?;
        let session = sess.inner();
        let current = self.bound.as_ref().is_some_and(|b| b.fits(&session, id));
        let failed = self
            .binding_failed
            .as_ref()
            .is_some_and(|(s, _)| Arc::ptr_eq(s, &session));
        if !current && !failed {
            // The previous binding (another identity or another session) goes first: its
            // tensors are freed before the new ones are allocated.
            self.bound = None;
            match Bound::new(sess, id, s, has_mask, mask_fixed) {
                Ok(b) => self.bound = Some(b),
                // Not an error: the plain run does the same work.
                Err(e) => {
                    self.binding_note = Some(e.clone());
                    self.binding_failed = Some((session.clone(), e));
                }
            }
        }
        if let Some(b) = self.bound.as_mut().filter(|b| b.fits(&session, id)) {
            match b.run(sess, target, s, has_mask, frame, mask) {
                Ok(()) => return Ok(()),
                // Not tried on a GPU yet: a bound run that fails leaves the binding for this
                // session, and the plain run says whether the model itself fails.
                Err(e) => {
                    self.bound = None;
                    self.binding_note = Some(e.clone());
                    self.binding_failed = Some((session, e));
                }
            }
        }
        self.run_plain(id, target, frame, mask)
    }

    /// Why no IoBinding could be made, once (for the element's log).
    pub fn take_binding_note(&mut self) -> Option<String> {
        self.binding_note.take()
    }

    /// The plain run: every input handed to the session, the outputs allocated by ONNX Runtime.
    fn run_plain(
        &mut self,
        id: &Identity,
        target: &[[f32; 2]; N_POINTS],
        frame: &mut Vec<f32>,
        mask: &mut Vec<f32>,
    ) -> Result<(), String> {
        let s = self.crop.size;
        // The point arrays are contiguous: viewed as flat slices, no copy per frame.
        let rl = id.reference_landmarks.as_flattened();
        let tl = target.as_flattened();
        let inputs: Vec<(&str, ort::session::SessionInputValue<'_>)> = vec![
            (
                "reference",
                TensorRef::from_array_view(([1usize, 3, s, s], &id.reference[..]))
                    .map_err(|e| e.to_string())?
                    .into(),
            ),
            (
                "reference_landmarks",
                TensorRef::from_array_view(([1usize, N_POINTS, 2], rl))
                    .map_err(|e| e.to_string())?
                    .into(),
            ),
            (
                "target_landmarks",
                TensorRef::from_array_view(([1usize, N_POINTS, 2], tl))
                    .map_err(|e| e.to_string())?
                    .into(),
            ),
        ];
        let out = self
            .model
            .session()?
            .run(inputs)
            .map_err(|e| format!("ONNX Runtime failed to run the model: {e}"))?;
        copy_outputs(&out, s, self.has_mask, frame, mask)
    }
}

/// The model's outputs into `frame` (3 S S values, else an error) and `mask` (S S values, else
/// left empty).
fn copy_outputs(
    out: &ort::session::SessionOutputs<'_>,
    s: usize,
    has_mask: bool,
    frame: &mut Vec<f32>,
    mask: &mut Vec<f32>,
) -> Result<(), String> {
    let f = out
        .get("frame")
        .ok_or("model gave no output \"frame\"")?
        .try_extract_tensor::<f32>()
        .map_err(|e| format!("model output \"frame\": {e}"))?
        .1;
    if f.len() != 3 * s * s {
        return Err(format!(
            "model output \"frame\" has {} values, expected {}",
            f.len(),
            3 * s * s
        ));
    }
    frame.clear();
    frame.extend_from_slice(f);
    mask.clear();
    if has_mask {
        if let Some(m) = out.get("mask") {
            let (_, m) = m
                .try_extract_tensor::<f32>()
                .map_err(|e| format!("model output \"mask\": {e}"))?;
            if m.len() == s * s {
                mask.extend_from_slice(m);
            }
        }
    }
    Ok(())
}

/// An ONNX Runtime IoBinding of the generator's session for one identity: the reference image
/// and landmarks bound once (on a GPU, copied to the device once), the target landmarks bound
/// per frame from one tensor, the outputs bound to tensors allocated once and reused by every
/// frame (no frame-sized allocation per frame; see docs/reliability.md, "State changes").
struct Bound {
    io: IoBinding,
    /// The session it was made for (a binding belongs to one session).
    session: Arc<SharedSessionInner>,
    /// The identity whose reference inputs are bound ([`Identity::serial`]).
    identity: u64,
    /// The target landmarks, [1, 68, 2]: written and bound again each frame.
    target: Tensor<f32>,
}

impl Bound {
    /// Binds the reference inputs of `id` and preallocated outputs to a new IoBinding of
    /// `model`'s session. Called again for another identity or another session.
    fn new(
        session: &Session,
        id: &Identity,
        s: usize,
        has_mask: bool,
        mask_fixed: bool,
    ) -> Result<Bound, String> {
        let err = |what: &str, e: ort::Error| format!("IoBinding: {what}: {e}");
        let mut io = session
            .create_binding()
            .map_err(|e| err("cannot create", e))?;
        // Owned tensors: bound without the second copy ort makes of borrowed ones.
        let reference = Tensor::from_array(([1usize, 3, s, s], id.reference.clone()))
            .map_err(|e| err("reference", e))?;
        io.bind_input("reference", &reference)
            .map_err(|e| err("reference", e))?;
        let rl = Tensor::from_array((
            [1usize, N_POINTS, 2],
            id.reference_landmarks.as_flattened().to_vec(),
        ))
        .map_err(|e| err("reference_landmarks", e))?;
        io.bind_input("reference_landmarks", &rl)
            .map_err(|e| err("reference_landmarks", e))?;
        let target = Tensor::from_array(([1usize, N_POINTS, 2], vec![0f32; N_POINTS * 2]))
            .map_err(|e| err("target_landmarks", e))?;
        let cpu = Allocator::default();
        let frame = Tensor::<f32>::new(&cpu, [1usize, 3, s, s]).map_err(|e| err("frame", e))?;
        io.bind_output("frame", frame)
            .map_err(|e| err("frame", e))?;
        if has_mask {
            // A mask whose declared shape is [1, 1, S, S] (or N for 1) is preallocated; any other
            // (unchecked by the contract, ignored unless S x S) is left to ONNX Runtime.
            if mask_fixed {
                let m = Tensor::<f32>::new(&cpu, [1usize, 1, s, s]).map_err(|e| err("mask", e))?;
                io.bind_output("mask", m).map_err(|e| err("mask", e))?;
            } else {
                io.bind_output_to_device("mask", cpu.memory_info())
                    .map_err(|e| err("mask", e))?;
            }
        }
        Ok(Bound {
            io,
            session: session.inner(),
            identity: id.serial,
            target,
        })
    }

    /// Whether this binding is `session`'s, for `id`.
    fn fits(&self, session: &Arc<SharedSessionInner>, id: &Identity) -> bool {
        self.identity == id.serial && Arc::ptr_eq(&self.session, session)
    }

    /// One frame: binds `target` and runs.
    fn run(
        &mut self,
        session: &mut Session,
        target: &[[f32; 2]; N_POINTS],
        s: usize,
        has_mask: bool,
        frame: &mut Vec<f32>,
        mask: &mut Vec<f32>,
    ) -> Result<(), String> {
        let (_, t) = self
            .target
            .try_extract_tensor_mut()
            .map_err(|e| format!("IoBinding: target_landmarks: {e}"))?;
        t.copy_from_slice(target.as_flattened());
        // Bound again each frame: a bound input is read when bound (copied there to a device).
        self.io
            .bind_input("target_landmarks", &self.target)
            .map_err(|e| format!("IoBinding: target_landmarks: {e}"))?;
        let out = session
            .run_binding(&self.io)
            .map_err(|e| format!("ONNX Runtime failed to run the model: {e}"))?;
        copy_outputs(&out, s, has_mask, frame, mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landmarks::mean_face;
    use crate::onnx::{ExecutionProvider, SessionOptions};

    fn model() -> ModelHandle {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/landmarks2face.onnx");
        let opts = SessionOptions {
            provider: ExecutionProvider::Cpu,
            threads: 1,
            ..SessionOptions::default()
        };
        ModelHandle::open(&path, &opts, crate::onnx::LoadGate::default())
            .expect("the default model loads")
    }

    /// A 320x320 picture (a pattern that depends on `seed`) with the mean face on it.
    fn identity(crop: Crop, seed: u8) -> Identity {
        let (w, h) = (320usize, 320usize);
        let mut rgba = vec![255u8; w * h * 4];
        for (i, px) in rgba.chunks_exact_mut(4).enumerate() {
            let (x, y) = (i % w, i / w);
            px[0] = (x as u8).wrapping_mul(seed);
            px[1] = (y as u8).wrapping_add(seed);
            px[2] = ((x ^ y) as u8).wrapping_mul(3);
        }
        let points = mean_face().map(|p| [40.0 + 240.0 * p[0], 30.0 + 240.0 * p[1]]);
        Identity::new(rgba, w, h, &points, crop).expect("identity")
    }

    /// Targets: the reference with the mouth opened by 0, 0.02 and 0.05.
    fn targets(id: &Identity) -> Vec<[[f32; 2]; N_POINTS]> {
        [0.0, 0.02, 0.05]
            .iter()
            .map(|d| {
                let mut t = id.reference_landmarks;
                for p in &mut t[57..60] {
                    p[1] += d;
                }
                for p in &mut t[65..68] {
                    p[1] += d;
                }
                t
            })
            .collect()
    }

    /// Each target through the IoBinding and through the plain run: the same values, bit for
    /// bit; the binding is the one for `id` and the current session.
    fn check_same(g: &mut Generator, id: &Identity) {
        for t in targets(id) {
            let (mut f0, mut m0, mut f1, mut m1) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            g.run_plain(id, &t, &mut f0, &mut m0).unwrap();
            g.run(id, &t, &mut f1, &mut m1).unwrap();
            assert!(
                g.binding_failed.is_none(),
                "{:?}",
                g.binding_failed.as_ref().map(|f| &f.1)
            );
            let session = g.model.session().unwrap().inner();
            assert!(g.bound.as_ref().is_some_and(|b| b.fits(&session, id)));
            assert_eq!(f0.len(), 3 * g.crop.size * g.crop.size);
            assert_eq!(m0.len(), m1.len());
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert!(
                bits(&f0) == bits(&f1),
                "frame differs through the IoBinding"
            );
            assert!(bits(&m0) == bits(&m1), "mask differs through the IoBinding");
        }
    }

    #[test]
    fn bound_runs_equal_plain_runs_across_identities_and_sessions() {
        let mut g = Generator::new(model()).unwrap();
        let a = identity(g.crop, 7);
        let b = identity(g.crop, 91);
        // The frames of two identities differ (else the rebinding below proves nothing).
        let (mut fa, mut fb, mut m) = (Vec::new(), Vec::new(), Vec::new());
        g.run_plain(&a, &a.reference_landmarks, &mut fa, &mut m)
            .unwrap();
        g.run_plain(&b, &b.reference_landmarks, &mut fb, &mut m)
            .unwrap();
        assert_ne!(fa, fb);
        check_same(&mut g, &a);
        // Another identity: the reference inputs are bound again.
        check_same(&mut g, &b);
        check_same(&mut g, &a);
        // Another session for the same generator (a provider switched after loading): the
        // binding of the old session is not used with the new one.
        g.model = model();
        check_same(&mut g, &a);
    }
}
