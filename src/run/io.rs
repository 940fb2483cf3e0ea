//! Reading and writing run files: JSON or gzip JSON chosen by content,
//! validated before anything is handed out, written atomically.

use std::io::{Read, Write};
use std::path::Path;

use serde::Deserialize;

use super::model::{Run, FORMAT, VERSION};
use super::validate::validate;

/// A run file that could not be read: names the file and the first problem.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct RunError {
    pub file: String,
    pub problem: String,
}

impl RunError {
    pub fn new(file: &Path, problem: impl Into<String>) -> Self {
        RunError {
            file: file.display().to_string(),
            problem: problem.into(),
        }
    }
}

/// The first bytes of every gzip stream.
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// A UTF-8 byte-order mark, which some tools write before JSON.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A whole file, refused before it is read when it is larger than
/// `max_inflated()` (the limit on what any reader holds), with a message
/// naming the limit and how to raise it.
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let limit = max_inflated();
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let too_big = || {
        format!(
            "larger than {} MiB, the limit on what a file may hold (set REASONSCOPE_MAX_INFLATE_MB to raise it)",
            limit >> 20
        )
    };
    if len > limit {
        return Err(too_big());
    }
    let mut out = Vec::with_capacity(len as usize);
    // A file that grows while it is read is bounded too.
    f.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot read: {e}"))?;
    if out.len() as u64 > limit {
        return Err(too_big());
    }
    Ok(out)
}

/// Read, decompress when gzip, parse and validate a run file.
pub fn read_run(path: &Path) -> Result<Run, RunError> {
    let bytes = read_bounded(path).map_err(|e| RunError::new(path, e))?;
    parse_run_bytes(&bytes).map_err(|p| RunError::new(path, p))
}

/// Read a run for analysis only (`reasonscope analyze`, suites): the same
/// checks as `read_run`, except that the alternatives (`top_id`,
/// `top_text`, `top_logprob`) are checked for shape but not kept, since no
/// score or method reads them. They are five sixths of a run file's values:
/// with 5 alternatives per token, a file reads in about two thirds of the
/// time (inflating included) and, by the column types' sizes, a token
/// takes 44 bytes instead of 204.
/// Such a run cannot be written back (serializing it fails).
pub fn read_run_for_analysis(path: &Path) -> Result<Run, RunError> {
    super::model::with_alternatives_skipped(|| read_run(path))
}

/// The most a gzip run file may inflate to: 4 GiB by default (a run of
/// 64 paths × 32 768 tokens with 5 alternatives is about 1.3 GB of JSON),
/// `REASONSCOPE_MAX_INFLATE_MB` to change it.
pub fn max_inflated() -> u64 {
    env_mib("REASONSCOPE_MAX_INFLATE_MB", 4096)
}

/// A size limit in bytes from a variable giving MiB (`default` MiB when it
/// is unset or not a number).
pub(crate) fn env_mib(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(default)
        << 20
}

/// Parse and validate the bytes of a run file (JSON or gzip JSON).
pub fn parse_run_bytes(bytes: &[u8]) -> Result<Run, String> {
    let json = if bytes.starts_with(&GZIP_MAGIC) {
        // The gzip trailer holds the uncompressed size (mod 2^32): allocate
        // exactly once instead of growing (keeps peak memory low on big runs).
        let isize_hint = bytes
            .len()
            .checked_sub(4)
            .map(|i| {
                u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize
            })
            .filter(|&n| n <= bytes.len().saturating_mul(64))
            .unwrap_or(bytes.len() * 4);
        let limit = max_inflated();
        let mut dec = flate2::read::MultiGzDecoder::new(bytes).take(limit + 1);
        // The first bytes are checked before the rest is inflated (or room
        // reserved for it): a gzip that does not hold JSON is refused at
        // once, whatever its size or its trailer claims.
        let mut out = Vec::with_capacity(64);
        let gz_err =
            |e: std::io::Error| format!("not a valid gzip file ({e}); the file may be truncated");
        (&mut dec).take(64).read_to_end(&mut out).map_err(gz_err)?;
        let head = out.strip_prefix(BOM).unwrap_or(&out);
        match head.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => {}
            None if out.len() < 64 => {}
            _ => {
                return Err(format!(
                    "gzip, but its content is not a JSON object (it starts with {:?})",
                    String::from_utf8_lossy(&out[..out.len().min(16)])
                ))
            }
        }
        out.reserve_exact(isize_hint.min(limit as usize).saturating_sub(out.len()) + 1);
        dec.read_to_end(&mut out).map_err(gz_err)?;
        if out.len() as u64 > limit {
            return Err(format!(
                "inflates to more than {} MiB, the limit for a run file (set REASONSCOPE_MAX_INFLATE_MB to raise it)",
                limit >> 20
            ));
        }
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(bytes)
    };
    // Fast path without path tracking. A file that fails is scanned for its
    // header (so that another format or a newer version is named as such)
    // and parsed again with path tracking, only to name the field of the
    // first problem. A file that parses has its header checked from the
    // parsed fields: the same messages without a second pass over the text.
    // What the JSON becomes is bounded by the same limit (see `budget`).
    let budget = max_inflated();
    let mut run: Run = match super::budget::within(budget, || serde_json::from_slice::<Run>(&json))
    {
        Ok(run) => {
            check_format_version(
                Some(serde_json::Value::from(run.format.as_str())),
                Some(serde_json::Value::from(run.version)),
            )?;
            run
        }
        Err(_) => {
            check_header(&json)?;
            let de = &mut serde_json::Deserializer::from_slice(&json);
            match super::budget::within(budget, || serde_path_to_error::deserialize::<_, Run>(de)) {
                Ok(run) => run,
                Err(e) => {
                    let path = e.path().to_string();
                    return Err(describe_json_error(&path, &e.into_inner()));
                }
            }
        }
    };
    validate(&run)?;
    for turn in run.paths.iter_mut().flat_map(|p| p.turns.iter_mut()) {
        turn.tokens.shrink_to_fit();
    }
    Ok(run)
}

fn describe_json_error(path: &str, e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => format!(
            "the file ends too early (truncated?) at line {}, column {}",
            e.line(),
            e.column()
        ),
        Category::Syntax => format!(
            "not valid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ),
        Category::Io => format!("cannot read: {e}"),
        Category::Data if path.is_empty() || path == "." => format!("{e}"),
        Category::Data => format!("{path}: {e}"),
    }
}

/// Check `format` and `version` before parsing the rest, so that a newer
/// file is refused with the right message rather than a field error.
fn check_header(json: &[u8]) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Header {
        format: Option<serde_json::Value>,
        version: Option<serde_json::Value>,
    }
    let header: Header = match serde_json::from_slice(json) {
        Ok(h) => h,
        Err(e) => {
            let trimmed = json.iter().find(|b| !b.is_ascii_whitespace());
            if trimmed != Some(&b'{') {
                return Err("not a run file: neither gzip nor a JSON object".into());
            }
            return Err(describe_json_error("", &e));
        }
    };
    check_format_version(header.format, header.version)
}

fn check_format_version(
    format: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
) -> Result<(), String> {
    match format {
        Some(serde_json::Value::String(f)) if f == FORMAT => {}
        Some(other) => return Err(format!("format: {other}, expected \"{FORMAT}\"")),
        None => return Err(format!("format: missing, expected \"{FORMAT}\"")),
    }
    match version.as_ref().and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VERSION) => Ok(()),
        Some(v) if v > u64::from(VERSION) => Err(format!(
            "version: {v} is newer than this reader understands (version {VERSION}); update reasonscope"
        )),
        _ => Err(format!("version: {version:?}, expected {VERSION}")),
    }
}

/// Write a run atomically: gzip when the name ends in `.gz`, JSON otherwise.
pub fn write_run(run: &Run, path: &Path) -> Result<(), RunError> {
    let gz = path.extension().is_some_and(|e| e == "gz");
    let bytes = run_to_bytes(run, gz).map_err(|e| RunError::new(path, e))?;
    write_atomic(path, &bytes).map_err(|e| RunError::new(path, format!("cannot write: {e}")))
}

/// Serialize a run (compact JSON, optionally gzip-compressed).
pub fn run_to_bytes(run: &Run, gz: bool) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(run).map_err(|e| format!("cannot serialize: {e}"))?;
    if !gz {
        return Ok(json);
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    enc.write_all(&json).map_err(|e| e.to_string())?;
    enc.finish().map_err(|e| e.to_string())
}

/// Write to a temporary file in the same folder, sync, then rename over the
/// target, so that readers and crashes never see a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("folder {} does not exist", dir.display()),
        ));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// What a file opened by content holds: a run file's one run, or the runs
/// imported from another tool's output (with how the import went).
pub struct Opened {
    pub runs: Vec<super::import::Imported>,
    /// `Some` for an import.
    pub summary: Option<super::import::Summary>,
}

/// Open any file the app and the CLI accept: a run file (by its first
/// bytes), else another tool's output, detected and converted. `analysis`
/// reads run files without their alternatives (`read_run_for_analysis`).
pub fn open_any(
    path: &Path,
    opts: &super::import::Options,
    analysis: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<Opened, RunError> {
    let mut f =
        std::fs::File::open(path).map_err(|e| RunError::new(path, format!("cannot read: {e}")))?;
    let mut head = [0u8; 1024];
    let n = read_up_to(&mut f, &mut head)
        .map_err(|e| RunError::new(path, format!("cannot read: {e}")))?;
    if n == 0 || super::import::looks_like_run(&head[..n]) {
        let run = if analysis {
            read_run_for_analysis(path)?
        } else {
            read_run(path)?
        };
        return Ok(Opened {
            runs: vec![super::import::Imported {
                run,
                name: "run".into(),
            }],
            summary: None,
        });
    }
    let reader = std::io::Cursor::new(head[..n].to_vec()).chain(f);
    let mut runs = Vec::new();
    let summary =
        super::import::import(reader, opts, &mut |r| runs.push(r), progress).map_err(|e| {
            // The import names the file itself.
            RunError {
                file: path.display().to_string(),
                problem: e
                    .strip_prefix(&format!("{}: ", opts.file_name))
                    .unwrap_or(&e)
                    .to_owned(),
            }
        })?;
    Ok(Opened {
        runs,
        summary: Some(summary),
    })
}

/// Import options for a file opened without any (no prompt, tokenizer or V).
pub fn default_import_options(path: &Path) -> super::import::Options<'static> {
    super::import::Options {
        file_name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        prompt: None,
        vocab: None,
        tokenizer: None,
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
