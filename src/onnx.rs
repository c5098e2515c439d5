// SPDX-License-Identifier: MIT OR Apache-2.0
//! The ONNX Runtime layer shared by every element that runs a model.
//!
//! - The runtime library is loaded once per process ([`environment`]). It is looked for at
//!   `ORT_DYLIB_PATH` when set, else where `scripts/setup.sh` puts it
//!   (`$XDG_DATA_HOME/talkingface/onnxruntime/libonnxruntime.so`), else in the system library folders.
//! - [`Model::load`] opens a model with the execution provider policy of the `execution-provider`
//!   property (auto = TensorRT (with CUDA in the same session for the nodes TensorRT cannot take),
//!   then CUDA, then CPU; or one of them, strictly), records why each
//!   provider that failed was refused, and reads the model's `talkingface.*` metadata and its
//!   input and output signatures so that each element can check the model against the contract.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use gst::glib;
use gst::prelude::*;
use ort::environment::Environment;
use ort::ep;
use ort::session::Session;
use ort::value::ValueType;

/// Prefix of every metadata key of the model contract.
pub const META_PREFIX: &str = "talkingface.";

/// Name under which the library is looked for in the user's data folder.
const LIB_NAME: &str = "libonnxruntime.so";

/// The environment, once the library has loaded. A failed load is not kept: the next element that
/// starts tries again (the user may have run scripts/setup.sh in the meantime).
static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();
/// Serialises load attempts.
static LOADING: Mutex<()> = Mutex::new(());

/// ONNX Runtime's own log, in GStreamer's debug log (`GST_DEBUG=onnxruntime:5`) instead of stderr.
static ORT_CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "onnxruntime",
        gst::DebugColorFlags::empty(),
        Some("ONNX Runtime's own log"),
    )
});

/// Forwards one ONNX Runtime log line to [`ORT_CAT`].
fn ort_log(level: ort::logging::LogLevel, category: &str, id: &str, location: &str, message: &str) {
    use ort::logging::LogLevel;
    let level = match level {
        LogLevel::Verbose => gst::DebugLevel::Log,
        LogLevel::Info => gst::DebugLevel::Debug,
        LogLevel::Warning => gst::DebugLevel::Warning,
        LogLevel::Error | LogLevel::Fatal => gst::DebugLevel::Error,
    };
    gst::log_with_level!(ORT_CAT, level, "[{category} {id} {location}] {message}");
}

/// Where the ONNX Runtime library is looked for, in order.
pub fn library_candidates() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        // An explicit choice: honoured alone, so that a wrong path is reported, not worked around.
        v.push(PathBuf::from(p));
        return v;
    }
    if let Some(d) = user_data_dir() {
        v.push(d.join("talkingface").join("onnxruntime").join(LIB_NAME));
    }
    for d in ["/usr/local/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib"] {
        v.push(Path::new(d).join(LIB_NAME));
    }
    v
}

/// `$XDG_DATA_HOME`, or `~/.local/share`.
pub fn user_data_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
}

/// `$XDG_CACHE_HOME`, or `~/.cache`.
pub fn user_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
}

/// The file the plugin was loaded from, where GStreamer loaded it from a file (set at plugin
/// registration; unset for a statically registered plugin, as in the tests).
static PLUGIN_FILE: OnceLock<PathBuf> = OnceLock::new();

/// Records where the plugin was loaded from (plugin_init).
pub fn set_plugin_file(path: PathBuf) {
    let _ = PLUGIN_FILE.set(path);
}

/// Whether the plugin runs from an installed copy: loaded from a file outside the source tree it
/// was built from (`scripts/setup.sh` copies it to the user's GStreamer plugin folder).
fn installed() -> bool {
    PLUGIN_FILE
        .get()
        .is_some_and(|f| !f.starts_with(env!("CARGO_MANIFEST_DIR")))
}

/// Where a default model (`models/<file>`) is looked for. An installed plugin looks first in the
/// user's data folder, where `scripts/setup.sh` installs the models beside it, then in the source
/// tree it was built from; a plugin loaded from its build tree (development, tests) looks in the
/// source tree first, so that the models match the code. When neither has it, the user data path,
/// which the missing-model error then names.
pub fn default_model_path(file: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(file);
    let user = user_data_dir().map(|d| d.join("talkingface").join("models").join(file));
    let cands: Vec<PathBuf> = if installed() {
        user.into_iter().chain([source]).collect()
    } else {
        [source].into_iter().chain(user).collect()
    };
    cands
        .iter()
        .find(|p| p.exists())
        .cloned()
        .unwrap_or_else(|| {
            user_data_dir()
                .map(|d| d.join("talkingface").join("models").join(file))
                .unwrap_or_else(|| cands[0].clone())
        })
}

/// Default folder of the TensorRT engine cache.
pub fn default_trt_cache_dir() -> PathBuf {
    user_cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("talkingface")
        .join("tensorrt")
}

/// The process-wide ONNX Runtime environment, loading the library on first use.
///
/// The error names every path that was tried and why each failed.
pub fn environment() -> Result<&'static Environment, String> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let _loading = LOADING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let env = load_environment()?;
    Ok(ENVIRONMENT.get_or_init(|| env))
}

fn load_environment() -> Result<Environment, String> {
    let mut tried = Vec::new();
    for cand in library_candidates() {
        let path = if cand.is_absolute() {
            cand.clone()
        } else {
            std::env::current_dir()
                .map(|d| d.join(&cand))
                .unwrap_or(cand.clone())
        };
        if !path.exists() {
            tried.push(format!("{}: no such file", path.display()));
            continue;
        }
        match ort::init_from(&path) {
            Ok(builder) => {
                return builder
                    .with_name("talkingface")
                    .with_logger(Arc::new(ort_log))
                    .build()
                    .map_err(|e| format!("ONNX Runtime at {}: {e}", path.display()));
            }
            Err(e) => tried.push(e.to_string()),
        }
    }
    Err(format!(
        "could not load the ONNX Runtime library (run scripts/setup.sh, or set ORT_DYLIB_PATH); tried {}",
        tried.join("; ")
    ))
}

/// The `execution-provider` property.
#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstTalkingFaceExecutionProvider")]
pub enum ExecutionProvider {
    #[default]
    #[enum_value(name = "TensorRT, then CUDA, then CPU", nick = "auto")]
    Auto = 0,
    #[enum_value(name = "TensorRT only", nick = "tensorrt")]
    TensorRt = 1,
    #[enum_value(name = "CUDA only", nick = "cuda")]
    Cuda = 2,
    #[enum_value(name = "CPU only", nick = "cpu")]
    Cpu = 3,
}

/// One provider the runtime can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    TensorRt,
    Cuda,
    Cpu,
}

impl Provider {
    pub fn nick(self) -> &'static str {
        match self {
            Provider::TensorRt => "tensorrt",
            Provider::Cuda => "cuda",
            Provider::Cpu => "cpu",
        }
    }
}

impl ExecutionProvider {
    fn chain(self) -> &'static [Provider] {
        match self {
            ExecutionProvider::Auto => &[Provider::TensorRt, Provider::Cuda, Provider::Cpu],
            ExecutionProvider::TensorRt => &[Provider::TensorRt],
            ExecutionProvider::Cuda => &[Provider::Cuda],
            ExecutionProvider::Cpu => &[Provider::Cpu],
        }
    }
}

/// How to open a model.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub provider: ExecutionProvider,
    /// TensorRT engine cache folder.
    pub trt_cache_dir: PathBuf,
    /// fp16 engines with TensorRT where the device has them.
    pub trt_fp16: bool,
    /// Intra-op threads on CPU; 0 lets ONNX Runtime choose (all cores).
    pub threads: u32,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            provider: ExecutionProvider::Auto,
            trt_cache_dir: default_trt_cache_dir(),
            trt_fp16: true,
            threads: 0,
        }
    }
}

/// Signature of one model input or output.
#[derive(Debug, Clone)]
pub struct TensorSpec {
    pub name: String,
    /// `None` for a value that is not a float tensor.
    pub shape: Option<Vec<i64>>,
}

/// An opened model: the session, the provider it runs on, and what it says about itself.
pub struct Model {
    pub session: Session,
    pub provider: Provider,
    /// Providers that were tried before and why each failed.
    pub failures: Vec<(Provider, String)>,
    /// `talkingface.*` metadata, keys without the prefix.
    pub meta: BTreeMap<String, String>,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
}

fn specs(outlets: &[ort::value::Outlet]) -> Vec<TensorSpec> {
    outlets
        .iter()
        .map(|o| TensorSpec {
            name: o.name().to_string(),
            shape: match o.dtype() {
                ValueType::Tensor {
                    ty: ort::value::TensorElementType::Float32,
                    shape,
                    ..
                } => Some(shape.iter().copied().collect()),
                _ => None,
            },
        })
        .collect()
}

fn open_with(
    env: &Environment,
    path: &Path,
    p: Provider,
    opts: &SessionOptions,
) -> Result<Session, String> {
    // Worker threads that spin between runs burn the CPU that the other elements of a live
    // pipeline need (one run per 40 ms frame): let them sleep.
    let mut b = Session::builder(env)
        .map_err(|e| e.to_string())?
        .with_config_entry("session.intra_op.allow_spinning", "0")
        .map_err(|e| e.to_string())?;
    if opts.threads > 0 {
        b = b
            .with_intra_threads(opts.threads as usize)
            .map_err(|e| e.to_string())?
            .with_inter_threads(1)
            .map_err(|e| e.to_string())?;
    }
    b = match p {
        Provider::TensorRt => {
            if let Err(e) = std::fs::create_dir_all(&opts.trt_cache_dir) {
                return Err(format!(
                    "cannot create the TensorRT engine cache {}: {e}",
                    opts.trt_cache_dir.display()
                ));
            }
            let dir = opts.trt_cache_dir.to_string_lossy().to_string();
            let trt = ep::TensorRT::default()
                .with_engine_cache(true)
                .with_engine_cache_path(&dir)
                .with_timing_cache(true)
                .with_timing_cache_path(&dir)
                .with_fp16(opts.trt_fp16)
                .build()
                .error_on_failure();
            // CUDA in the same session, after TensorRT: the nodes TensorRT cannot take run on
            // CUDA, not on the CPU.
            let cuda = ep::CUDA::default().build().error_on_failure();
            b.with_execution_providers([trt, cuda])
                .map_err(|e| e.to_string())?
        }
        Provider::Cuda => {
            let cuda = ep::CUDA::default().build().error_on_failure();
            b.with_execution_providers([cuda])
                .map_err(|e| e.to_string())?
        }
        Provider::Cpu => b,
    };
    b.commit_from_file(path).map_err(|e| e.to_string())
}

/// A value of `talkingface.*` metadata (`meta` holds the keys without the prefix), or an error
/// naming the missing key.
pub fn meta_str<'a>(meta: &'a BTreeMap<String, String>, key: &str) -> Result<&'a str, String> {
    meta.get(key)
        .map(String::as_str)
        .ok_or_else(|| format!("model metadata lacks the key {META_PREFIX}{key}"))
}

/// A metadata value parsed as `T` (surrounding blanks ignored), or an error naming the key and
/// the value.
pub fn meta_parse<T: std::str::FromStr>(
    meta: &BTreeMap<String, String>,
    key: &str,
) -> Result<T, String> {
    let v = meta_str(meta, key)?;
    v.trim()
        .parse()
        .map_err(|_| format!("model metadata {META_PREFIX}{key} = {v:?} is not a valid number"))
}

/// Checks the keys common to every model: kind, version (1) and a description.
pub fn check_kind(meta: &BTreeMap<String, String>, kind: &str) -> Result<(), String> {
    let k = meta_str(meta, "kind")?;
    if k != kind {
        return Err(format!(
            "model is of kind {k:?} ({META_PREFIX}kind), this element needs {kind:?}"
        ));
    }
    let v: u32 = meta_parse(meta, "version")?;
    if v != 1 {
        return Err(format!(
            "model contract version {v} ({META_PREFIX}version) is not supported; this element reads version 1"
        ));
    }
    meta_str(meta, "description")?;
    Ok(())
}

/// Reads one protobuf varint; None at the end of the file or past 10 bytes.
fn read_varint(r: &mut impl std::io::Read, pos: &mut u64) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let mut b = [0u8; 1];
        r.read_exact(&mut b).ok()?;
        *pos += 1;
        v |= u64::from(b[0] & 0x7f) << (7 * i);
        if b[0] & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Checks cheaply that `path` holds an ONNX model before any provider is tried: the file is not
/// empty and its top level parses as a protobuf `ModelProto` with a graph (field 7). Only tags and
/// lengths are read; payloads are skipped. The error leads with the cause:
/// "model file X is not a valid ONNX model: Protobuf parsing failed (...)".
pub fn check_model_file(path: &Path) -> Result<(), String> {
    use std::io::BufReader;
    let file = std::fs::File::open(path)
        .map_err(|e| format!("model file {} cannot be read: {e}", path.display()))?;
    let len = file
        .metadata()
        .map_err(|e| format!("model file {} cannot be read: {e}", path.display()))?
        .len();
    if len == 0 {
        return Err(format!(
            "model file {} is not a valid ONNX model: the file is empty",
            path.display()
        ));
    }
    let bad = |why: String| {
        format!(
            "model file {} is not a valid ONNX model: Protobuf parsing failed ({why})",
            path.display()
        )
    };
    // ModelProto's fields and their wire types (0 varint, 2 length-delimited).
    let expected = |field: u64| match field {
        1 | 5 => Some(0),
        2..=4 | 6..=8 | 14 | 20 | 25 => Some(2),
        _ => None,
    };
    let mut r = BufReader::new(file);
    let mut pos = 0u64;
    let mut has_graph = false;
    while pos < len {
        let at = pos;
        let tag = read_varint(&mut r, &mut pos)
            .ok_or_else(|| bad(format!("a field tag at byte {at} is cut off")))?;
        let (field, wire) = (tag >> 3, tag & 7);
        if field == 0 {
            return Err(bad(format!("field number 0 at byte {at}")));
        }
        if let Some(w) = expected(field) {
            if w != wire {
                return Err(bad(format!(
                    "field {field} at byte {at} has wire type {wire}, ModelProto has {w} there"
                )));
            }
        }
        let skip = match wire {
            0 => {
                read_varint(&mut r, &mut pos).ok_or_else(|| {
                    bad(format!(
                        "the varint of field {field} at byte {at} is cut off"
                    ))
                })?;
                0
            }
            1 => 8,
            2 => read_varint(&mut r, &mut pos).ok_or_else(|| {
                bad(format!(
                    "the length of field {field} at byte {at} is cut off"
                ))
            })?,
            5 => 4,
            _ => {
                return Err(bad(format!(
                    "field {field} at byte {at} has the invalid wire type {wire}"
                )))
            }
        };
        let left = len - pos;
        if skip > left {
            return Err(bad(format!(
                "field {field} at byte {at} needs {skip} bytes, the file has {left} left (truncated?)"
            )));
        }
        if skip > 0 {
            // Within the file (checked above): payloads are skipped, not read.
            r.seek_relative(skip as i64)
                .map_err(|e| format!("model file {} cannot be read: {e}", path.display()))?;
            pos += skip;
        }
        if field == 7 && wire == 2 {
            has_graph = true;
        }
    }
    if !has_graph {
        return Err(bad("it has no graph (ModelProto field 7)".into()));
    }
    Ok(())
}

impl Model {
    /// Opens `path` under the provider policy. Reads metadata and signatures; the caller checks
    /// them against its part of the contract.
    pub fn load(path: &Path, opts: &SessionOptions) -> Result<Model, String> {
        if !path.exists() {
            return Err(format!("model file {} does not exist", path.display()));
        }
        if path.is_dir() {
            return Err(format!("model path {} is a folder", path.display()));
        }
        // A broken file is reported as such, not as every provider failing in turn.
        check_model_file(path)?;
        let env = environment()?;
        let mut failures = Vec::new();
        let mut chosen = None;
        for &p in opts.provider.chain() {
            match open_with(env, path, p, opts) {
                Ok(s) => {
                    chosen = Some((s, p));
                    break;
                }
                Err(e) => failures.push((p, e)),
            }
        }
        let Some((session, provider)) = chosen else {
            // Whether the file itself is the cause: ONNX Runtime's own verdict on CPU (already
            // tried when the chain has CPU).
            let cpu = match failures.iter().find(|(p, _)| *p == Provider::Cpu) {
                Some((_, e)) => Err(e.clone()),
                None => open_with(env, path, Provider::Cpu, opts).map(drop),
            };
            if let Err(e) = cpu {
                return Err(format!(
                    "model file {} cannot be loaded by ONNX Runtime: {e}",
                    path.display()
                ));
            }
            let why = failures
                .iter()
                .map(|(p, e)| format!("{}: {e}", p.nick()))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(format!(
                "cannot open model {} on the requested execution provider: {why}",
                path.display()
            ));
        };
        let mut meta = BTreeMap::new();
        let md = session
            .metadata()
            .map_err(|e| format!("cannot read metadata of {}: {e}", path.display()))?;
        for key in md.custom_keys().unwrap_or_default() {
            if let Some(k) = key.strip_prefix(META_PREFIX) {
                if let Some(v) = md.custom(&key) {
                    meta.insert(k.to_string(), v);
                }
            }
        }
        drop(md);
        let inputs = specs(session.inputs());
        let outputs = specs(session.outputs());
        Ok(Model {
            session,
            provider,
            failures,
            meta,
            inputs,
            outputs,
        })
    }

    pub fn input(&self, name: &str) -> Option<&TensorSpec> {
        self.inputs.iter().find(|s| s.name == name)
    }

    pub fn output(&self, name: &str) -> Option<&TensorSpec> {
        self.outputs.iter().find(|s| s.name == name)
    }

    /// A metadata value (key without prefix), or an error naming the missing key.
    pub fn meta_str(&self, key: &str) -> Result<&str, String> {
        meta_str(&self.meta, key)
    }

    /// A metadata value parsed as `T`, or an error naming the key and the value.
    pub fn meta_parse<T: std::str::FromStr>(&self, key: &str) -> Result<T, String> {
        meta_parse(&self.meta, key)
    }

    /// Checks the keys common to every model: kind and version.
    pub fn check_kind(&self, kind: &str) -> Result<(), String> {
        check_kind(&self.meta, kind)
    }

    /// A human-readable list of the providers that failed, for the log.
    pub fn failure_report(&self) -> Vec<String> {
        self.failures
            .iter()
            .map(|(p, e)| format!("{} unavailable: {e}", p.nick()))
            .collect()
    }
}

/// The element message posted once when a model is opened: `talkingface-execution-provider`.
pub fn provider_message(element: &gst::Element, model: &Model, path: &Path) -> gst::Message {
    let failed: Vec<String> = model.failure_report();
    let s = gst::Structure::builder("talkingface-execution-provider")
        .field("provider", model.provider.nick())
        .field("model", path.to_string_lossy().to_string())
        .field("failed", failed.join("; "))
        .build();
    gst::message::Element::builder(s).src(element).build()
}

/// Names of the properties [`session_properties`] makes (besides the read-only `provider`).
const SESSION_PROPERTIES: &[&str] = &[
    "execution-provider",
    "tensorrt-cache-dir",
    "tensorrt-fp16",
    "threads",
];

/// The properties every model-running element has: `execution-provider`, `provider` (read-only:
/// the provider in use once started), `tensorrt-cache-dir`, `tensorrt-fp16`, `threads` (its default
/// given: the element's own [`SessionOptions`] default must agree).
pub fn session_properties(default_threads: u32) -> Vec<glib::ParamSpec> {
    session_properties_with(default_threads, true)
}

/// [`session_properties`] with the default of `tensorrt-fp16` given (false for models that carry
/// a recurrent state, where half-precision rounding accumulates from frame to frame).
pub fn session_properties_with(default_threads: u32, default_fp16: bool) -> Vec<glib::ParamSpec> {
    vec![
        glib::ParamSpecEnum::builder_with_default("execution-provider", ExecutionProvider::Auto)
            .nick("Execution provider")
            .blurb("Where the model runs: auto (TensorRT, then CUDA, then CPU) or one of them strictly")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("provider")
            .nick("Provider in use")
            .blurb("The execution provider the model runs on (tensorrt, cuda, cpu), once started")
            .read_only()
            .build(),
        glib::ParamSpecString::builder("tensorrt-cache-dir")
            .nick("TensorRT engine cache")
            .blurb("Folder of the TensorRT engine and timing caches")
            .default_value(Some(default_trt_cache_dir().to_string_lossy().as_ref()))
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("tensorrt-fp16")
            .nick("TensorRT fp16")
            .blurb("Build fp16 TensorRT engines where the device supports them")
            .default_value(default_fp16)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("threads")
            .nick("Threads")
            .blurb("CPU threads of ONNX Runtime (0: all cores)")
            .maximum(256)
            .default_value(default_threads)
            .mutable_ready()
            .build(),
    ]
}

impl SessionOptions {
    /// Sets one of the [`session_properties`]; false if `name` is not one of them.
    pub fn set_property(&mut self, name: &str, value: &glib::Value) -> bool {
        match name {
            "execution-provider" => self.provider = value.get().unwrap_or_default(),
            "tensorrt-cache-dir" => {
                self.trt_cache_dir = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .map(PathBuf::from)
                    .unwrap_or_else(default_trt_cache_dir)
            }
            "tensorrt-fp16" => self.trt_fp16 = value.get().unwrap_or(true),
            "threads" => self.threads = value.get().unwrap_or(0),
            _ => return false,
        }
        true
    }

    /// Reads one of the [`session_properties`] (not `provider`, which the element keeps).
    pub fn property(&self, name: &str) -> Option<glib::Value> {
        SESSION_PROPERTIES.contains(&name).then(|| match name {
            "execution-provider" => self.provider.to_value(),
            "tensorrt-cache-dir" => self.trt_cache_dir.to_string_lossy().to_string().to_value(),
            "tensorrt-fp16" => self.trt_fp16.to_value(),
            _ => self.threads.to_value(),
        })
    }
}

/// Opens an element's model at NULL→READY: loads it under the provider policy and logs why each
/// provider before the one in use failed (INFO under `auto`, WARNING when a provider was named).
/// Returns the model and the provider message to post once the element has started.
pub fn open_model(
    element: &gst::Element,
    cat: gst::DebugCategory,
    path: &Path,
    opts: &SessionOptions,
) -> Result<(Model, gst::Message), gst::ErrorMessage> {
    let model = Model::load(path, opts).map_err(|e| {
        let kind = if path.exists() {
            gst::ResourceError::Failed
        } else {
            gst::ResourceError::NotFound
        };
        gst::error_msg!(
            kind,
            (
                "{}: {}",
                element
                    .factory()
                    .map(|f| f.name().to_string())
                    .unwrap_or_default(),
                e
            )
        )
    })?;
    for f in model.failure_report() {
        if opts.provider == ExecutionProvider::Auto {
            gst::info!(cat, obj = element, "{}", f);
        } else {
            gst::warning!(cat, obj = element, "{}", f);
        }
    }
    let msg = provider_message(element, &model, path);
    Ok((model, msg))
}
