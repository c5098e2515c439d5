// SPDX-License-Identifier: MIT OR Apache-2.0
//! dlib's HOG frontal face detector and 68-point shape predictor, through a small C++ shim
//! (src/dlib/shim.cpp, compiled by build.rs against Debian's libdlib-dev).
//!
//! The model file, `shape_predictor_68_face_landmarks.dat`, is not shipped: its training data
//! (iBUG 300-W) excludes commercial use. It is found where the user installed it (Debian
//! `libdlib-data`), see [`FaceLandmarker::default_model_path`].
//!
//! The shim catches every C++ exception and returns it as an error string; nothing unwinds across
//! the FFI boundary. Unlike `dlib::shape_predictor`, the points are not rounded to whole pixels.

use std::ffi::{c_char, c_float, c_int, c_uint, c_void, CStr, CString};
use std::path::{Path, PathBuf};

/// Number of landmarks of the iBUG 300-W layout.
pub const N_LANDMARKS: usize = 68;

/// Model file name of dlib's 68-point shape predictor.
pub const MODEL_FILE: &str = "shape_predictor_68_face_landmarks.dat";

const ERR_LEN: usize = 512;
const MAX_FACES: usize = 64;

extern "C" {
    fn tf_dlib_new(path: *const c_char, err: *mut c_char, errlen: usize) -> *mut c_void;
    fn tf_dlib_free(p: *mut c_void);
    #[allow(clippy::too_many_arguments)]
    fn tf_dlib_detect(
        p: *mut c_void,
        gray: *const u8,
        w: usize,
        h: usize,
        stride: usize,
        upsample: c_uint,
        out: *mut c_float,
        max: usize,
        n: *mut usize,
        err: *mut c_char,
        errlen: usize,
    ) -> c_int;
    #[allow(clippy::too_many_arguments)]
    fn tf_dlib_landmarks(
        p: *mut c_void,
        gray: *const u8,
        w: usize,
        h: usize,
        stride: usize,
        left: c_float,
        top: c_float,
        right: c_float,
        bottom: c_float,
        out: *mut c_float,
        err: *mut c_char,
        errlen: usize,
    ) -> c_int;
}

/// A face box in pixels (right and bottom exclusive) with the detector's score (larger is
/// surer; dlib's HOG detector reports faces with a score above 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceRect {
    pub left: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
    pub score: f32,
}

impl FaceRect {
    pub fn width(&self) -> f32 {
        self.right - self.left
    }
    pub fn height(&self) -> f32 {
        self.bottom - self.top
    }
}

/// dlib's HOG frontal face detector and 68-point shape predictor.
pub struct FaceLandmarker {
    raw: *mut c_void,
}

// SAFETY: the C++ object is owned by this value alone and used through `&mut self` only; dlib's
// detector and predictor keep no thread-local state.
unsafe impl Send for FaceLandmarker {}

impl Drop for FaceLandmarker {
    fn drop(&mut self) {
        // SAFETY: raw came from tf_dlib_new and is freed once.
        unsafe { tf_dlib_free(self.raw) }
    }
}

fn err_string(buf: &[c_char]) -> String {
    // SAFETY: the shim always NUL-terminates (snprintf); the buffer is zeroed beforehand.
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
    s.to_string_lossy().into_owned()
}

/// Checks that a gray image's geometry fits its buffer.
fn check_image(gray: &[u8], width: usize, height: usize, stride: usize) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err(format!("empty image ({width}x{height})"));
    }
    if stride < width {
        return Err(format!(
            "image stride {stride} is less than its width {width}"
        ));
    }
    let need = stride
        .checked_mul(height - 1)
        .and_then(|v| v.checked_add(width))
        .ok_or("image size overflows")?;
    if gray.len() < need {
        return Err(format!(
            "image buffer has {} bytes, {width}x{height} with stride {stride} needs {need}",
            gray.len()
        ));
    }
    Ok(())
}

impl FaceLandmarker {
    /// The first existing copy of dlib's 68-point model among /usr/share/dlib,
    /// /usr/local/share/dlib and ~/.local/share/dlib (or $XDG_DATA_HOME/dlib).
    pub fn default_model_path() -> Option<PathBuf> {
        Self::model_search_paths().into_iter().find(|p| p.is_file())
    }

    /// Where [`default_model_path`](Self::default_model_path) looks, in order.
    pub fn model_search_paths() -> Vec<PathBuf> {
        let mut v = vec![
            Path::new("/usr/share/dlib").join(MODEL_FILE),
            Path::new("/usr/local/share/dlib").join(MODEL_FILE),
        ];
        if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
            v.push(PathBuf::from(d).join("dlib").join(MODEL_FILE));
        }
        if let Some(h) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
            let p = PathBuf::from(h).join(".local/share/dlib").join(MODEL_FILE);
            if !v.contains(&p) {
                v.push(p);
            }
        }
        v
    }

    /// Loads the shape predictor (and builds the face detector, which is compiled into dlib).
    pub fn new(model: &Path) -> Result<Self, String> {
        let shown = model.display();
        match std::fs::metadata(model) {
            Err(e) => {
                return Err(format!(
                    "dlib face landmark model {shown} cannot be read: {e} (Debian installs it with the package libdlib-data)"
                ))
            }
            Ok(m) if !m.is_file() => {
                return Err(format!(
                    "dlib face landmark model {shown} is not a regular file"
                ))
            }
            Ok(_) => {}
        }
        let c = CString::new(model.as_os_str().as_encoded_bytes())
            .map_err(|_| format!("model path {shown} contains a NUL byte"))?;
        let mut err = [0 as c_char; ERR_LEN];
        // SAFETY: c is a valid C string; err is a writable buffer of ERR_LEN.
        let raw = unsafe { tf_dlib_new(c.as_ptr(), err.as_mut_ptr(), ERR_LEN) };
        if raw.is_null() {
            return Err(format!(
                "dlib face landmark model {shown}: {}",
                err_string(&err)
            ));
        }
        Ok(FaceLandmarker { raw })
    }

    /// Finds frontal faces in a gray image (one byte per pixel, rows `stride` bytes apart),
    /// the surest first. `upsample` doubles the image that many times first (finds faces smaller
    /// than dlib's 80x80 minimum, at 4x the cost each time; at most 3).
    pub fn detect(
        &mut self,
        gray: &[u8],
        width: usize,
        height: usize,
        stride: usize,
        upsample: u32,
    ) -> Result<Vec<FaceRect>, String> {
        check_image(gray, width, height, stride)?;
        if upsample > 3 {
            return Err(format!("upsample {upsample} is more than 3"));
        }
        let mut out = vec![0f32; MAX_FACES * 5];
        let mut n = 0usize;
        let mut err = [0 as c_char; ERR_LEN];
        // SAFETY: the image fits its buffer (checked), out holds MAX_FACES * 5 floats.
        let rc = unsafe {
            tf_dlib_detect(
                self.raw,
                gray.as_ptr(),
                width,
                height,
                stride,
                upsample,
                out.as_mut_ptr(),
                MAX_FACES,
                &mut n,
                err.as_mut_ptr(),
                ERR_LEN,
            )
        };
        if rc != 0 {
            return Err(format!("dlib face detector: {}", err_string(&err)));
        }
        Ok(out
            .chunks_exact(5)
            .take(n.min(MAX_FACES))
            .map(|c| FaceRect {
                left: c[0],
                top: c[1],
                right: c[2],
                bottom: c[3],
                score: c[4],
            })
            .collect())
    }

    /// The 68 landmarks (x, y in pixels, iBUG-68 order) of the face in `rect`.
    pub fn landmarks(
        &mut self,
        gray: &[u8],
        width: usize,
        height: usize,
        stride: usize,
        rect: &FaceRect,
    ) -> Result<[[f32; 2]; N_LANDMARKS], String> {
        check_image(gray, width, height, stride)?;
        let r = [rect.left, rect.top, rect.right, rect.bottom];
        if !r.iter().all(|v| v.is_finite() && v.abs() < 1e7) {
            return Err(format!("face box {rect:?} is not finite"));
        }
        if rect.width() < 2.0 || rect.height() < 2.0 {
            return Err(format!("face box {rect:?} is empty"));
        }
        let mut out = [0f32; N_LANDMARKS * 2];
        let mut err = [0 as c_char; ERR_LEN];
        // SAFETY: the image fits its buffer (checked), out holds 136 floats.
        let rc = unsafe {
            tf_dlib_landmarks(
                self.raw,
                gray.as_ptr(),
                width,
                height,
                stride,
                rect.left,
                rect.top,
                rect.right,
                rect.bottom,
                out.as_mut_ptr(),
                err.as_mut_ptr(),
                ERR_LEN,
            )
        };
        if rc != 0 {
            return Err(format!("dlib shape predictor: {}", err_string(&err)));
        }
        let mut pts = [[0f32; 2]; N_LANDMARKS];
        for (i, p) in pts.iter_mut().enumerate() {
            *p = [out[2 * i], out[2 * i + 1]];
        }
        Ok(pts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_model_names_path() {
        let e = match FaceLandmarker::new(Path::new("/nonexistent/sp68.dat")) {
            Err(e) => e,
            Ok(_) => panic!("a missing model loaded"),
        };
        assert!(e.contains("/nonexistent/sp68.dat"), "{e}");
        assert!(e.contains("libdlib-data"), "{e}");
    }

    #[test]
    fn garbage_model_is_an_error() {
        let dir = std::env::temp_dir().join(format!("tf-dlib-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("garbage.dat");
        std::fs::write(&p, b"this is not a shape predictor at all").unwrap();
        let e = match FaceLandmarker::new(&p) {
            Err(e) => e,
            Ok(_) => panic!("garbage loaded"),
        };
        assert!(e.contains("garbage.dat"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn blank_image_has_no_face() {
        let Some(m) = FaceLandmarker::default_model_path() else {
            eprintln!("note: dlib's 68-point model is not installed; skipping");
            return;
        };
        let mut lm = FaceLandmarker::new(&m).unwrap();
        let img = vec![128u8; 200 * 150];
        assert!(lm.detect(&img, 200, 150, 200, 0).unwrap().is_empty());
        assert!(lm.detect(&img, 200, 150, 100, 0).is_err());
        assert!(lm.detect(&img[..100], 200, 150, 200, 0).is_err());
        let r = FaceRect {
            left: 20.0,
            top: 20.0,
            right: 120.0,
            bottom: 120.0,
            score: 1.0,
        };
        let pts = lm.landmarks(&img, 200, 150, 200, &r).unwrap();
        assert!(pts.iter().flatten().all(|v| v.is_finite()));
    }
}
