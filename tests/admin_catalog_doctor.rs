//! `gen-catalog` and `doctor` as a user runs them: the real binary with a temp `HOME` and
//! `CODEX_HOME`, a mock ClawRouter (model list, `/health` with a wallet), the real bridge, and
//! the real pinned Codex CLI judging the generated catalog.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::bridge::{free_port, BridgeGuard};
use common::codex::codex_bin;
use common::mock_upstream::{MockUpstream, Reply};
use serde_json::{json, Value};

/// A ClawRouter-like `/v1/models` (docs/ARCHITECTURE.md, Living with ClawRouter): `provider/model` ids owned by their
/// prefix, bare aliases owned by `blockrun`, no metadata; plus a dashed spelling duplicate and
/// media models to hide.
const IDS: &[&str] = &[
    "auto",
    "eco",
    "premium",
    "free",
    "claude",
    "opus",
    "flash",
    "anthropic/claude-opus-4-7",
    "anthropic/claude-opus-4.7",
    "anthropic/claude-opus-4.6",
    "anthropic/claude-opus-4.5",
    "anthropic/claude-opus-4.1",
    "anthropic/claude-sonnet-4.6",
    "openai/gpt-5.5",
    "openai/gpt-5.4",
    "openai/gpt-5.4-mini",
    "google/gemini-3.1-pro",
    "deepseek/deepseek-v4-pro",
    "moonshot/kimi-k2.6",
    "xai/grok-4-1-fast-reasoning",
    "free/deepseek-v4-flash",
    "free/gpt-oss-120b",
    "openai/dall-e-3",
    "openai/gpt-image-1",
    "google/veo-3",
];

fn models_body() -> Value {
    json!({
        "object": "list",
        "data": IDS.iter().map(|id| json!({
            "id": id,
            "object": "model",
            "created": 1_795_527_304u64,
            "owned_by": id.split_once('/').map_or("blockrun", |(p, _)| p),
        })).collect::<Vec<_>>(),
    })
}

fn mock(balance: Option<f64>) -> MockUpstream {
    MockUpstream::builder()
        .balance_usd(balance)
        .route(|r| (r.route() == "/v1/models").then(|| Reply::json(200, models_body())))
        .start(|_| Reply::text("unused"))
}

/// A temp HOME with an empty CODEX_HOME inside.
struct Homes {
    dir: tempfile::TempDir,
}

impl Homes {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("home/.codex")).expect("codex home");
        Homes { dir }
    }
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    fn codex_home(&self) -> PathBuf {
        self.home().join(".codex")
    }
    fn catalog(&self) -> PathBuf {
        self.codex_home().join("clawrouter-catalog.json")
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs our binary with a cleared environment: `bridge_port` → PORT, `proxy_port` → PROXY_PORT,
/// `upstream` → CLAWROUTER_PROXY_URL, `codex` → CODEX_BIN.
fn ours(
    homes: &Homes,
    args: &[&str],
    bridge_port: u16,
    proxy_port: u16,
    upstream: &str,
    codex: &Path,
) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_clawrouter-codex"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", homes.home())
        .env("CODEX_HOME", homes.codex_home())
        .env("PORT", bridge_port.to_string())
        .env("PROXY_PORT", proxy_port.to_string())
        .env("CLAWROUTER_PROXY_URL", upstream)
        .env("CODEX_BIN", codex)
        .env("NO_PROXY", "127.0.0.1,localhost")
        // Not the repository: no ./conf/bridge.yaml is picked up.
        .current_dir(homes.dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run clawrouter-codex");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `codex debug models` (non-bundled) with `model_catalog_json` = `catalog` in a fresh
/// CODEX_HOME config: the catalog Codex will really use, or its load error.
fn codex_debug_models(catalog: &Path) -> Result<Value, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let codex_home = dir.path().join("codex-home");
    std::fs::create_dir_all(&codex_home).expect("codex home");
    std::fs::create_dir_all(dir.path().join("home")).expect("home");
    let path = Value::String(catalog.to_string_lossy().into_owned());
    std::fs::write(
        codex_home.join("config.toml"),
        format!("check_for_update_on_startup = false\nmodel_catalog_json = {path}\n"),
    )
    .expect("config.toml");
    let out = Command::new(codex_bin())
        .args(["debug", "models"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path().join("home"))
        .env("CODEX_HOME", &codex_home)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .stdin(Stdio::null())
        .output()
        .expect("run codex");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(format!("codex exit {:?}: {stderr}", out.status.code()));
    }
    serde_json::from_str(&stdout).map_err(|e| format!("codex printed no JSON ({e}): {stdout}"))
}

fn slugs(catalog: &Value) -> Vec<String> {
    catalog["models"]
        .as_array()
        .expect("models array")
        .iter()
        .filter_map(|m| m["slug"].as_str().map(str::to_owned))
        .collect()
}

fn assert_our_selection(catalog: &Value) {
    let s = slugs(catalog);
    assert_eq!(&s[..3], ["blockrun/auto", "eco", "premium"], "{s:?}");
    for kept in [
        "anthropic/claude-opus-4.7",
        "anthropic/claude-opus-4.6",
        "anthropic/claude-opus-4.5",
        "openai/gpt-5.5",
        "free/deepseek-v4-flash",
        "xai/grok-4-1-fast-reasoning",
    ] {
        assert!(s.iter().any(|x| x == kept), "{kept} missing: {s:?}");
    }
    for gone in [
        "auto",
        "free",
        "claude",
        "opus",
        "flash",
        "anthropic/claude-opus-4-7",
        "anthropic/claude-opus-4.1",
        "openai/dall-e-3",
        "openai/gpt-image-1",
        "google/veo-3",
    ] {
        assert!(!s.iter().any(|x| x == gone), "{gone} listed: {s:?}");
    }
    let models = catalog["models"].as_array().expect("models");
    for m in models {
        assert_eq!(m["apply_patch_tool_type"], "freeform", "{}", m["slug"]);
        assert_eq!(m["supports_search_tool"], false);
        assert_eq!(m["use_responses_lite"], false);
        assert_eq!(m["visibility"], "list");
    }
    let flash = models
        .iter()
        .find(|m| m["slug"] == "free/deepseek-v4-flash")
        .expect("flash");
    assert_eq!(flash["display_name"], "DeepSeek V4 Flash (free)");
}

#[test]
fn gen_catalog_from_the_upstream_is_accepted_by_codex() {
    let mock = mock(Some(5.0));
    let homes = Homes::new();
    // Nothing on the bridge port: the list comes straight from the upstream.
    let run = ours(
        &homes,
        &["gen-catalog"],
        free_port(),
        mock.addr().port(),
        &mock.base_url(),
        &codex_bin(),
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(run.stdout.contains("bundled catalog"), "{}", run.describe());
    assert!(run.stdout.contains(&mock.base_url()), "{}", run.describe());

    let written: Value =
        serde_json::from_slice(&std::fs::read(homes.catalog()).expect("catalog written"))
            .expect("catalog JSON");
    assert_our_selection(&written);
    // Built from Codex's own catalog: prompt fields came along.
    assert!(written["models"][0]["base_instructions"]
        .as_str()
        .is_some_and(|s| s.len() > 1000));

    let effective = codex_debug_models(&homes.catalog()).expect("Codex accepts the catalog");
    assert_eq!(slugs(&effective), slugs(&written));
    assert_our_selection(&effective);
    // No temp files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(homes.codex_home())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn gen_catalog_goes_through_the_bridge_when_it_is_up() {
    let mock = mock(Some(5.0));
    let bridge = BridgeGuard::start(&mock.base_url());
    let bridge_port: u16 = bridge
        .addr()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let homes = Homes::new();
    // The upstream URL given to the binary is dead: only the bridge can answer.
    let run = ours(
        &homes,
        &["gen-catalog"],
        bridge_port,
        free_port(),
        &format!("http://127.0.0.1:{}/v1", free_port()),
        &codex_bin(),
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(
        run.stdout.contains(&bridge.url("/v1/models")),
        "{}",
        run.describe()
    );
    let effective = codex_debug_models(&homes.catalog()).expect("Codex accepts the catalog");
    assert_our_selection(&effective);
}

#[test]
fn gen_catalog_without_codex_uses_our_entry_which_codex_accepts() {
    let mock = mock(Some(5.0));
    let homes = Homes::new();
    let run = ours(
        &homes,
        &["gen-catalog"],
        free_port(),
        mock.addr().port(),
        &mock.base_url(),
        Path::new("/nonexistent/codex"),
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(run.stdout.contains("built-in"), "{}", run.describe());
    let written: Value =
        serde_json::from_slice(&std::fs::read(homes.catalog()).expect("catalog written"))
            .expect("catalog JSON");
    assert!(written["models"][0]["base_instructions"]
        .as_str()
        .is_some_and(|s| s.contains("ClawRouter")));
    let effective = codex_debug_models(&homes.catalog()).expect("Codex accepts our entry");
    assert_our_selection(&effective);
}

#[test]
fn gen_catalog_says_what_to_do_when_nothing_runs() {
    let homes = Homes::new();
    std::fs::write(homes.catalog(), "{\"models\":[]}").expect("old catalog");
    let run = ours(
        &homes,
        &["gen-catalog"],
        free_port(),
        free_port(),
        &format!("http://127.0.0.1:{}/v1", free_port()),
        &codex_bin(),
    );
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stderr.contains("clawrouter-codex start"),
        "{}",
        run.describe()
    );
    // The old file is untouched.
    assert_eq!(
        std::fs::read_to_string(homes.catalog()).expect("old catalog"),
        "{\"models\":[]}"
    );
}

/// Writes the profile `setup` would write, pointing at `bridge_base_url`.
fn write_profile(homes: &Homes, bridge_base_url: &str) {
    let catalog = Value::String(homes.catalog().to_string_lossy().into_owned());
    std::fs::write(
        homes.codex_home().join("clawrouter.config.toml"),
        format!(
            "model = \"blockrun/auto\"\nmodel_provider = \"clawrouter\"\n\
             model_catalog_json = {catalog}\n\n[model_providers.clawrouter]\n\
             name = \"ClawRouter\"\nbase_url = \"{bridge_base_url}\"\nwire_api = \"responses\"\n"
        ),
    )
    .expect("profile");
}

fn doctor_json(run: &Run) -> Value {
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", run.describe()))
}

#[test]
fn doctor_passes_on_a_healthy_setup() {
    let mock = mock(Some(5.0));
    let bridge = BridgeGuard::start(&mock.base_url());
    let bridge_port: u16 = bridge
        .addr()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let homes = Homes::new();
    let proxy_port = mock.addr().port();
    let up = mock.base_url();
    let gen = ours(
        &homes,
        &["gen-catalog"],
        bridge_port,
        proxy_port,
        &up,
        &codex_bin(),
    );
    assert_eq!(gen.code, Some(0), "{}", gen.describe());
    write_profile(&homes, &bridge.base_url());
    let before = std::fs::read(homes.catalog()).expect("catalog");

    let run = ours(
        &homes,
        &["doctor"],
        bridge_port,
        proxy_port,
        &up,
        &codex_bin(),
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    for name in [
        "bridge",
        "proxy",
        "wallet",
        "catalog",
        "profile",
        "desktop",
        "web search",
        "websocket",
        "legacy profile",
        "codex",
    ] {
        assert!(
            run.stdout.contains(&format!("✅ {name} — ")),
            "{name}: {}",
            run.describe()
        );
    }
    assert!(run.stdout.contains("$5.00"), "{}", run.describe());
    assert!(
        run.stdout.contains(&format!(
            "dashboard: http://127.0.0.1:{bridge_port}/dashboard"
        )),
        "{}",
        run.describe()
    );
    let installed = std::process::Command::new(codex_bin())
        .arg("--version")
        .output()
        .expect("codex --version");
    let version = String::from_utf8_lossy(&installed.stdout)
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_owned();
    assert!(!version.is_empty());
    assert!(
        run.stdout.contains(&version),
        "{version}: {}",
        run.describe()
    );
    assert!(!run.stdout.contains('❌'), "{}", run.describe());

    let json_run = ours(
        &homes,
        &["doctor", "--json"],
        bridge_port,
        proxy_port,
        &up,
        &codex_bin(),
    );
    assert_eq!(json_run.code, Some(0), "{}", json_run.describe());
    let v = doctor_json(&json_run);
    assert_eq!(v["ok"], true);
    assert!(v.get("error").is_none(), "{v}");
    assert_eq!(v["data"]["checks"].as_array().map(Vec::len), Some(11));
    // Read-only: the catalog is unchanged, nothing new in CODEX_HOME.
    assert_eq!(std::fs::read(homes.catalog()).expect("catalog"), before);
    let mut names: Vec<String> = std::fs::read_dir(homes.codex_home())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["clawrouter-catalog.json", "clawrouter.config.toml"]);
}

#[test]
fn doctor_fails_on_a_broken_setup() {
    let homes = Homes::new();
    std::fs::write(
        homes.codex_home().join("config.toml"),
        "model = \"gpt-5.5\"\n\n[profiles.clawrouter]\nmodel = \"blockrun/auto\"\n",
    )
    .expect("config.toml");
    let dead = free_port();
    let up = format!("http://127.0.0.1:{dead}/v1");
    let missing = Path::new("/nonexistent/codex");
    let run = ours(&homes, &["doctor"], free_port(), dead, &up, missing);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    for name in [
        "bridge",
        "proxy",
        "wallet",
        "catalog",
        "profile",
        "legacy profile",
        "codex",
    ] {
        assert!(
            run.stdout.contains(&format!("❌ {name} — ")),
            "{name}: {}",
            run.describe()
        );
    }
    assert!(run.stdout.contains("   fix: "), "{}", run.describe());
    assert!(run.stdout.contains("npm install -g @openai/codex"));
    assert!(
        run.stdout.contains("✅ desktop — off"),
        "{}",
        run.describe()
    );

    let json_run = ours(
        &homes,
        &["doctor", "--json"],
        free_port(),
        dead,
        &up,
        missing,
    );
    assert_eq!(json_run.code, Some(1), "{}", json_run.describe());
    let v = doctor_json(&json_run);
    assert_eq!(v["ok"], false);
    assert!(v.get("data").is_none(), "{v}");
    assert_eq!(v["error"]["code"], "checks_failed");
    let message = v["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("7 of 11 checks failed: bridge, proxy, wallet"),
        "{message}"
    );
    for c in v["error"]["checks"].as_array().expect("checks") {
        assert!(c["name"].is_string() && c["detail"].is_string());
        assert_eq!(c["fix"].is_string(), c["ok"] == false, "{c}");
    }
}

#[test]
fn doctor_lists_every_profile_and_desktop_problem() {
    let homes = Homes::new();
    let bridge_port = free_port();
    let dead = free_port();
    let up = format!("http://127.0.0.1:{dead}/v1");
    std::fs::write(
        homes.catalog(),
        "{\"models\":[{\"slug\":\"blockrun/auto\"}]}",
    )
    .expect("catalog");
    // Two problems in the profile: a wire_api Codex cannot use, and a catalog that is not ours.
    let other = homes.codex_home().join("old-catalog.json");
    std::fs::write(&other, "{\"models\":[]}").expect("other catalog");
    std::fs::write(
        homes.codex_home().join("clawrouter.config.toml"),
        format!(
            "model = \"blockrun/auto\"\nmodel_provider = \"clawrouter\"\n\
             model_catalog_json = {:?}\n\n[model_providers.clawrouter]\n\
             base_url = \"http://127.0.0.1:{bridge_port}/v1\"\nwire_api = \"chat\"\n",
            other.to_string_lossy()
        ),
    )
    .expect("profile");
    // Desktop mode on, without requires_openai_auth: Codex Desktop would hide our models.
    std::fs::write(
        homes.codex_home().join("config.toml"),
        format!(
            "model = \"blockrun/auto\"\nmodel_provider = \"clawrouter\"\n\
             model_catalog_json = {:?}\n\n[model_providers.clawrouter]\n\
             base_url = \"http://127.0.0.1:{bridge_port}/v1\"\n",
            homes.catalog().to_string_lossy()
        ),
    )
    .expect("config.toml");
    let missing = Path::new("/nonexistent/codex");
    let run = ours(&homes, &["doctor"], bridge_port, dead, &up, missing);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    let line = |name: &str| {
        let start = format!("❌ {name} — ");
        let lines: Vec<&str> = run.stdout.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with(&start))
            .unwrap_or_else(|| panic!("no failed {name} check: {}", run.describe()));
        (
            lines[at].to_owned(),
            lines.get(at + 1).copied().unwrap_or("").to_owned(),
        )
    };
    let (profile, fix) = line("profile");
    assert!(profile.contains("wire_api"), "{profile}");
    assert!(profile.contains("uses the catalog"), "{profile}");
    assert!(!profile.contains(": run `"), "{profile}");
    assert_eq!(fix, "   fix: run `clawrouter-codex setup`");
    let (desktop, fix) = line("desktop");
    assert!(desktop.contains("on, but "), "{desktop}");
    assert!(desktop.contains("requires_openai_auth"), "{desktop}");
    assert_eq!(fix, "   fix: run `clawrouter-codex desktop on`");
    assert!(
        run.stdout.contains("✅ legacy profile — "),
        "{}",
        run.describe()
    );
}

#[test]
fn doctor_flags_an_empty_wallet() {
    let mock = mock(Some(0.0));
    let homes = Homes::new();
    let run = ours(
        &homes,
        &["doctor", "--json"],
        free_port(),
        mock.addr().port(),
        &mock.base_url(),
        &codex_bin(),
    );
    assert_eq!(run.code, Some(1), "{}", run.describe());
    let v = doctor_json(&run);
    let wallet = v["error"]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "wallet"))
        .expect("wallet check")
        .clone();
    assert_eq!(wallet["ok"], false);
    let fix = wallet["fix"].as_str().expect("fix");
    assert!(fix.contains("fund the address"), "{fix}");
    assert!(fix.contains("free models still work"), "{fix}");
    let proxy = v["error"]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "proxy"))
        .expect("proxy check");
    assert_eq!(proxy["ok"], true);
}

/// What `start` records when it launches the proxy (see `admin::proxy_version`), here for a
/// live process (this test) "running" the mock ClawRouter on `port`.
fn record_launch(homes: &Homes, port: u16, version: &str) {
    let dir = homes.home().join(".clawrouter-codex");
    std::fs::create_dir_all(&dir).expect("state dir");
    let record = serde_json::json!({
        "pid": std::process::id(),
        "port": port,
        "command": format!("npx -y @blockrun/clawrouter@{version}"),
        "version": version,
        "pinned": true,
    });
    std::fs::write(dir.join("proxy.json"), record.to_string()).expect("record");
}

#[test]
fn doctor_compares_the_running_clawrouter_with_the_pin() {
    let mock = mock(Some(5.0));
    let homes = Homes::new();
    let port = mock.addr().port();
    let doctor = |args: &[&str]| {
        ours(
            &homes,
            args,
            free_port(),
            port,
            &mock.base_url(),
            &codex_bin(),
        )
    };

    record_launch(&homes, port, "0.12.200");
    let run = doctor(&["doctor"]);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains(" proxy version — "))
        .unwrap_or_else(|| panic!("{}", run.describe()));
    assert!(line.starts_with("❌"), "{line}");
    assert!(line.contains("ClawRouter 0.12.200 runs"), "{line}");
    assert!(
        line.contains("the pinned ClawRouter 0.12.246 (proxy.version)"),
        "{line}"
    );
    let v = doctor_json(&doctor(&["doctor", "--json"]));
    let check = v["error"]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "proxy version"))
        .expect("version check")
        .clone();
    assert_eq!(check["ok"], false);
    let fix = check["fix"].as_str().expect("fix");
    assert!(
        fix.contains("restart the proxy so it runs `npx -y @blockrun/clawrouter@0.12.246`"),
        "{fix}"
    );

    record_launch(&homes, port, "0.12.246");
    let run = doctor(&["doctor"]);
    let expected = format!(
        "✅ proxy version — ClawRouter 0.12.246 runs (pid {}), the pinned version",
        std::process::id()
    );
    assert!(run.stdout.contains(&expected), "{}", run.describe());
}

#[test]
fn a_codex_turn_runs_on_the_generated_catalog() {
    use common::codex::{run_codex, run_codex_with, CodexHome, CodexOptions, RunOptions};
    let mock = MockUpstream::builder()
        .route(|r| (r.route() == "/v1/models").then(|| Reply::json(200, models_body())))
        .start(|_| Reply::text("done"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let homes = Homes::new();
    let gen = ours(
        &homes,
        &["gen-catalog"],
        free_port(),
        mock.addr().port(),
        &mock.base_url(),
        &codex_bin(),
    );
    assert_eq!(gen.code, Some(0), "{}", gen.describe());
    let written: Value =
        serde_json::from_slice(&std::fs::read(homes.catalog()).expect("catalog")).expect("JSON");
    let home = CodexHome::with_options(
        &bridge.base_url(),
        CodexOptions {
            catalog_models: written["models"].as_array().expect("models").clone(),
            ..CodexOptions::default()
        },
    );
    let work = tempfile::tempdir().expect("workdir");
    let run = run_codex(
        &home,
        work.path(),
        "say done",
        std::time::Duration::from_secs(120),
    );
    run.assert_success();
    assert_eq!(run.final_message.as_deref(), Some("done"));
    assert!(
        !run.stderr.contains("Model metadata for"),
        "Codex fell back to generic metadata:\n{}",
        run.describe()
    );
    mock.assert_no_rejections();
    let calls = mock.chat_calls();
    let call = calls.first().expect("a chat call");
    assert_eq!(call.model(), "blockrun/auto");
    let tools = call.tool_names();
    for tool in ["exec_command", "apply_patch"] {
        assert!(
            tools.iter().any(|t| t == tool),
            "{tool} not offered: {tools:?}"
        );
    }
    assert!(
        tools.iter().all(|t| t != "web_search"),
        "hosted search offered: {tools:?}"
    );
    // No default effort: nothing is sent to models that reject it …
    assert!(call.body.get("reasoning_effort").is_none(), "{}", call.body);

    // … and a level the user picks goes through.
    let run = run_codex_with(
        &home,
        work.path(),
        "say done",
        std::time::Duration::from_secs(120),
        &RunOptions {
            extra_args: vec!["-c".into(), "model_reasoning_effort=\"high\"".into()],
            ..RunOptions::default()
        },
    );
    run.assert_success();
    let calls = mock.chat_calls();
    let call = calls.last().expect("a second chat call");
    assert_eq!(call.body["reasoning_effort"], "high", "{}", call.body);
}

#[test]
fn doctor_accepts_an_upstream_that_is_not_clawrouter() {
    // An OpenAI-compatible server without ClawRouter's /health: no proxy, no wallet to check.
    let mock = MockUpstream::builder()
        .route(|r| match r.route() {
            "/v1/models" => Some(Reply::json(200, models_body())),
            "/health" => Some(Reply::json(404, json!({"error": "Not found"}))),
            _ => None,
        })
        .start(|_| Reply::text("unused"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let bridge_port: u16 = bridge
        .addr()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let homes = Homes::new();
    let up = mock.base_url();
    // PROXY_PORT points nowhere: the upstream is what the bridge forwards to.
    let gen = ours(
        &homes,
        &["gen-catalog"],
        bridge_port,
        free_port(),
        &up,
        &codex_bin(),
    );
    assert_eq!(gen.code, Some(0), "{}", gen.describe());
    write_profile(&homes, &bridge.base_url());
    let run = ours(
        &homes,
        &["doctor"],
        bridge_port,
        free_port(),
        &up,
        &codex_bin(),
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(
        run.stdout.contains("✅ wallet — not used"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("(not ClawRouter)"),
        "{}",
        run.describe()
    );
}

/// A stand-in Codex CLI: its bundled catalog has an entry marked `FAKE-TEMPLATE`, and it
/// refuses any catalog that still carries that mark (as a newer Codex might refuse a field).
#[cfg(unix)]
fn fake_codex(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("codex");
    let script = r#"#!/bin/sh
case "$*" in
  --version) echo "codex-cli 9.9.9" ;;
  "debug models --bundled")
    echo '{"models":[{"slug":"gpt-x","display_name":"X","visibility":"list","priority":1,"base_instructions":"FAKE-TEMPLATE prompt","shell_type":"local","supported_reasoning_levels":[],"supported_in_api":true,"support_verbosity":false,"truncation_policy":{"mode":"tokens","limit":1},"experimental_supported_tools":[]}]}' ;;
  *model_catalog_json=*)
    file=$(echo "$2" | sed 's/^model_catalog_json="\(.*\)"$/\1/')
    if grep -q FAKE-TEMPLATE "$file"; then echo "Error: unknown variant" >&2; exit 1; fi
    echo '{"models":[]}' ;;
  *) exit 2 ;;
esac
"#;
    std::fs::write(&path, script).expect("script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[cfg(unix)]
#[test]
fn gen_catalog_falls_back_to_our_entry_when_codex_rejects_its_own() {
    let mock = mock(Some(5.0));
    let homes = Homes::new();
    let bin_dir = tempfile::tempdir().expect("bin dir");
    let codex = fake_codex(bin_dir.path());
    let run = ours(
        &homes,
        &["gen-catalog"],
        free_port(),
        mock.addr().port(),
        &mock.base_url(),
        &codex,
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(run.stdout.contains("built-in"), "{}", run.describe());
    assert!(run.stdout.contains("Codex rejected"), "{}", run.describe());
    let text = std::fs::read_to_string(homes.catalog()).expect("catalog");
    assert!(!text.contains("FAKE-TEMPLATE"));
    // And the real Codex takes what was written.
    assert_our_selection(&codex_debug_models(&homes.catalog()).expect("Codex accepts it"));
}
