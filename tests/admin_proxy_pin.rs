//! `proxy upgrade` and the `blockrun-codex` name as a user runs them: the real binary, a temp
//! HOME, and a fake `npm` on PATH (nothing reaches the registry).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const KEY_A: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const ADDR_A: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

const CONFIG: &str = "# my bridge, my comments\nlisten: 127.0.0.1:8403\n\nproxy:\n  # the ClawRouter we tested\n  port: 8404\n  version: 0.12.246   # pinned by hand\n  isolate_home: false\n\ncodex:\n  home: ~/.codex # keep this\n";

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["home", "bin", "work"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        World { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A fake `npm` that records its arguments and prints `stdout` (exit `code`).
    fn fake_npm(&self, stdout: &str, code: i32) {
        let script = format!(
            "#!/bin/sh\nprintf '%s ' \"$@\" > '{}'\nprintf '%s\\n' '{stdout}'\necho 'npm ERR! code E404' >&2\nexit {code}\n",
            self.path("npm-args").display()
        );
        let npm = self.path("bin/npm");
        std::fs::write(&npm, script).unwrap();
        std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut cmd = common::cli::clean_command();
        // Only the fakes: the real npm must never be reached (no registry traffic).
        cmd.env("PATH", self.path("bin"));
        self.run_as(cmd, args)
    }

    /// Runs `cmd` with `args` in this world (HOME, a working folder, no stdin).
    fn run_as(&self, mut cmd: Command, args: &[&str]) -> (i32, String, String) {
        let out = cmd
            .args(args)
            .env("HOME", self.path("home"))
            .current_dir(self.path("work"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn backups(&self, of: &Path) -> Vec<PathBuf> {
        let name = of.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::read_dir(of.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{name}.bak-"))
            })
            .collect()
    }
}

#[test]
fn upgrade_shows_old_to_new_and_writes_the_pin_keeping_comments_with_a_backup() {
    let w = World::new();
    w.fake_npm("0.12.250", 0);
    let conf = w.path("bridge.yaml");
    std::fs::write(&conf, CONFIG).unwrap();
    let (code, out, err) = w.run(&["-c", conf.to_str().unwrap(), "proxy", "upgrade", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(w.path("npm-args")).unwrap().trim(),
        "view @blockrun/clawrouter version"
    );
    assert!(out.contains("0.12.246 → 0.12.250"), "{out}");
    assert!(
        out.contains(&format!("Pinned ClawRouter 0.12.250 in {}", conf.display())),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        CONFIG.replace("version: 0.12.246   #", "version: 0.12.250   #"),
        "one line changed, comments kept"
    );
    let backups = w.backups(&conf);
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), CONFIG);
    assert!(out.contains(&backups[0].display().to_string()), "{out}");

    // The next start would run it.
    let (_, again, _) = w.run(&["-c", conf.to_str().unwrap(), "proxy", "upgrade", "--yes"]);
    assert!(
        again.contains("Already pinned to the newest release"),
        "{again}"
    );
    assert_eq!(w.backups(&conf).len(), 1, "no change, no backup");
}

#[test]
fn upgrade_without_yes_off_a_terminal_is_a_dry_run() {
    let w = World::new();
    w.fake_npm("0.12.250", 0);
    let conf = w.path("bridge.yaml");
    std::fs::write(&conf, CONFIG).unwrap();
    let (code, out, err) = w.run(&["-c", conf.to_str().unwrap(), "proxy", "upgrade"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0.12.246 → 0.12.250"), "{out}");
    assert!(
        out.contains("Dry run (stdin is not a terminal): nothing written"),
        "{out}"
    );
    assert!(out.contains("proxy upgrade --yes"), "{out}");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), CONFIG);
    assert!(w.backups(&conf).is_empty());
}

#[test]
fn upgrade_without_a_config_file_creates_the_user_config() {
    let w = World::new();
    w.fake_npm("0.13.0", 0);
    let (code, out, err) = w.run(&["proxy", "upgrade", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0.12.246 → 0.13.0"), "{out}");
    let user = w.path("home/.clawrouter-codex/bridge.yaml");
    assert_eq!(
        std::fs::read_to_string(&user).unwrap(),
        "proxy:\n  version: 0.13.0\n"
    );
}

#[test]
fn upgrade_refuses_what_npm_cannot_say() {
    let w = World::new();
    let conf = w.path("bridge.yaml");
    std::fs::write(&conf, CONFIG).unwrap();
    let args = ["-c", conf.to_str().unwrap(), "proxy", "upgrade", "--yes"];

    w.fake_npm("", 1);
    let (code, out, err) = w.run(&args);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("cannot learn the newest ClawRouter release"),
        "{err}"
    );
    assert!(err.contains("npm ERR! code E404"), "{err}");

    w.fake_npm("latest; rm -rf ~", 0);
    let (code, out, err) = w.run(&args);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("npm answered something unexpected"), "{err}");

    std::fs::remove_file(w.path("bin/npm")).unwrap();
    let (code, _, err) = w.run(&args);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("npm is not on PATH"), "{err}");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), CONFIG);
    assert!(w.backups(&conf).is_empty());
}

#[test]
fn a_bad_pin_is_a_config_error_naming_the_setting() {
    let w = World::new();
    let conf = w.path("bridge.yaml");
    std::fs::write(&conf, "proxy:\n  version: latest\n").unwrap();
    let (code, _, err) = w.run(&["-c", conf.to_str().unwrap(), "wallet"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("invalid setting proxy.version"), "{err}");
    assert!(err.contains("such as 0.12.246"), "{err}");
}

#[test]
fn the_binary_answers_to_blockrun_codex() {
    let w = World::new();
    let link = w.path("bin/blockrun-codex");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_clawrouter-codex"), &link).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(&link);
        for var in common::cli::SETTINGS {
            cmd.env_remove(var);
        }
        cmd.env("PROXY_PORT", "9").env("BLOCKRUN_WALLET_KEY", KEY_A);
        w.run_as(cmd, args)
    };
    let (code, out, err) = run(&["--version"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        format!("blockrun-codex {}", env!("CARGO_PKG_VERSION"))
    );
    let (code, out, err) = run(&["wallet", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["data"]["address"], ADDR_A);
    assert!(!out.contains(&KEY_A[2..]) && !err.contains(&KEY_A[2..]));
    let (code, _, err) = run(&["no-such-command"]);
    assert_eq!(code, 2);
    assert!(err.contains("Usage: blockrun-codex"), "{err}");
}
