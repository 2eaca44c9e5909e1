//! `setup`, `desktop` and `websearch` as a user runs them, against a temp `HOME` and
//! `CODEX_HOME`: golden files for every TOML edit (byte-identical except the keys we own),
//! idempotence (a second run writes nothing and makes no backup), refusal of invalid TOML
//! (exit 2, file untouched), and the real Codex CLI accepting what we write.
//!
//! Goldens live in `tests/fixtures/toml/`; `@CODEX_HOME@` stands for the temp `CODEX_HOME`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/toml");

/// A temp `HOME` + `CODEX_HOME` and a bridge config; the binary runs with only these.
struct Env {
    dir: tempfile::TempDir,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Env {
    fn new() -> Env {
        Env::with_yaml("listen: 127.0.0.1:8403\n")
    }

    fn with_yaml(yaml: &str) -> Env {
        let dir = tempfile::Builder::new()
            .prefix("admin-config-")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("codex")).unwrap();
        std::fs::write(dir.path().join("bridge.yaml"), yaml).unwrap();
        Env { dir }
    }

    fn codex_home(&self) -> PathBuf {
        self.dir.path().join("codex")
    }

    fn config(&self) -> PathBuf {
        self.codex_home().join("config.toml")
    }

    fn profile(&self) -> PathBuf {
        self.codex_home().join("clawrouter.config.toml")
    }

    fn catalog(&self) -> PathBuf {
        self.codex_home().join("clawrouter-catalog.json")
    }

    /// A fixture file, with `@CODEX_HOME@` filled in.
    fn fixture(&self, name: &str) -> String {
        let text = std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap();
        text.replace("@CODEX_HOME@", &self.codex_home().to_string_lossy())
    }

    fn install(&self, fixture: &str, to: &Path) {
        std::fs::write(to, self.fixture(fixture)).unwrap();
    }

    /// A catalog Codex accepts (what `gen-catalog` would write, with one model).
    fn write_catalog(&self) {
        let catalog = serde_json::json!({ "models": [common::codex::default_catalog_entry()] });
        std::fs::write(self.catalog(), catalog.to_string()).unwrap();
    }

    fn run(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawrouter-codex"));
        for var in [
            "PORT",
            "PROXY_PORT",
            "CLAWROUTER_PROXY_URL",
            "CLAWROUTER_CMD",
            "WALLET_KEY_FILE",
            "BLOCKRUN_WALLET_KEY",
            "ISOLATE_HOME",
            "WEB_SEARCH",
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
        let out = cmd
            .env("HOME", self.dir.path().join("home"))
            .env("CODEX_HOME", self.codex_home())
            .current_dir(self.dir.path())
            .arg("-c")
            .arg(self.dir.path().join("bridge.yaml"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let out = Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            !out.stderr.contains("panicked"),
            "{args:?} panicked: {}",
            out.stderr
        );
        out
    }

    fn run_ok(&self, args: &[&str]) -> Out {
        let out = self.run(args);
        assert_eq!(
            out.code, 0,
            "{args:?} failed\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        out
    }

    /// Backups of `file` in `CODEX_HOME`, sorted.
    fn backups(&self, file: &str) -> Vec<PathBuf> {
        let prefix = format!("{file}.bak-");
        let mut found: Vec<PathBuf> = std::fs::read_dir(self.codex_home())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
            })
            .collect();
        found.sort();
        found
    }

    /// Every file name in `CODEX_HOME`, sorted.
    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.codex_home())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[track_caller]
fn assert_text(actual: &str, expected: &str, what: &str) {
    if actual != expected {
        panic!("{what} differs from its golden\n--- expected\n{expected}\n--- actual\n{actual}");
    }
}

fn parse(path: &Path) -> toml_edit::DocumentMut {
    read(path).parse().unwrap()
}

// -------------------------------------------------------------------------------------------
// desktop

#[test]
fn desktop_on_matches_golden_and_is_idempotent() {
    let env = Env::new();
    env.install("config.toml", &env.config());
    env.write_catalog();
    let original = read(&env.config());

    let out = env.run_ok(&["desktop", "on"]);
    assert!(out.stdout.contains("Desktop mode on"), "{}", out.stdout);
    assert!(out.stdout.contains("quit and reopen"), "{}", out.stdout);
    assert_text(
        &read(&env.config()),
        &env.fixture("config.desktop-on.toml"),
        "config.toml after desktop on",
    );
    let backups = env.backups("config.toml");
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_text(&read(&backups[0]), &original, "the backup");

    let before = env.listing();
    let out = env.run_ok(&["desktop", "on"]);
    assert!(out.stdout.contains("already on"), "{}", out.stdout);
    assert_text(
        &read(&env.config()),
        &env.fixture("config.desktop-on.toml"),
        "config.toml after desktop on twice",
    );
    assert_eq!(env.listing(), before, "a second run wrote something");

    let out = env.run_ok(&["desktop", "status"]);
    assert!(out.stdout.contains("Desktop mode: on"), "{}", out.stdout);
    // Never touched by desktop: the profile.
    assert!(!env.profile().exists());
}

#[test]
fn desktop_off_restores_the_native_default() {
    let env = Env::new();
    env.install("config.desktop-on.toml", &env.config());
    env.write_catalog();

    let out = env.run_ok(&["desktop", "off"]);
    assert!(out.stdout.contains("Desktop mode off"), "{}", out.stdout);
    assert!(out.stdout.contains("gpt-5.5"), "{}", out.stdout);
    assert_text(
        &read(&env.config()),
        &env.fixture("config.desktop-off.toml"),
        "config.toml after desktop off",
    );
    assert_eq!(env.backups("config.toml").len(), 1);

    let before = env.listing();
    let out = env.run_ok(&["desktop", "off"]);
    assert!(out.stdout.contains("already off"), "{}", out.stdout);
    assert_eq!(env.listing(), before, "a second run wrote something");
    let out = env.run_ok(&["desktop", "status"]);
    assert!(out.stdout.contains("Desktop mode: off"), "{}", out.stdout);

    // And on again: the same as the first time (the provider table left by `off` is reused).
    env.run_ok(&["desktop", "on"]);
    assert_text(
        &read(&env.config()),
        &env.fixture("config.desktop-on.toml"),
        "config.toml after on, off, on",
    );
}

#[test]
fn desktop_off_uses_the_configured_native_model_and_leaves_other_providers_alone() {
    let env = Env::with_yaml("codex:\n  native_model: gpt-5.4-codex\n");
    env.install("config.desktop-on.toml", &env.config());
    env.write_catalog();
    env.run_ok(&["desktop", "off"]);
    let off = env.fixture("config.desktop-off.toml").replacen(
        "model = \"gpt-5.5\"",
        "model = \"gpt-5.4-codex\"",
        1,
    );
    assert_text(&read(&env.config()), &off, "config.toml after desktop off");

    // A user's own custom provider is not our mode: off leaves it alone.
    let env = Env::new();
    let text = "model = \"qwen3\"\nmodel_provider = \"ollama-box\"\n";
    std::fs::write(env.config(), text).unwrap();
    let out = env.run_ok(&["desktop", "off"]);
    assert!(out.stdout.contains("ollama-box"), "{}", out.stdout);
    assert_eq!(read(&env.config()), text);
    assert!(env.backups("config.toml").is_empty());
}

#[test]
fn desktop_off_without_config_writes_nothing() {
    let env = Env::new();
    let out = env.run_ok(&["desktop", "off"]);
    assert!(out.stdout.contains("already off"), "{}", out.stdout);
    assert!(env.listing().is_empty(), "{:?}", env.listing());
    let out = env.run_ok(&["desktop", "status"]);
    assert!(out.stdout.contains("Desktop mode: off"), "{}", out.stdout);
}

#[test]
fn desktop_on_refuses_without_a_catalog() {
    let env = Env::new();
    env.install("config.toml", &env.config());
    let original = read(&env.config());
    let out = env.run(&["desktop", "on"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("gen-catalog"), "{}", out.stdout);
    assert_eq!(read(&env.config()), original);
    assert!(env.backups("config.toml").is_empty());
}

#[test]
fn desktop_on_creates_a_missing_config() {
    let env = Env::new();
    env.write_catalog();
    env.run_ok(&["desktop", "on"]);
    let doc = parse(&env.config());
    assert_eq!(doc["model"].as_str(), Some("blockrun/auto"));
    assert_eq!(doc["model_provider"].as_str(), Some("clawrouter"));
    let provider = &doc["model_providers"]["clawrouter"];
    assert_eq!(provider["requires_openai_auth"].as_bool(), Some(true));
    assert!(env.backups("config.toml").is_empty());
}

// -------------------------------------------------------------------------------------------
// websearch

#[test]
fn websearch_on_off_in_profile_and_desktop_config() {
    let env = Env::new();
    env.install("config.toml", &env.config());
    env.write_catalog();
    env.run_ok(&["setup"]);
    env.run_ok(&["desktop", "on"]);
    let profile_before = read(&env.profile());

    let out = env.run_ok(&["websearch", "on"]);
    assert!(out.stdout.contains("Web search on"), "{}", out.stdout);
    assert!(out.stdout.contains("Restart Codex"), "{}", out.stdout);
    assert_text(
        &read(&env.config()),
        &env.fixture("config.websearch-on.toml"),
        "config.toml after websearch on",
    );
    let profile = parse(&env.profile());
    assert_eq!(
        profile["model_providers"]["clawrouter"]["http_headers"]["x-web-search"].as_str(),
        Some("1")
    );

    let before = env.listing();
    let out = env.run_ok(&["websearch", "on"]);
    assert!(out.stdout.contains("already on"), "{}", out.stdout);
    assert_eq!(env.listing(), before, "a second run wrote something");

    let out = env.run_ok(&["websearch", "status"]);
    assert!(out.stdout.contains("Web search: on"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("bridge: on for requests whose provider sends x-web-search: 1")
            && out.stdout.contains("paid call"),
        "{}",
        out.stdout
    );

    env.run_ok(&["websearch", "off"]);
    assert_text(
        &read(&env.config()),
        &env.fixture("config.desktop-on.toml"),
        "config.toml after websearch on, off",
    );
    assert_text(
        &read(&env.profile()),
        &profile_before,
        "profile after on, off",
    );
    let out = env.run_ok(&["websearch", "off"]);
    assert!(out.stdout.contains("already off"), "{}", out.stdout);
    let out = env.run_ok(&["websearch", "status"]);
    assert!(out.stdout.contains("Web search: off"), "{}", out.stdout);
}

#[test]
fn websearch_keeps_the_users_headers() {
    let env = Env::new();
    env.install("profile-user.config.toml", &env.profile());
    env.run_ok(&["setup"]);
    env.run_ok(&["websearch", "on"]);
    assert_text(
        &read(&env.profile()),
        &env.fixture("profile-user.websearch-on.toml"),
        "profile after websearch on",
    );
    // Desktop mode is off: config.toml is not created.
    assert!(!env.config().exists());
    env.run_ok(&["websearch", "off"]);
    assert_text(
        &read(&env.profile()),
        &env.fixture("profile-user.after-setup.toml"),
        "profile after websearch off",
    );
}

#[test]
fn desktop_on_copies_the_profiles_web_search() {
    let env = Env::new();
    env.install("config.toml", &env.config());
    env.write_catalog();
    env.run_ok(&["setup"]);
    env.run_ok(&["websearch", "on"]);
    env.run_ok(&["desktop", "on"]);
    assert_text(
        &read(&env.config()),
        &env.fixture("config.websearch-on.toml"),
        "config.toml after websearch on, desktop on",
    );
}

#[test]
fn websearch_on_without_a_profile_says_run_setup() {
    let env = Env::new();
    let out = env.run(&["websearch", "on"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("clawrouter-codex setup"),
        "{}",
        out.stdout
    );
    assert!(env.listing().is_empty(), "{:?}", env.listing());
}

// -------------------------------------------------------------------------------------------
// invalid TOML

#[test]
fn invalid_toml_is_refused_and_left_untouched() {
    let bad = "# mine\nmodel = \"gpt-5\"\n[tui\nnotifications = true\n";
    for args in [
        &["desktop", "on"][..],
        &["desktop", "off"],
        &["desktop", "status"],
        &["websearch", "on"],
        &["websearch", "off"],
        &["websearch", "status"],
    ] {
        let env = Env::new();
        env.write_catalog();
        std::fs::write(env.config(), bad).unwrap();
        let before = env.listing();
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        let line = out.stderr.trim();
        assert_eq!(line.lines().count(), 1, "{args:?}: {line}");
        assert!(
            line.contains(&env.config().display().to_string()) && line.contains("line 3"),
            "{args:?}: {line}"
        );
        assert_eq!(read(&env.config()), bad, "{args:?} changed the file");
        assert_eq!(env.listing(), before, "{args:?} wrote something");
    }

    // An invalid profile: setup and websearch refuse it too.
    for args in [&["setup"][..], &["websearch", "on"], &["websearch", "off"]] {
        let env = Env::new();
        std::fs::write(env.profile(), bad).unwrap();
        let before = env.listing();
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains(&env.profile().display().to_string()),
            "{args:?}: {}",
            out.stderr
        );
        assert_eq!(read(&env.profile()), bad);
        assert_eq!(env.listing(), before, "{args:?} wrote something");
    }
}

#[test]
fn provider_in_the_way_is_refused() {
    let env = Env::new();
    env.write_catalog();
    let text = "model_providers = \"oops\"\n";
    std::fs::write(env.config(), text).unwrap();
    let out = env.run(&["desktop", "on"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("model_providers"), "{}", out.stderr);
    assert_eq!(read(&env.config()), text);
}

// -------------------------------------------------------------------------------------------
// setup

#[test]
fn setup_with_the_bridge_down_writes_the_profile() {
    let env = Env::new();
    let out = env.run_ok(&["setup"]);
    assert!(out.stdout.contains("gen-catalog"), "{}", out.stdout);
    assert!(
        out.stdout.contains("codex --profile clawrouter"),
        "{}",
        out.stdout
    );
    let doc = parse(&env.profile());
    assert_eq!(doc["model"].as_str(), Some("blockrun/auto"));
    assert_eq!(doc["model_provider"].as_str(), Some("clawrouter"));
    assert_eq!(
        doc["model_catalog_json"].as_str(),
        Some(env.catalog().to_string_lossy().as_ref())
    );
    let p = &doc["model_providers"]["clawrouter"];
    assert_eq!(p["name"].as_str(), Some("ClawRouter"));
    assert_eq!(p["base_url"].as_str(), Some("http://127.0.0.1:8403/v1"));
    assert_eq!(p["wire_api"].as_str(), Some("responses"));
    assert_eq!(p["requires_openai_auth"].as_bool(), Some(false));
    // The bridge serves Codex's WebSocket transport (websocket.enabled, on by default).
    assert_eq!(p["supports_websockets"].as_bool(), Some(true));
    assert!(p.get("experimental_bearer_token").is_none());
    // config.toml is never created or touched by setup.
    assert!(!env.config().exists());

    let before = env.listing();
    let out = env.run_ok(&["setup"]);
    assert!(out.stdout.contains("already up to date"), "{}", out.stdout);
    assert_eq!(env.listing(), before, "a second run wrote something");
}

#[test]
fn setup_preserves_the_users_keys() {
    let env = Env::new();
    env.install("profile-user.config.toml", &env.profile());
    let original = read(&env.profile());
    env.run_ok(&["setup"]);
    assert_text(
        &read(&env.profile()),
        &env.fixture("profile-user.after-setup.toml"),
        "profile after setup",
    );
    let backups = env.backups("clawrouter.config.toml");
    assert_eq!(backups.len(), 1);
    assert_eq!(read(&backups[0]), original);
    env.run_ok(&["setup"]);
    assert_eq!(env.backups("clawrouter.config.toml").len(), 1);
}

const LEGACY_CONFIG: &str = "# mine\nmodel = \"gpt-5.5\"\nprofile = \"clawrouter\"\n\n\
    [profiles.clawrouter]\nmodel = \"blockrun/auto\"\nmodel_reasoning_effort = \"high\"\n\n\
    [tui]\nnotifications = true\n";

#[test]
fn setup_moves_a_legacy_profile_out_of_config_toml() {
    let env = Env::new();
    std::fs::write(env.config(), LEGACY_CONFIG).unwrap();
    let out = env.run_ok(&["setup"]);
    assert!(
        out.stdout.contains("[profiles.clawrouter]")
            && out.stdout.contains("Codex refuses to start")
            && out.stdout.contains("moved: model_reasoning_effort")
            && out.stdout.contains("profile's own value kept: model"),
        "{}",
        out.stdout
    );
    assert_eq!(
        read(&env.config()),
        "# mine\nmodel = \"gpt-5.5\"\n\n[tui]\nnotifications = true\n",
        "only the legacy profile left config.toml"
    );
    let backups = env.backups("config.toml");
    assert_eq!(backups.len(), 1);
    assert_eq!(read(&backups[0]), LEGACY_CONFIG);
    let profile = parse(&env.profile());
    assert_eq!(profile["model_reasoning_effort"].as_str(), Some("high"));
    assert_eq!(profile["model"].as_str(), Some("blockrun/auto"));
    // A second run finds nothing to move and writes nothing.
    env.run_ok(&["setup"]);
    assert_eq!(env.backups("config.toml").len(), 1);

    // --keep-legacy leaves it, saying what it costs.
    let env = Env::new();
    std::fs::write(env.config(), LEGACY_CONFIG).unwrap();
    let out = env.run_ok(&["setup", "--keep-legacy"]);
    assert!(out.stdout.contains("refuses to start"), "{}", out.stdout);
    assert_eq!(read(&env.config()), LEGACY_CONFIG);
    assert!(env.backups("config.toml").is_empty());

    // A broken config.toml is reported, not touched; the profile is still written.
    let env = Env::new();
    std::fs::write(env.config(), "[oops\n").unwrap();
    let out = env.run_ok(&["setup"]);
    assert!(out.stdout.contains("not valid TOML"), "{}", out.stdout);
    assert_eq!(read(&env.config()), "[oops\n");
    assert!(env.profile().exists());
}

#[test]
fn real_codex_starts_the_profile_once_setup_moved_the_legacy_one() {
    let env = Env::new();
    std::fs::write(env.config(), LEGACY_CONFIG).unwrap();
    env.run_ok(&["setup", "--keep-legacy"]);
    env.write_catalog();
    let (ok, output) = codex_loads(&env, true);
    assert!(!ok, "Codex started despite the legacy profile");
    assert!(output.contains("legacy"), "{output}");
    // The selector stops even plain `codex` (0.171); the table alone stops only the profile.
    let (ok, _) = codex_loads(&env, false);
    assert!(!ok, "plain codex started with profile = \"clawrouter\"");

    env.run_ok(&["setup"]);
    let (ok, output) = codex_loads(&env, true);
    assert!(ok, "Codex rejected the profile after setup: {output}");
    let (ok, output) = codex_loads(&env, false);
    assert!(ok, "plain codex after setup: {output}");

    let env = Env::new();
    let table_only = "[profiles.clawrouter]\nmodel = \"blockrun/auto\"\n";
    std::fs::write(env.config(), table_only).unwrap();
    env.run_ok(&["setup", "--keep-legacy"]);
    env.write_catalog();
    assert!(!codex_loads(&env, true).0, "the table stops the profile");
    let (ok, output) = codex_loads(&env, false);
    assert!(ok, "the table alone leaves plain codex alone: {output}");
}

#[test]
fn setup_uses_the_listen_address_and_auth_token() {
    let env = Env::with_yaml(
        "listen: 0.0.0.0:9100\nauth_token: s3cret\ncodex:\n  default_model: deepseek/deepseek-chat\n",
    );
    env.run_ok(&["setup"]);
    let doc = parse(&env.profile());
    assert_eq!(doc["model"].as_str(), Some("deepseek/deepseek-chat"));
    let p = &doc["model_providers"]["clawrouter"];
    assert_eq!(p["base_url"].as_str(), Some("http://127.0.0.1:9100/v1"));
    assert_eq!(p["experimental_bearer_token"].as_str(), Some("s3cret"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.profile())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the profile holds a token: {mode:o}");
    }
}

#[test]
fn setup_refuses_a_profile_name_with_a_path() {
    let env = Env::with_yaml("codex:\n  profile: ../evil\n");
    let out = env.run(&["setup"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("profile"), "{}", out.stderr);
    assert!(env.listing().is_empty());
}

// -------------------------------------------------------------------------------------------
// The real Codex CLI loads what we write.

/// `codex [--profile clawrouter] debug prompt-input hi`: loads the config (profile, provider,
/// catalog) and renders the prompt without any network.
fn codex_loads(env: &Env, profile: bool) -> (bool, String) {
    let home = env.dir.path().join("home");
    let mut cmd = Command::new(common::codex::codex_bin());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("CODEX_HOME", env.codex_home())
        .current_dir(&home);
    if profile {
        cmd.args(["--profile", "clawrouter"]);
    }
    let mut child = cmd
        .args(["debug", "prompt-input", "hi"])
        .stdin(Stdio::null())
        // The rendered prompt is long and not needed; a full pipe would stall Codex.
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Never hang the suite: it answers in well under a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn real_codex_accepts_the_profile_and_desktop_config() {
    let env = Env::new();
    env.install("config.toml", &env.config());
    env.run_ok(&["setup"]);
    // Control: with the catalog missing, Codex refuses the profile, so a pass below means it
    // really loaded our profile.
    let (ok, output) = codex_loads(&env, true);
    assert!(!ok, "Codex started without the catalog: {output}");

    env.write_catalog();
    let (ok, output) = codex_loads(&env, true);
    assert!(ok, "Codex rejected the profile: {output}");

    env.run_ok(&["websearch", "on"]);
    env.run_ok(&["desktop", "on"]);
    let (ok, output) = codex_loads(&env, false);
    assert!(ok, "Codex rejected config.toml in desktop mode: {output}");
    let (ok, output) = codex_loads(&env, true);
    assert!(ok, "Codex rejected the profile over desktop mode: {output}");

    env.run_ok(&["desktop", "off"]);
    let (ok, output) = codex_loads(&env, false);
    assert!(ok, "Codex rejected config.toml after desktop off: {output}");
}

// -------------------------------------------------------------------------------------------
// The state readers `doctor` uses.

#[test]
fn state_readers_follow_the_commands() {
    use clawrouter_codex::admin::codex_config::{self, DesktopMode};
    use clawrouter_codex::admin::legacy_profile;
    use clawrouter_codex::config::{self, CliOverrides, EnvOverrides};

    let env = Env::new();
    let overrides = EnvOverrides {
        codex_home: Some(env.codex_home().to_string_lossy().into_owned()),
        home: Some(env.dir.path().join("home").to_string_lossy().into_owned()),
        ..EnvOverrides::default()
    };
    let conf = config::resolve(
        config::FileConfig::default(),
        None,
        &overrides,
        &CliOverrides::default(),
    )
    .unwrap();

    let profile = codex_config::profile_state(&conf).unwrap();
    assert!(!profile.exists && !profile.problems.is_empty());
    assert_eq!(
        codex_config::desktop_state(&conf).unwrap().mode,
        DesktopMode::Native
    );
    assert!(!codex_config::websearch_state(&conf).unwrap());
    assert!(legacy_profile::in_config(&conf).is_none());

    env.run_ok(&["setup"]);
    let profile = codex_config::profile_state(&conf).unwrap();
    assert_eq!(profile.problems.len(), 1, "{:?}", profile.problems); // the catalog
    env.write_catalog();
    assert!(codex_config::profile_state(&conf)
        .unwrap()
        .problems
        .is_empty());

    env.install("config.toml", &env.config());
    std::fs::write(
        env.config(),
        format!(
            "{}\n[profiles.clawrouter]\nmodel = \"x\"\n",
            read(&env.config())
        ),
    )
    .unwrap();
    assert!(legacy_profile::in_config(&conf).is_some());

    env.run_ok(&["desktop", "on"]);
    let desktop = codex_config::desktop_state(&conf).unwrap();
    assert!(desktop.is_on(), "{desktop:?}");
    assert!(desktop.problems.is_empty(), "{desktop:?}");
    assert!(!codex_config::websearch_state(&conf).unwrap());

    env.run_ok(&["websearch", "on"]);
    let status = codex_config::websearch_status(&conf).unwrap();
    assert_eq!((status.profile, status.desktop), (Some(true), Some(true)));
    assert!(codex_config::websearch_state(&conf).unwrap());

    std::fs::write(env.config(), "[oops\n").unwrap();
    assert!(codex_config::desktop_state(&conf).is_err());
    assert!(codex_config::websearch_state(&conf).is_err());
    assert!(legacy_profile::in_config(&conf).is_none());
}
