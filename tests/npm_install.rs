//! Installing without Rust: the npm packages as a user gets them. `scripts/npm-pack.sh` packs
//! the launcher package and this platform's binary package from the binary `cargo test` built
//! (the debug build, stripped — the release workflow packs the release build the same way);
//! `npm install -g` installs both tarballs into an empty prefix, offline. Then, through the
//! installed launcher: `--version` under both names, the binary's exit code, `setup`, a turn
//! through the installed bridge against the mock upstream, SIGTERM reaching the bridge, and
//! the errors of a missing platform package and of an unsupported platform.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::bridge::free_port;
use common::client::post_json;
use common::mock_upstream::{MockUpstream, Reply};
use serde_json::json;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// This machine's platform package, as the launcher names it.
fn platform_package() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        os => os,
    };
    let cpu = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        arch => arch,
    };
    format!("clawrouter-codex-{os}-{cpu}")
}

struct Ran {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to the end, killed (and the test failed) after `secs`.
fn run(mut cmd: Command, secs: u64) -> Ran {
    let out = tempfile::tempdir().unwrap();
    let (stdout, stderr) = (out.path().join("stdout"), out.path().join("stderr"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let status = wait(&mut child, secs).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{cmd:?} still running after {secs} s\n{}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        )
    });
    Ran {
        status,
        stdout: std::fs::read_to_string(stdout).unwrap(),
        stderr: std::fs::read_to_string(stderr).unwrap(),
    }
}

fn wait(child: &mut Child, secs: u64) -> Option<ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_ok(cmd: Command, secs: u64) -> Ran {
    let ran = run(cmd, secs);
    assert!(
        ran.status.success(),
        "{}\nstdout: {}\nstderr: {}",
        ran.status,
        ran.stdout,
        ran.stderr
    );
    ran
}

/// Where the packages and the shared installation go (`target/tmp/npm_install/`, emptied
/// first), so that nothing is left in the system's temp directory.
fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("npm_install")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The two tarballs `scripts/npm-pack.sh` made of the test's binary: (launcher, platform).
struct Packed {
    launcher: PathBuf,
    platform: PathBuf,
}

fn packed() -> &'static Packed {
    static PACKED: OnceLock<Packed> = OnceLock::new();
    PACKED.get_or_init(|| {
        let dir = work_dir("packed");
        let mut cmd = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/npm-pack.sh"));
        cmd.arg("--binary")
            .arg(env!("CARGO_BIN_EXE_clawrouter-codex"))
            .arg("--out")
            .arg(&dir);
        let ran = run_ok(cmd, 300);
        let paths: Vec<PathBuf> = ran.stdout.lines().map(PathBuf::from).collect();
        assert_eq!(paths.len(), 2, "{}", ran.stdout);
        assert_eq!(
            paths[0],
            dir.join(format!("clawrouter-codex-{VERSION}.tgz"))
        );
        assert_eq!(
            paths[1],
            dir.join(format!("{}-{VERSION}.tgz", platform_package()))
        );
        Packed {
            launcher: paths[0].clone(),
            platform: paths[1].clone(),
        }
    })
}

/// An empty npm prefix with the given tarballs installed globally, offline, with a fresh
/// cache: nothing can come from the registry.
struct Installed {
    dir: PathBuf,
}

impl Installed {
    fn new(name: &str, tarballs: &[&Path], extra: &[&str]) -> Installed {
        let dir = work_dir(name);
        let mut cmd = Command::new("npm");
        cmd.args(["install", "-g", "--offline", "--no-audit", "--no-fund"])
            .args(["--loglevel", "error"])
            .arg("--prefix")
            .arg(dir.join("prefix"))
            .arg("--cache")
            .arg(dir.join("cache"))
            .args(extra)
            .args(tarballs)
            .current_dir(&dir);
        run_ok(cmd, 300);
        std::fs::create_dir_all(dir.join("home")).unwrap();
        std::fs::create_dir_all(dir.join("codex")).unwrap();
        Installed { dir }
    }

    /// The launcher package with its platform package, as `npm install -g clawrouter-codex`
    /// leaves them (installed once per test binary).
    fn both() -> &'static Installed {
        static BOTH: OnceLock<Installed> = OnceLock::new();
        BOTH.get_or_init(|| {
            let packed = packed();
            Installed::new("both", &[&packed.launcher, &packed.platform], &[])
        })
    }

    /// An installed command (`prefix/bin/NAME`), with only a temp `HOME` and `CODEX_HOME`.
    fn command(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.dir.join("prefix/bin").join(name));
        for var in common::cli::SETTINGS {
            cmd.env_remove(var);
        }
        cmd.env_remove("CLAWROUTER_CODEX_TEST_PLATFORM")
            .env("HOME", self.dir.join("home"))
            .env("CODEX_HOME", self.dir.join("codex"))
            .current_dir(&self.dir);
        cmd
    }
}

#[test]
fn the_installed_commands_run_the_binary_under_both_names() {
    let installed = Installed::both();
    for name in ["clawrouter-codex", "blockrun-codex"] {
        let mut cmd = installed.command(name);
        cmd.arg("--version");
        let ran = run_ok(cmd, 30);
        // The launcher passes on the name it was called by, and the binary answers to it.
        assert_eq!(ran.stdout.trim(), format!("{name} {VERSION}"));
    }
    // The binary sees the name it was invoked by, as through a symlink.
    let mut cmd = installed.command("blockrun-codex");
    cmd.arg("--help");
    let ran = run_ok(cmd, 30);
    assert!(
        ran.stdout.contains("Usage: blockrun-codex"),
        "{}",
        ran.stdout
    );
    // Its exit code and stderr come through.
    let mut cmd = installed.command("clawrouter-codex");
    cmd.args(["-c", "/nonexistent/bridge.yaml"]);
    let ran = run(cmd, 30);
    assert_eq!(ran.status.code(), Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("/nonexistent/bridge.yaml"),
        "{}",
        ran.stderr
    );
}

#[test]
fn setup_through_the_installed_command_writes_the_codex_profile() {
    let installed = Installed::both();
    let conf = installed.dir.join("setup.yaml");
    std::fs::write(&conf, "listen: 127.0.0.1:8403\n").unwrap();
    let mut cmd = installed.command("clawrouter-codex");
    cmd.arg("-c").arg(&conf).arg("setup");
    let ran = run_ok(cmd, 60);
    assert!(
        ran.stdout.contains("codex --profile clawrouter"),
        "{}",
        ran.stdout
    );
    let profile = installed.dir.join("codex/clawrouter.config.toml");
    let doc: toml_edit::DocumentMut = std::fs::read_to_string(&profile).unwrap().parse().unwrap();
    assert_eq!(doc["model_provider"].as_str(), Some("clawrouter"));
    assert_eq!(
        doc["model_providers"]["clawrouter"]["base_url"].as_str(),
        Some("http://127.0.0.1:8403/v1")
    );
}

#[test]
fn the_installed_bridge_answers_a_turn_and_stops_on_sigterm() {
    let installed = Installed::both();
    let mock = MockUpstream::replies(vec![Reply::text("Hello from the installed bridge")]);
    let port = free_port();
    let conf = installed.dir.join("bridge.yaml");
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:{port}\nupstream:\n  url: {}\n",
            mock.base_url()
        ),
    )
    .unwrap();
    let mut cmd = installed.command("clawrouter-codex");
    let mut launcher = cmd
        .arg("-c")
        .arg(&conf)
        .arg("bridge")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline || launcher.try_wait().unwrap().is_some() {
            let _ = launcher.kill();
            panic!("the installed bridge did not start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let answer = post_json(
        &format!("http://127.0.0.1:{port}/v1/responses"),
        &json!({"model": "blockrun/auto", "input": "hi", "stream": true}),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let events = answer.events();
    let last = events.last().expect("events");
    assert_eq!(last["type"], "response.completed", "{}", answer.body);
    assert_eq!(
        last["response"]["output"][0]["content"][0]["text"],
        "Hello from the installed bridge"
    );

    // SIGTERM to the launcher (what a service manager or `kill` sends) stops the bridge.
    let killed = Command::new("kill")
        .args(["-TERM", &launcher.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let Some(status) = wait(&mut launcher, 30) else {
        let _ = launcher.kill();
        panic!("the launcher ignored SIGTERM");
    };
    assert!(status.success(), "{status}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the bridge still listens after SIGTERM"
    );
}

#[test]
fn without_the_platform_package_the_launcher_says_how_to_reinstall() {
    // `npm install -g clawrouter-codex --omit=optional` leaves the binary out.
    let installed = Installed::new("launcher-only", &[&packed().launcher], &["--omit=optional"]);
    let mut cmd = installed.command("clawrouter-codex");
    cmd.arg("--version");
    let ran = run(cmd, 30);
    assert_eq!(ran.status.code(), Some(1), "{}", ran.stderr);
    assert!(ran.stdout.is_empty(), "{}", ran.stdout);
    for needle in [
        platform_package().as_str(),
        "is not installed",
        "--omit=optional",
        "npm install -g clawrouter-codex",
    ] {
        assert!(ran.stderr.contains(needle), "{needle}: {}", ran.stderr);
    }
}

#[test]
fn on_an_unsupported_platform_the_launcher_says_so() {
    let installed = Installed::both();
    for (platform, says) in [
        ("win32-x64", "Windows is not supported"),
        ("freebsd-x64", "cargo install --locked"),
    ] {
        let mut cmd = installed.command("clawrouter-codex");
        cmd.arg("--version")
            .env("CLAWROUTER_CODEX_TEST_PLATFORM", platform);
        let ran = run(cmd, 30);
        assert_eq!(ran.status.code(), Some(1), "{}", ran.stderr);
        assert!(ran.stdout.is_empty(), "{}", ran.stdout);
        assert!(
            ran.stderr
                .contains(&format!("no prebuilt binary for {platform}")),
            "{}",
            ran.stderr
        );
        assert!(ran.stderr.contains(says), "{}", ran.stderr);
    }
}
