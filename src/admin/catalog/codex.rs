//! Running the installed Codex CLI (`CODEX_BIN`, else `codex` from `PATH`) with a throw-away
//! `CODEX_HOME` and a time-out: its version, its bundled catalog (the template of our entries),
//! and the check that it loads the finished catalog file.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{pick_template, snippet};

/// Timeout for one run of the Codex CLI.
const CODEX_TIMEOUT: Duration = Duration::from_secs(30);

/// The Codex CLI to run: `CODEX_BIN`, else `codex` from `PATH`.
pub(crate) fn codex_program() -> PathBuf {
    std::env::var_os("CODEX_BIN")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(if cfg!(windows) { "codex.cmd" } else { "codex" }))
}

/// `codex --version` → `0.169.0` (the last word of its first line).
pub(crate) fn codex_version(codex: &Path) -> Result<String, String> {
    let out = run_codex(codex, &["--version"], None, Duration::from_secs(15))?;
    if !out.success {
        return Err(format!(
            "`{} --version` failed{}",
            codex.display(),
            snippet(&out.stderr)
        ));
    }
    out.stdout
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().last())
        .map(str::to_owned)
        .ok_or_else(|| format!("`{} --version` printed nothing", codex.display()))
}

/// Runs Codex's bundled-catalog dump and picks the template from it.
pub(super) fn bundled_template(codex: &Path) -> Result<Value, String> {
    let out = run_codex(
        codex,
        &["debug", "models", "--bundled"],
        None,
        CODEX_TIMEOUT,
    )?;
    if !out.success {
        return Err(format!(
            "`codex debug models --bundled` failed{}",
            snippet(&out.stderr)
        ));
    }
    let bundled: Value = serde_json::from_str(&out.stdout)
        .map_err(|e| format!("`codex debug models --bundled` did not print JSON ({e})"))?;
    pick_template(&bundled).ok_or_else(|| "Codex's bundled catalog has no usable entry".to_owned())
}

/// Asks Codex to load `catalog` (`codex -c model_catalog_json=… debug models`).
pub(super) fn verify_with_codex(codex: &Path, catalog: &Path) -> Result<(), String> {
    let value = Value::String(catalog.to_string_lossy().into_owned()).to_string();
    let arg = format!("model_catalog_json={value}");
    let out = run_codex(codex, &["-c", &arg, "debug", "models"], None, CODEX_TIMEOUT)?;
    if out.success {
        Ok(())
    } else {
        let err = out
            .stderr
            .lines()
            .filter(|l| !l.starts_with("WARNING"))
            .collect::<Vec<_>>()
            .join(" ");
        Err(err.chars().take(300).collect())
    }
}

struct CodexOutput {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs Codex with a throw-away `CODEX_HOME` (so nothing of the user's is read or written),
/// killed after `timeout`.
fn run_codex(
    codex: &Path,
    args: &[&str],
    codex_home: Option<&Path>,
    timeout: Duration,
) -> Result<CodexOutput, String> {
    let scratch = match codex_home {
        Some(_) => None,
        None => Some(ScratchDir::new()?),
    };
    let home = codex_home
        .map(Path::to_path_buf)
        .or_else(|| scratch.as_ref().map(|s| s.0.clone()))
        .unwrap_or_default();
    let mut child = Command::new(codex)
        .args(args)
        .env("CODEX_HOME", &home)
        // Nothing that could make Codex talk to OpenAI while it only prints its catalog.
        .env_remove("OPENAI_API_KEY")
        .env_remove("CODEX_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "Codex CLI `{}` not found (install it: npm install -g @openai/codex, or set CODEX_BIN)",
                codex.display()
            ),
            _ => format!("cannot run `{}`: {e}", codex.display()),
        })?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for `{}`: {e}", codex.display())),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Some(s) => Ok(CodexOutput {
            success: s.success(),
            stdout,
            stderr,
        }),
        None => Err(format!(
            "`{} {}` did not finish within {} s",
            codex.display(),
            args.join(" "),
            timeout.as_secs()
        )),
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// A private temporary directory, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Result<Self, String> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "clawrouter-codex-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create temp dir {}: {e}", dir.display()))?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
