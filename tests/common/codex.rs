//! Drives the real Codex CLI in tests: `$CODEX_BIN`, which `scripts/test.sh` sets to each
//! pinned release in turn (see `scripts/install-deps.sh`).
//!
//! ```ignore
//! let bridge = BridgeGuard::start(&mock.base_url());
//! let home = CodexHome::new(&bridge.base_url());
//! let work = tempfile::tempdir().unwrap();
//! let run = run_codex(&home, work.path(), "create a.txt", Duration::from_secs(60));
//! run.assert_success();
//! assert_eq!(run.final_message.as_deref(), Some("done"));
//! ```
//!
//! Codex runs as `codex --profile clawrouter exec --json --skip-git-repo-check
//! --dangerously-bypass-approvals-and-sandbox -C <workdir> <prompt>` with a
//! cleared environment: `CODEX_HOME` = the temp home, `HOME` = an empty temp
//! dir, no `OPENAI_API_KEY`, and every proxy variable pointing at a dead
//! loopback port (`NO_PROXY=127.0.0.1,localhost`), so that nothing but the
//! loopback bridge is reachable even if Codex fell back to its built-in
//! OpenAI provider (it does when the profile file is missing — silently).
//! The bypass flag matters: it runs shell commands unsandboxed (as the test
//! user, root on CI machines without a sandbox) and never asks for approval.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The profile name (`$CODEX_HOME/clawrouter.config.toml`).
pub const PROFILE: &str = "clawrouter";
/// The model slug our setup writes.
pub const MODEL: &str = "blockrun/auto";

/// The Codex CLI: `$CODEX_BIN`, else `<repo>/.tools/codex/node_modules/.bin/codex`.
pub fn codex_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CODEX_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/codex/node_modules/.bin/codex");
    if !p.exists() {
        panic!(
            "Codex CLI not installed: run scripts/test.sh (it installs the pinned @openai/codex)"
        );
    }
    p
}

/// The catalog entry for `blockrun/auto`, built by the product's own catalog code from its
/// built-in template (what `gen-catalog` writes when `codex` is not on PATH).
pub fn default_catalog_entry() -> Value {
    use clawrouter_codex::admin::catalog::{build_entry, builtin_template, Selected};
    let selected = Selected {
        slug: MODEL.to_owned(),
        display_name: "ClawRouter auto".to_owned(),
        description: "ClawRouter picks the model for each request".to_owned(),
        context_window: 128_000,
        image_input: true,
    };
    build_entry(&builtin_template(), &selected, 1)
}

/// What goes into the temp `CODEX_HOME`. `Default` is what `CodexHome::new` uses.
#[derive(Clone, Debug)]
pub struct CodexOptions {
    /// Provider `request_max_retries` (transport layer; Codex default 4).
    pub request_max_retries: u32,
    /// Provider `stream_max_retries` (turn layer; Codex default 5).
    pub stream_max_retries: u32,
    /// Provider `stream_idle_timeout_ms` (Codex default 300000), if set.
    pub stream_idle_timeout_ms: Option<u64>,
    /// The catalog's model entries (default: [`default_catalog_entry`]).
    pub catalog_models: Vec<Value>,
    /// Appended verbatim to `clawrouter.config.toml` (top-level keys must come
    /// before any table, so prefer tables here, e.g. `[mcp_servers.x]`).
    pub extra_profile_toml: String,
    /// Appended verbatim to the base `config.toml`.
    pub extra_config_toml: String,
    /// The provider's `supports_websockets`: Codex talks to the bridge over a WebSocket.
    /// Default: `CODEX_E2E_TRANSPORT=websocket` in the environment (scripts/test.sh runs the
    /// e2e suite once per transport).
    pub websocket: bool,
}

/// The transport the e2e tests use unless a test says otherwise.
pub fn websocket_by_default() -> bool {
    std::env::var("CODEX_E2E_TRANSPORT").is_ok_and(|t| t.eq_ignore_ascii_case("websocket"))
}

impl Default for CodexOptions {
    fn default() -> Self {
        CodexOptions {
            request_max_retries: 1,
            stream_max_retries: 1,
            stream_idle_timeout_ms: None,
            catalog_models: vec![default_catalog_entry()],
            extra_profile_toml: String::new(),
            extra_config_toml: String::new(),
            websocket: websocket_by_default(),
        }
    }
}

/// A temporary `CODEX_HOME` set up like our `setup` command leaves it, plus an
/// empty temporary `HOME`. Deleted on drop.
pub struct CodexHome {
    dir: tempfile::TempDir,
    bridge_base_url: String,
    options: CodexOptions,
}

impl CodexHome {
    /// `bridge_base_url` is the provider `base_url`, e.g. `http://127.0.0.1:PORT/v1`.
    pub fn new(bridge_base_url: &str) -> Self {
        Self::with_options(bridge_base_url, CodexOptions::default())
    }

    pub fn with_options(bridge_base_url: &str, options: CodexOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("codex-test-")
            .tempdir()
            .expect("temp dir");
        let home = CodexHome {
            dir,
            bridge_base_url: bridge_base_url.to_string(),
            options,
        };
        std::fs::create_dir_all(home.path()).expect("create CODEX_HOME");
        std::fs::create_dir_all(home.home_dir()).expect("create HOME");
        home.write_files();
        home
    }

    /// `$CODEX_HOME`.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("codex-home")
    }

    /// The clean `$HOME` Codex runs with.
    pub fn home_dir(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join("config.toml")
    }

    pub fn profile_path(&self) -> PathBuf {
        self.path().join(format!("{PROFILE}.config.toml"))
    }

    pub fn catalog_path(&self) -> PathBuf {
        self.path().join("clawrouter-catalog.json")
    }

    pub fn bridge_base_url(&self) -> &str {
        &self.bridge_base_url
    }

    pub fn options(&self) -> &CodexOptions {
        &self.options
    }

    /// Change the options and rewrite the files.
    pub fn update(&mut self, f: impl FnOnce(&mut CodexOptions)) {
        f(&mut self.options);
        self.write_files();
    }

    /// The text of `clawrouter.config.toml`.
    pub fn profile_toml(&self) -> String {
        let o = &self.options;
        let mut t = format!(
            "model = {model}\n\
             model_provider = \"clawrouter\"\n\
             model_catalog_json = {catalog}\n\
             \n\
             [model_providers.clawrouter]\n\
             name = \"ClawRouter\"\n\
             base_url = {url}\n\
             wire_api = \"responses\"\n\
             requires_openai_auth = false\n\
             supports_websockets = {ws}\n\
             request_max_retries = {req}\n\
             stream_max_retries = {stream}\n",
            ws = o.websocket,
            model = toml_str(MODEL),
            catalog = toml_str(&self.catalog_path().to_string_lossy()),
            url = toml_str(&self.bridge_base_url),
            req = o.request_max_retries,
            stream = o.stream_max_retries,
        );
        if let Some(ms) = o.stream_idle_timeout_ms {
            t.push_str(&format!("stream_idle_timeout_ms = {ms}\n"));
        }
        if !o.extra_profile_toml.is_empty() {
            t.push('\n');
            t.push_str(&o.extra_profile_toml);
            t.push('\n');
        }
        t
    }

    fn write_files(&self) {
        let mut config = String::from(
            "# Base config: nothing ClawRouter-specific (that lives in the profile).\n\
             check_for_update_on_startup = false\n\
             \n\
             [analytics]\n\
             enabled = false\n",
        );
        if !self.options.extra_config_toml.is_empty() {
            config.push('\n');
            config.push_str(&self.options.extra_config_toml);
            config.push('\n');
        }
        std::fs::write(self.config_path(), config).expect("write config.toml");
        std::fs::write(self.profile_path(), self.profile_toml()).expect("write profile");
        let catalog = json!({ "models": self.options.catalog_models });
        std::fs::write(
            self.catalog_path(),
            serde_json::to_string_pretty(&catalog).expect("catalog JSON"),
        )
        .expect("write catalog");
    }
}

/// A TOML basic string (JSON string escapes are valid TOML).
fn toml_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// Extra knobs for [`run_codex_with`].
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// `-i` images attached to the prompt.
    pub images: Vec<PathBuf>,
    /// More arguments for `codex exec`, placed before `-C` (e.g. `-c k=v`).
    pub extra_args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Over the WebSocket transport, HTTP turns are expected (the fallback test).
    pub allow_http: bool,
}

/// The outcome of one `codex exec --json` run.
#[derive(Clone, Debug)]
pub struct CodexRun {
    /// `None` when killed (timeout or signal).
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    /// Every stdout line that parsed as JSON (`thread.started`, `item.completed`, …).
    pub events: Vec<Value>,
    /// The text of the last `agent_message` item, if any.
    pub final_message: Option<String>,
    pub elapsed: Duration,
}

impl CodexRun {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }

    /// Events of one `type`.
    pub fn events_of(&self, ty: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["type"] == ty).collect()
    }

    /// Completed items of one item type (`agent_message`, `command_execution`,
    /// `file_change`, `mcp_tool_call`, `reasoning`, `error`, …).
    pub fn items(&self, item_type: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == item_type)
            .map(|e| &e["item"])
            .collect()
    }

    pub fn agent_messages(&self) -> Vec<String> {
        self.items("agent_message")
            .iter()
            .filter_map(|i| i["text"].as_str().map(str::to_string))
            .collect()
    }

    /// Messages of `error` events, `turn.failed` errors and `error` items.
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e["type"].as_str() {
                Some("error") => e["message"].as_str(),
                Some("turn.failed") => e["error"]["message"].as_str(),
                Some("item.completed") if e["item"]["type"] == "error" => {
                    e["item"]["message"].as_str()
                }
                _ => None,
            })
            .map(str::to_string)
            .collect()
    }

    /// The `turn.completed` usage, if the turn completed.
    pub fn usage(&self) -> Option<&Value> {
        self.events_of("turn.completed").last().map(|e| &e["usage"])
    }

    /// Everything useful for a failure message.
    pub fn describe(&self) -> String {
        format!(
            "codex exit={:?} timed_out={} elapsed={:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.exit_code, self.timed_out, self.elapsed, self.stdout, self.stderr
        )
    }

    pub fn assert_success(&self) {
        assert!(self.success(), "codex failed\n{}", self.describe());
    }
}

impl CodexHome {
    /// Runs `clawrouter-codex websearch on` for this home, as a user would.
    pub fn websearch_on(&self) {
        let toggled = std::process::Command::new(env!("CARGO_BIN_EXE_clawrouter-codex"))
            .args(["websearch", "on"])
            .env("CODEX_HOME", self.path())
            .env("HOME", self.home_dir())
            .env_remove("WEB_SEARCH")
            .current_dir(self.home_dir())
            .output()
            .expect("run websearch on");
        assert!(toggled.status.success(), "{toggled:?}");
    }
}

/// `codex --profile clawrouter exec --json … -C workdir prompt`, killed after `timeout`.
pub fn run_codex(home: &CodexHome, workdir: &Path, prompt: &str, timeout: Duration) -> CodexRun {
    run_codex_with(home, workdir, prompt, timeout, &RunOptions::default())
}

pub fn run_codex_with(
    home: &CodexHome,
    workdir: &Path,
    prompt: &str,
    timeout: Duration,
    opts: &RunOptions,
) -> CodexRun {
    let mut cmd = Command::new(codex_bin());
    cmd.arg("--profile").arg(PROFILE).arg("exec");
    // `-i` takes several values: keep it away from the positional prompt.
    for img in &opts.images {
        cmd.arg("-i").arg(img);
    }
    cmd.args([
        "--json",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
    ]);
    cmd.args(&opts.extra_args);
    cmd.arg("-C").arg(workdir).arg(prompt);

    cmd.env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .env("HOME", home.home_dir())
        .env("CODEX_HOME", home.path())
        .env("TERM", "xterm")
        .env("LANG", "C.UTF-8")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env(var, "http://127.0.0.1:9");
    }
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    cmd.current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Own process group, so a timeout kills Codex and whatever it spawned.
        cmd.process_group(0);
    }

    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", codex_bin().display()));
    let pid = child.id();
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());

    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => {
                timed_out = true;
                kill_group(pid);
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(25)),
            Err(_) => break None,
        }
    };
    let elapsed = start.elapsed();
    // Something Codex started may still hold the pipes open. While it lives,
    // the process group (id = Codex's pid) cannot be recycled, so killing the
    // group then reaches only our own leftovers.
    let collect = |rx: mpsc::Receiver<String>| {
        rx.recv_timeout(Duration::from_secs(2)).unwrap_or_else(|_| {
            kill_group(pid);
            rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default()
        })
    };
    let stdout = collect(out);
    let stderr = collect(err);
    let events: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .filter(Value::is_object)
        .collect();
    let final_message = events
        .iter()
        .rev()
        .find(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message")
        .and_then(|e| e["item"]["text"].as_str())
        .map(str::to_string);
    if home.options.websocket && !opts.allow_http {
        assert_no_http_turns(home);
    }
    CodexRun {
        exit_code: status.and_then(|s| s.code()),
        timed_out,
        stdout,
        stderr,
        events,
        final_message,
        elapsed,
    }
}

/// Over the WebSocket transport, Codex must not have fallen back to HTTP: the bridge counted
/// no `POST /v1/responses` (its `/metrics`; skipped when the base URL is not a bridge).
fn assert_no_http_turns(home: &CodexHome) {
    let Some(root) = home.bridge_base_url().strip_suffix("/v1") else {
        return;
    };
    let Ok(answer) = ureq::get(&format!("{root}/metrics")).call() else {
        return;
    };
    let text = answer.into_string().unwrap_or_default();
    let http_turns: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with("clawrouter_codex_requests_total{") && l.contains("route=\"responses\"")
        })
        .collect();
    assert!(
        http_turns.is_empty(),
        "Codex fell back to HTTP although the provider has supports_websockets = true: {http_turns:?}"
    );
}

/// Reads a pipe to its end on a thread; the text arrives on the channel.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// SIGKILL the process group led by `pid` (the Codex child we started).
fn kill_group(pid: u32) {
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
