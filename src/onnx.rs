// SPDX-License-Identifier: MIT OR Apache-2.0
//! The ONNX Runtime layer shared by every element that runs a model.
//!
//! - The runtime library is loaded once per process ([`environment`]). It is looked for at
//!   `ORT_DYLIB_PATH` when set, else where `scripts/setup.sh` puts it
//!   (`$XDG_DATA_HOME/talkingface/onnxruntime/libonnxruntime.so`), else in the system library folders.
//! - [`ModelHandle::open`] opens a model on the CPU at once and reads its `talkingface.*` metadata
//!   and its input and output signatures, so that each element can check the model against the
//!   contract; [`ModelHandle::start_gpu`] then builds the session of the `execution-provider`
//!   policy in the background (auto = TensorRT (with CUDA in the same session for the nodes
//!   TensorRT cannot take), then CUDA, then CPU; or one of them, strictly), recording why each
//!   provider that failed was refused.

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

/// Whether the plugin runs from an installed copy (`scripts/setup.sh` copies it to the user's
/// GStreamer plugin folder): loaded from a file neither in the source tree it was built from nor
/// in a cargo target folder (one with cargo's CACHEDIR.TAG up to three levels above the file:
/// target/debug/, target/debug/deps/; CARGO_TARGET_DIR may put it outside the source tree).
fn installed() -> bool {
    PLUGIN_FILE.get().is_some_and(|f| {
        !f.starts_with(env!("CARGO_MANIFEST_DIR"))
            && !f
                .ancestors()
                .skip(1)
                .take(3)
                .any(|d| d.join("CACHEDIR.TAG").is_file())
    })
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
#[derive(Debug, Clone, PartialEq)]
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
    profile: Option<&TrtProfile>,
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
                .with_fp16(opts.trt_fp16);
            // Shape bounds for every input with a dynamic dimension: without them TensorRT
            // builds for the first shape it sees and rebuilds (in the streaming thread) for
            // every other.
            let trt = match profile {
                Some(pr) => trt
                    .with_profile_min_shapes(&pr.min)
                    .with_profile_opt_shapes(&pr.opt)
                    .with_profile_max_shapes(&pr.max),
                None => trt,
            };
            let trt = trt.build().error_on_failure();
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

/// A session's `talkingface.*` metadata (keys without the prefix) and its input and output
/// signatures.
#[allow(clippy::type_complexity)]
fn read_info(
    session: &Session,
    path: &Path,
) -> Result<(BTreeMap<String, String>, Vec<TensorSpec>, Vec<TensorSpec>), String> {
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
    Ok((meta, specs(session.inputs()), specs(session.outputs())))
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

/// Checks that `path` is a model file before any provider is tried (a broken file is reported as
/// such, not as every provider failing in turn) and loads the runtime.
fn precheck(path: &Path) -> Result<&'static Environment, String> {
    if !path.exists() {
        return Err(format!("model file {} does not exist", path.display()));
    }
    if path.is_dir() {
        return Err(format!("model path {} is a folder", path.display()));
    }
    check_model_file(path)?;
    environment()
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

// ---------------------------------------------------------------------------------------------
// Models loaded in the background.
//
// Building a GPU session can take minutes (TensorRT builds its engine at session creation), and
// an element's state change must not wait that long. A [`ModelHandle`] opens the model on the CPU
// at once (tens of milliseconds: the metadata and signatures for the contract checks and the caps,
// and a broken file still fails the state change) and builds the GPU session in a thread of its
// own. Under `auto` the CPU session serves until the GPU one is ready; under a strict provider the
// streaming thread waits for it at its first run. The generic part is [`Staged`].
// ---------------------------------------------------------------------------------------------

/// Tells a streaming thread that waits for a background load to give up (the element is
/// flushing or stopping): set at FLUSH_START and PAUSED→READY, cleared at FLUSH_STOP and
/// READY→PAUSED. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct LoadGate(Arc<std::sync::atomic::AtomicBool>);

impl LoadGate {
    pub fn set_flushing(&self, flushing: bool) {
        self.0.store(flushing, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_flushing(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The element's state change: a streaming thread waiting for a background model load
    /// gives up at PAUSED→READY (so that the pads can deactivate at once); READY→PAUSED lets it
    /// wait again.
    pub fn on_state_change(&self, transition: gst::StateChange) {
        match transition {
            gst::StateChange::PausedToReady => self.set_flushing(true),
            gst::StateChange::ReadyToPaused => self.set_flushing(false),
            _ => {}
        }
    }
}

/// How often a waiting streaming thread looks at its [`LoadGate`].
const GATE_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// Where a background load leaves its result.
struct Slot<T> {
    result: Option<Result<T, String>>,
    /// How long the load took.
    took: std::time::Duration,
    /// The handle is gone: the result is dropped when it comes.
    detached: bool,
}

struct Shared<T> {
    slot: Mutex<Slot<T>>,
    done: std::sync::Condvar,
}

impl<T> Shared<T> {
    /// Waits until the load has finished (or was detached) or `gate` flushes.
    fn wait(&self, gate: &LoadGate) -> Result<(), Unavailable> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        while slot.result.is_none() && !slot.detached {
            if gate.is_flushing() {
                return Err(Unavailable::Flushing);
            }
            slot = match self.done.wait_timeout(slot, GATE_POLL) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        Ok(())
    }
}

/// Waits for a [`Staged`]'s background load from outside the lock that guards the `Staged`.
pub struct Waiter<T>(Arc<Shared<T>>);

impl<T> Waiter<T> {
    /// Returns when the load has finished (the next [`Staged::get`] takes it at once), the
    /// `Staged` was dropped, or `gate` flushes ([`Unavailable::Flushing`]).
    pub fn wait(&self, gate: &LoadGate) -> Result<(), Unavailable> {
        self.0.wait(gate)
    }
}

/// What taking a finished background load did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Its value now serves.
    Switched,
    /// It failed, with this reason; the fallback (if there was one) goes on serving.
    Failed(String),
}

/// Why no value can serve.
#[derive(Debug, Clone, PartialEq)]
pub enum Unavailable {
    /// The wait for the background load was given up (the [`LoadGate`] is flushing).
    Flushing,
    /// The background load failed and there is no fallback.
    Failed(String),
}

/// A value that a background thread is loading, and what serves meanwhile.
///
/// - [`Staged::ready`]: nothing to load; the value serves.
/// - [`Staged::spawn`] with a fallback: the fallback serves at once; the loaded value replaces it
///   at the first [`Staged::get`] after the load has finished ([`Outcome::Switched`]); a failed
///   load leaves the fallback ([`Outcome::Failed`]).
/// - [`Staged::spawn`] without a fallback: the first [`Staged::get`] waits for the load (given
///   up when the [`LoadGate`] flushes).
///
/// Dropping a `Staged` never waits: a load still running is detached; its thread drops the
/// result when it comes. A loader that panics counts as a failed load.
pub struct Staged<T: Send + 'static> {
    serving: Option<T>,
    pending: Option<Arc<Shared<T>>>,
    failed: Option<String>,
    generation: u64,
    /// How long the last load taken took.
    took: Option<std::time::Duration>,
}

impl<T: Send + 'static> Staged<T> {
    /// A value with nothing to load.
    pub fn ready(value: T) -> Self {
        Staged {
            serving: Some(value),
            pending: None,
            failed: None,
            generation: 0,
            took: None,
        }
    }

    /// Runs `load` in a thread named `name`; `fallback` serves until it has finished.
    pub fn spawn<F>(fallback: Option<T>, name: &str, load: F) -> Self
    where
        F: FnOnce() -> Result<T, String> + Send + 'static,
    {
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot {
                result: None,
                took: std::time::Duration::ZERO,
                detached: false,
            }),
            done: std::sync::Condvar::new(),
        });
        let theirs = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let t0 = std::time::Instant::now();
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(load))
                    .unwrap_or_else(|p| {
                        let why = p
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        Err(format!("the background load panicked: {why}"))
                    });
                let dropped = {
                    let mut slot = theirs.slot.lock().unwrap_or_else(|e| e.into_inner());
                    if slot.detached {
                        Some(r)
                    } else {
                        slot.result = Some(r);
                        slot.took = t0.elapsed();
                        None
                    }
                };
                theirs.done.notify_all();
                // A detached load's result (a session, say) is released here, in this thread,
                // with no lock held.
                drop(dropped);
            });
        if let Err(e) = spawned {
            let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
            slot.result = Some(Err(format!("cannot start a thread to load: {e}")));
        }
        Staged {
            serving: fallback,
            pending: Some(shared),
            failed: None,
            generation: 0,
            took: None,
        }
    }

    /// Takes a finished background load, without waiting.
    pub fn poll(&mut self) -> Option<Outcome> {
        let shared = self.pending.as_ref()?;
        let (result, took) = {
            let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
            (slot.result.take()?, slot.took)
        };
        self.pending = None;
        self.took = Some(took);
        match result {
            Ok(v) => {
                self.serving = Some(v);
                self.generation += 1;
                Some(Outcome::Switched)
            }
            Err(e) => {
                if self.serving.is_none() {
                    self.failed = Some(e.clone());
                }
                Some(Outcome::Failed(e))
            }
        }
    }

    /// Waits until the background load has finished or `gate` flushes.
    fn wait(&self, gate: &LoadGate) -> Result<(), Unavailable> {
        match self.pending.as_ref() {
            Some(shared) => shared.wait(gate),
            None => Ok(()),
        }
    }

    /// Where nothing serves yet and a load is pending: something to wait for the load with
    /// (without holding whatever lock guards this `Staged`).
    pub fn waiter(&self) -> Option<Waiter<T>> {
        match (&self.serving, &self.pending) {
            (None, Some(shared)) => Some(Waiter(shared.clone())),
            _ => None,
        }
    }

    /// The value to use now, and what taking a finished load did (if one finished since the last
    /// call). Without a fallback this waits for the load.
    pub fn get(&mut self, gate: &LoadGate) -> Result<(&mut T, Option<Outcome>), Unavailable> {
        let mut outcome = self.poll();
        if self.serving.is_none() && self.failed.is_none() && self.pending.is_some() {
            self.wait(gate)?;
            outcome = self.poll();
        }
        match (&mut self.serving, &self.failed) {
            (Some(v), _) => Ok((v, outcome)),
            (None, Some(e)) => Err(Unavailable::Failed(e.clone())),
            (None, None) => Err(Unavailable::Failed("nothing was loaded".into())),
        }
    }

    /// How long the background load took, once taken.
    pub fn load_time(&self) -> Option<std::time::Duration> {
        self.took
    }

    fn current_mut(&mut self) -> Option<&mut T> {
        self.serving.as_mut()
    }

    /// The value serving now, if any (does not take a finished load).
    pub fn current(&self) -> Option<&T> {
        self.serving.as_ref()
    }

    /// Whether a background load is still to be taken.
    pub fn is_loading(&self) -> bool {
        self.pending.is_some()
    }

    /// How many times a loaded value has replaced the one serving (0 at first): whatever was made
    /// for the value serving (an I/O binding, say) is stale when this changes.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The serving value, leaving none (a pending load is detached).
    fn take_serving(&mut self) -> Option<T> {
        self.serving.take()
    }
}

impl<T: Send + 'static> Drop for Staged<T> {
    fn drop(&mut self) {
        if let Some(shared) = self.pending.take() {
            let result = {
                let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
                slot.detached = true;
                slot.result.take()
            };
            drop(result);
        }
    }
}

/// TensorRT's optimisation profile: `name:1x10x80,other:...` for the smallest, typical and
/// largest shapes of every input with a dynamic dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrtProfile {
    pub min: String,
    pub opt: String,
    pub max: String,
}

/// The range an element gives one dynamic dimension of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimBounds {
    pub input: String,
    pub axis: usize,
    pub min: i64,
    pub opt: i64,
    pub max: i64,
}

/// The TensorRT profile of a model's inputs: every dynamic dimension takes its [`DimBounds`],
/// or 1 where none is given (a batch: the elements run one item at a time). None when no input
/// has a dynamic dimension. Inputs that are not float tensors are left out.
pub fn trt_profile(
    inputs: &[TensorSpec],
    bounds: &[DimBounds],
) -> Result<Option<TrtProfile>, String> {
    let mut parts: [Vec<String>; 3] = Default::default();
    for b in bounds {
        if !(1 <= b.min && b.min <= b.opt && b.opt <= b.max) {
            return Err(format!(
                "bounds of input {:?} axis {}: {} <= {} <= {} does not hold",
                b.input, b.axis, b.min, b.opt, b.max
            ));
        }
    }
    for input in inputs {
        let Some(shape) = &input.shape else {
            continue;
        };
        if shape.iter().all(|&d| d >= 0) {
            continue;
        }
        if input.name.contains([',', ':']) {
            return Err(format!(
                "model input {:?} has a name that TensorRT's profile syntax cannot carry",
                input.name
            ));
        }
        let mut dims: [Vec<String>; 3] = Default::default();
        for (axis, &d) in shape.iter().enumerate() {
            let (lo, opt, hi) = if d >= 0 {
                (d, d, d)
            } else {
                bounds
                    .iter()
                    .find(|b| b.input == input.name && b.axis == axis)
                    .map_or((1, 1, 1), |b| (b.min, b.opt, b.max))
            };
            for (v, out) in [lo, opt, hi].into_iter().zip(dims.iter_mut()) {
                out.push(v.to_string());
            }
        }
        for (out, d) in parts.iter_mut().zip(dims) {
            out.push(format!("{}:{}", input.name, d.join("x")));
        }
    }
    if parts[0].is_empty() {
        return Ok(None);
    }
    let [min, opt, max] = parts.map(|p| p.join(","));
    Ok(Some(TrtProfile { min, opt, max }))
}

/// Whether the loaded ONNX Runtime library has `p` at all (the CPU build has neither GPU
/// provider): a cheap question, asked before any background load.
fn provider_in_library(p: Provider) -> Result<(), String> {
    use ort::ep::ExecutionProvider as _;
    let (have, name) = match p {
        Provider::TensorRt => (ep::TensorRT::is_available(), "TensorRT"),
        Provider::Cuda => (ep::CUDA::is_available(), "CUDA"),
        Provider::Cpu => return Ok(()),
    };
    match have {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "this ONNX Runtime library has no {name} execution provider (the CPU build; README, \"GPU\", says how to install the GPU build)"
        )),
        Err(e) => Err(format!("cannot ask ONNX Runtime for its providers: {e}")),
    }
}

/// A session and the provider it runs on.
pub struct Opened {
    pub session: Session,
    pub provider: Provider,
    /// Providers tried before this one in the background and why each failed.
    pub failures: Vec<String>,
}

/// What an element says about its model's provider: at start, and when a background load has
/// finished (the switch to it, or why the CPU stays).
#[derive(Debug, Clone)]
pub struct ProviderReport {
    pub path: PathBuf,
    /// The provider in use.
    pub provider: Provider,
    /// Providers that failed, each "nick unavailable: reason".
    pub failed: Vec<String>,
    /// Providers still being loaded in the background (at start under `auto`).
    pub loading: Vec<Provider>,
    /// How long the background load took (None at start).
    pub seconds: Option<f64>,
    /// The policy asked for.
    pub requested: ExecutionProvider,
}

impl ProviderReport {
    /// The element message `talkingface-execution-provider`.
    pub fn message(&self, element: &gst::Element) -> gst::Message {
        let loading: Vec<&str> = self.loading.iter().map(|p| p.nick()).collect();
        let s = gst::Structure::builder("talkingface-execution-provider")
            .field("provider", self.provider.nick())
            .field("model", self.path.to_string_lossy().to_string())
            .field("failed", self.failed.join("; "))
            .field("loading", loading.join(", "))
            .field("load-seconds", self.seconds.unwrap_or(0.0))
            .build();
        gst::message::Element::builder(s).src(element).build()
    }

    /// Logs the failures (INFO under `auto`, WARNING when a provider was named), the background
    /// load that began and the switch.
    pub fn log(&self, element: &gst::Element, cat: gst::DebugCategory) {
        for f in &self.failed {
            if self.requested == ExecutionProvider::Auto {
                gst::info!(cat, obj = element, "{}", f);
            } else {
                gst::warning!(cat, obj = element, "{}", f);
            }
        }
        if !self.loading.is_empty() {
            let l: Vec<&str> = self.loading.iter().map(|p| p.nick()).collect();
            gst::info!(
                cat,
                obj = element,
                "model {} runs on {} while {} loads in the background",
                self.path.display(),
                self.provider.nick(),
                l.join(", then ")
            );
        }
        if let Some(s) = self.seconds {
            gst::info!(
                cat,
                obj = element,
                "model {}: background load finished after {:.2} s; running on {}",
                self.path.display(),
                s,
                self.provider.nick()
            );
        }
    }
}

/// An element's model: opened on the CPU at once, its GPU session (if the policy asks for one)
/// built in the background ([`ModelHandle::start_gpu`]). Gives the metadata and signatures like
/// [`Model`], the session to run on ([`ModelHandle::session`]) and [`ProviderReport`]s for the
/// element to post ([`ModelHandle::take_reports`]).
pub struct ModelHandle {
    pub path: PathBuf,
    /// `talkingface.*` metadata, keys without the prefix.
    pub meta: BTreeMap<String, String>,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    opts: SessionOptions,
    staged: Staged<Opened>,
    gate: LoadGate,
    /// Providers found missing from the library at start.
    failures: Vec<String>,
    reports: Vec<ProviderReport>,
}

impl ModelHandle {
    /// Opens `path` on the CPU (synchronously) and reads its metadata and signatures. Nothing is
    /// loaded in the background until [`ModelHandle::start_gpu`]. `gate` lets the element stop a
    /// streaming thread that waits for a background load.
    pub fn open(path: &Path, opts: &SessionOptions, gate: LoadGate) -> Result<Self, String> {
        let env = precheck(path)?;
        let session = open_with(env, path, Provider::Cpu, opts, None).map_err(|e| {
            format!(
                "model file {} cannot be loaded by ONNX Runtime: {e}",
                path.display()
            )
        })?;
        let (meta, inputs, outputs) = read_info(&session, path)?;
        Ok(ModelHandle {
            path: path.to_path_buf(),
            meta,
            inputs,
            outputs,
            opts: opts.clone(),
            staged: Staged::ready(Opened {
                session,
                provider: Provider::Cpu,
                failures: Vec::new(),
            }),
            gate,
            failures: Vec::new(),
            reports: Vec::new(),
        })
    }

    /// After the element's contract checks: starts building the session of the provider policy
    /// in the background (TensorRT with the profile of `bounds`, see [`trt_profile`]; then CUDA).
    /// Providers the library lacks are not tried (under `auto` the CPU session stays, and no
    /// thread is started; a strict provider the library lacks is an error, here). Under `auto`
    /// the CPU session serves meanwhile; under a strict provider it is dropped and the first
    /// [`ModelHandle::session`] waits.
    pub fn start_gpu(&mut self, bounds: &[DimBounds]) -> Result<(), String> {
        let mut avail = Vec::new();
        self.failures.clear();
        for &p in self.opts.provider.chain() {
            if p == Provider::Cpu {
                continue;
            }
            match provider_in_library(p) {
                Ok(()) => avail.push(p),
                Err(e) => self.failures.push(format!("{} unavailable: {e}", p.nick())),
            }
        }
        let strict = self.opts.provider != ExecutionProvider::Auto
            && self.opts.provider != ExecutionProvider::Cpu;
        if avail.is_empty() {
            if strict {
                return Err(format!(
                    "cannot open model {} on the requested execution provider: {}",
                    self.path.display(),
                    self.failures.join("; ")
                ));
            }
            self.reports
                .push(self.report(Provider::Cpu, Vec::new(), None));
            return Ok(());
        }
        let profile = if avail.contains(&Provider::TensorRt) {
            trt_profile(&self.inputs, bounds)?
        } else {
            None
        };
        let (path, opts, chain) = (self.path.clone(), self.opts.clone(), avail.clone());
        self.load_in_background(avail, move || {
            let env = environment()?;
            let mut failures = Vec::new();
            for p in chain {
                match open_with(env, &path, p, &opts, profile.as_ref()) {
                    Ok(session) => {
                        return Ok(Opened {
                            session,
                            provider: p,
                            failures,
                        })
                    }
                    Err(e) => failures.push(format!("{} unavailable: {e}", p.nick())),
                }
            }
            Err(failures.join("; "))
        });
        Ok(())
    }

    /// Starts `load` in the background (the providers it tries: `loading`): under `auto` the
    /// CPU session serves meanwhile, under a strict provider nothing does.
    pub fn load_in_background<F>(&mut self, loading: Vec<Provider>, load: F)
    where
        F: FnOnce() -> Result<Opened, String> + Send + 'static,
    {
        let cpu = self.staged.take_serving();
        let auto = self.opts.provider == ExecutionProvider::Auto;
        let fallback = if auto { cpu } else { None };
        self.staged = Staged::spawn(fallback, "talkingface-model-load", load);
        if auto {
            self.reports.push(self.report(Provider::Cpu, loading, None));
        }
    }

    fn report(
        &self,
        provider: Provider,
        loading: Vec<Provider>,
        seconds: Option<f64>,
    ) -> ProviderReport {
        ProviderReport {
            path: self.path.clone(),
            provider,
            failed: self.failures.clone(),
            loading,
            seconds,
            requested: self.opts.provider,
        }
    }

    /// The session to run on: the CPU one until a background load has finished (under `auto`),
    /// the loaded one from then on; under a strict provider the first call waits for the load.
    /// A finished load leaves a [`ProviderReport`]. The error names the cause (or says the wait
    /// was given up: the gate is flushing).
    pub fn session(&mut self) -> Result<&mut Session, String> {
        let ModelHandle {
            staged,
            gate,
            reports,
            failures,
            path,
            opts,
            ..
        } = self;
        let got = staged.get(gate).map(|(_, outcome)| outcome);
        let seconds = staged.load_time().map(|d| d.as_secs_f64());
        let report = |provider, failed: Vec<String>| ProviderReport {
            path: path.clone(),
            provider,
            failed,
            loading: Vec::new(),
            seconds,
            requested: opts.provider,
        };
        match got {
            Ok(outcome) => {
                let opened = staged
                    .current_mut()
                    .ok_or_else(|| format!("model {} has no session", path.display()))?;
                match outcome {
                    Some(Outcome::Switched) => {
                        let mut failed = failures.clone();
                        failed.extend(opened.failures.iter().cloned());
                        reports.push(report(opened.provider, failed));
                    }
                    Some(Outcome::Failed(e)) => {
                        let mut failed = failures.clone();
                        failed.push(e);
                        reports.push(report(opened.provider, failed));
                    }
                    None => {}
                }
                Ok(&mut opened.session)
            }
            Err(Unavailable::Flushing) => Err(format!(
                "stopped while model {} was loading",
                path.display()
            )),
            Err(Unavailable::Failed(e)) => {
                let mut failed = failures.clone();
                failed.push(e);
                Err(format!(
                    "cannot open model {} on the requested execution provider: {}",
                    path.display(),
                    failed.join("; ")
                ))
            }
        }
    }

    /// Where a strict provider's load is pending: something to wait for it with no lock held
    /// (see [`Waiter::wait`]; the gate is this handle's).
    pub fn waiter(&self) -> Option<(Waiter<Opened>, LoadGate)> {
        self.staged.waiter().map(|w| (w, self.gate.clone()))
    }

    /// The reports left since the last call (to log and post with no lock held).
    pub fn take_reports(&mut self) -> Vec<ProviderReport> {
        std::mem::take(&mut self.reports)
    }

    /// The provider of the session serving now (None while a strict load is pending).
    pub fn provider(&self) -> Option<Provider> {
        self.staged.current().map(|o| o.provider)
    }

    /// Whether a background load has not been taken yet.
    pub fn is_loading(&self) -> bool {
        self.staged.is_loading()
    }

    /// Changes each time another session takes over (see [`Staged::generation`]).
    pub fn generation(&self) -> u64 {
        self.staged.generation()
    }

    /// The gate the element flushes to stop a waiting streaming thread.
    pub fn gate(&self) -> &LoadGate {
        &self.gate
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
}

/// [`ModelHandle::open`] for an element: the error as a GStreamer error message that names the
/// element and the cause (NOT_FOUND for a missing file).
pub fn open_handle(
    element: &gst::Element,
    path: &Path,
    opts: &SessionOptions,
    gate: LoadGate,
) -> Result<ModelHandle, gst::ErrorMessage> {
    ModelHandle::open(path, opts, gate).map_err(|e| {
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
    })
}

/// Logs `reports` and posts their messages; returns the provider of the last (for the element's
/// read-only `provider` property). Call with no lock held (a synchronous bus handler may read
/// the element's properties).
pub fn post_reports(
    element: &gst::Element,
    cat: gst::DebugCategory,
    reports: Vec<ProviderReport>,
) -> Option<Provider> {
    let mut last = None;
    for r in reports {
        r.log(element, cat);
        let _ = element.post_message(r.message(element));
        last = Some(r.provider);
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    /// Counts its drops (a loaded value that must not leak).
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn slow<T: Send + 'static>(
        ms: u64,
        r: Result<T, String>,
    ) -> impl FnOnce() -> Result<T, String> + Send + 'static {
        move || {
            std::thread::sleep(Duration::from_millis(ms));
            r
        }
    }

    #[test]
    fn fallback_serves_at_once_and_the_switch_comes_when_the_load_finishes() {
        let gate = LoadGate::default();
        let t0 = Instant::now();
        let mut s = Staged::spawn(Some("cpu"), "test-load", slow(400, Ok("gpu")));
        let (v, o) = s.get(&gate).unwrap();
        assert_eq!((*v, o), ("cpu", None));
        assert!(
            t0.elapsed() < Duration::from_millis(200),
            "{:?}",
            t0.elapsed()
        );
        assert_eq!(s.generation(), 0);
        assert!(s.is_loading());
        let mut served = Vec::new();
        let switched_at = loop {
            let (v, o) = s.get(&gate).unwrap();
            served.push(*v);
            if o == Some(Outcome::Switched) {
                break t0.elapsed();
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "no switch");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(switched_at >= Duration::from_millis(400), "{switched_at:?}");
        let took = s.load_time().unwrap();
        assert!(
            took >= Duration::from_millis(400) && took <= switched_at,
            "{took:?}"
        );
        assert_eq!(served.last(), Some(&"gpu"));
        assert!(served[..served.len() - 1].iter().all(|v| *v == "cpu"));
        assert_eq!(s.generation(), 1);
        assert!(!s.is_loading());
        assert_eq!(s.get(&gate).unwrap(), (&mut "gpu", None));
    }

    #[test]
    fn a_failed_load_leaves_the_fallback_and_says_why() {
        let gate = LoadGate::default();
        let mut s = Staged::spawn(
            Some("cpu"),
            "test-load",
            slow(50, Err::<&str, _>("no GPU".into())),
        );
        let outcome = loop {
            if let (_, Some(o)) = s.get(&gate).unwrap() {
                break o;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(outcome, Outcome::Failed("no GPU".into()));
        assert_eq!(s.get(&gate).unwrap(), (&mut "cpu", None));
        assert_eq!(s.generation(), 0);
    }

    #[test]
    fn without_a_fallback_the_first_get_waits_and_a_failure_is_kept() {
        let gate = LoadGate::default();
        let t0 = Instant::now();
        let mut s = Staged::spawn(None, "test-load", slow(200, Ok("gpu")));
        assert_eq!(s.get(&gate).unwrap(), (&mut "gpu", Some(Outcome::Switched)));
        assert!(t0.elapsed() >= Duration::from_millis(200));
        let mut f = Staged::spawn(
            None,
            "test-load",
            slow(50, Err::<&str, _>("engine build failed".into())),
        );
        for _ in 0..2 {
            assert_eq!(
                f.get(&gate).unwrap_err(),
                Unavailable::Failed("engine build failed".into())
            );
        }
    }

    #[test]
    fn a_flushing_gate_ends_the_wait_at_once() {
        let gate = LoadGate::default();
        let mut s = Staged::spawn(None, "test-load", slow(10_000, Ok("gpu")));
        let g = gate.clone();
        let flusher = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            g.set_flushing(true);
        });
        let t0 = Instant::now();
        assert_eq!(s.get(&gate).unwrap_err(), Unavailable::Flushing);
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        flusher.join().unwrap();
        // Flushing ended: the wait resumes (and is given up again here, so the test is short).
        gate.set_flushing(false);
        assert!(s.is_loading());
        let t0 = Instant::now();
        drop(s);
        assert!(t0.elapsed() < Duration::from_millis(50));
    }

    #[test]
    fn dropping_during_a_load_returns_at_once_and_the_result_is_released() {
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let fallback = Counted(drops.clone());
        let s = Staged::spawn(Some(fallback), "test-load", move || {
            std::thread::sleep(Duration::from_millis(300));
            Ok(Counted(d))
        });
        let t0 = Instant::now();
        drop(s);
        assert!(
            t0.elapsed() < Duration::from_millis(50),
            "{:?}",
            t0.elapsed()
        );
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the fallback is dropped at once"
        );
        let t0 = Instant::now();
        while drops.load(Ordering::SeqCst) < 2 && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            drops.load(Ordering::SeqCst),
            2,
            "the loaded value is dropped by its thread"
        );
        // Nothing else holds the counter: the thread and its closure are gone.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(Arc::strong_count(&drops), 1);
    }

    #[test]
    fn a_panicking_loader_is_a_failed_load() {
        let gate = LoadGate::default();
        let mut s: Staged<&str> = Staged::spawn(None, "test-load", || panic!("boom"));
        match s.get(&gate) {
            Err(Unavailable::Failed(e)) => assert!(e.contains("panicked: boom"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    fn spec(name: &str, shape: &[i64]) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            shape: Some(shape.to_vec()),
        }
    }

    #[test]
    fn trt_profile_strings() {
        let inputs = [
            spec("features", &[-1, -1, 120]),
            spec("state_in.h", &[2, -1, 128]),
            spec("static", &[1, 4]),
            TensorSpec {
                name: "ids".into(),
                shape: None,
            },
        ];
        let bounds = [DimBounds {
            input: "features".into(),
            axis: 1,
            min: 1,
            opt: 4,
            max: 100,
        }];
        let p = trt_profile(&inputs, &bounds).unwrap().unwrap();
        assert_eq!(p.min, "features:1x1x120,state_in.h:2x1x128");
        assert_eq!(p.opt, "features:1x4x120,state_in.h:2x1x128");
        assert_eq!(p.max, "features:1x100x120,state_in.h:2x1x128");
        // Batch only: pinned to 1.
        let p = trt_profile(&[spec("image", &[-1, 3, 192, 192])], &[])
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.min.as_str(), p.opt.as_str(), p.max.as_str()),
            (
                "image:1x3x192x192",
                "image:1x3x192x192",
                "image:1x3x192x192"
            )
        );
        assert_eq!(
            trt_profile(&[spec("image", &[1, 3, 8, 8])], &[]).unwrap(),
            None
        );
        let bad = DimBounds {
            max: 2,
            ..bounds[0].clone()
        };
        assert!(trt_profile(&inputs, &[bad]).is_err());
        assert!(trt_profile(&[spec("a:b", &[-1])], &[]).is_err());
    }
}
