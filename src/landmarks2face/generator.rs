// SPDX-License-Identifier: MIT OR Apache-2.0
//! The model: the landmarks2face contract checked against its metadata and signature
//! (docs/model-contract.md), and one run per frame.

use ort::value::TensorRef;

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
        Ok(Generator {
            model,
            crop,
            has_mask,
        })
    }

    /// Runs the model for one target; fills `frame` (3 S S) and `mask` (S S, if any).
    pub fn run(
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
        let (_, f) = out["frame"]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("model output \"frame\": {e}"))?;
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
        if self.has_mask {
            let (_, m) = out["mask"]
                .try_extract_tensor::<f32>()
                .map_err(|e| format!("model output \"mask\": {e}"))?;
            if m.len() == s * s {
                mask.extend_from_slice(m);
            }
        }
        Ok(())
    }
}
