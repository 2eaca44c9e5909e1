//! The release workflow (`.github/workflows/release.yml`) cannot run here, so: actionlint
//! (with shellcheck on its `run:` scripts) passes on it, and its archive step, run as the
//! workflow runs it, makes the archive and checksum that `cargo binstall` is told to fetch
//! (`[package.metadata.binstall]` in Cargo.toml), with the binary where binstall looks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const WORKFLOW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.github/workflows/release.yml");

/// `$ACTIONLINT`, else `.tools/actionlint/bin/actionlint` (`scripts/install-deps.sh --actionlint`).
fn actionlint() -> PathBuf {
    if let Some(p) = std::env::var_os("ACTIONLINT").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let p = Path::new(ROOT).join(".tools/actionlint/bin/actionlint");
    assert!(
        p.exists(),
        "actionlint not found: run scripts/install-deps.sh --actionlint (or set ACTIONLINT)"
    );
    p
}

#[test]
fn actionlint_passes_on_the_release_workflow() {
    let out = Command::new(actionlint())
        .args(["-no-color", WORKFLOW])
        .current_dir(ROOT)
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "actionlint:\n{report}");
    assert!(report.trim().is_empty(), "actionlint:\n{report}");
}

/// The `run:` script of the build job's step `name`.
fn build_step(name: &str) -> String {
    let workflow: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(WORKFLOW).unwrap()).unwrap();
    let steps = workflow["jobs"]["build"]["steps"].as_sequence().unwrap();
    let step = steps
        .iter()
        .find(|s| s["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no build step {name:?}"));
    step["run"].as_str().unwrap().to_owned()
}

/// Runs `cmd` to the end; it must succeed.
fn succeed(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Fills in a cargo-binstall template (`{ name }` style placeholders).
fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (key, value) in values {
        text = text.replace(&format!("{{ {key} }}"), value);
    }
    assert!(!text.contains('{'), "unfilled placeholder in {text}");
    text
}

#[test]
fn the_workflow_archives_what_cargo_binstall_fetches() {
    let manifest: toml_edit::DocumentMut =
        std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let package = &manifest["package"];
    let binstall = &package["metadata"]["binstall"];
    assert_eq!(binstall["pkg-fmt"].as_str(), Some("tgz"));
    let repo = package["repository"].as_str().unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let target = "x86_64-unknown-linux-gnu";
    let values = [
        ("repo", repo),
        ("name", "clawrouter-codex"),
        ("version", version),
        ("target", target),
        ("bin", "clawrouter-codex"),
        ("binary-ext", ""),
    ];
    let url = render(binstall["pkg-url"].as_str().unwrap(), &values);
    let bin_dir = render(binstall["bin-dir"].as_str().unwrap(), &values);
    // The release the workflow creates is the tag's, `v<version>`.
    let release = format!("{repo}/releases/download/v{version}/");
    let archive = url
        .strip_prefix(&release)
        .unwrap_or_else(|| panic!("{url} is not an asset of release v{version}"));

    // The workflow's archive step, in a directory laid out as the job's checkout after the
    // build (this test's binary stands in for the release build).
    let dir = tempfile::tempdir().unwrap();
    let release_dir = dir.path().join("target").join(target).join("release");
    std::fs::create_dir_all(&release_dir).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_clawrouter-codex"),
        release_dir.join("clawrouter-codex"),
    )
    .unwrap();
    std::fs::copy(
        Path::new(ROOT).join("README.md"),
        dir.path().join("README.md"),
    )
    .unwrap();
    let dist = dir.path().join("dist");
    let mut step = Command::new("bash");
    step.args([
        "-euo",
        "pipefail",
        "-c",
        &build_step("Archive and checksum"),
    ])
    .env("VERSION", version)
    .env("TARGET", target)
    .current_dir(dir.path());
    succeed(&mut step);
    assert!(dist.join(archive).is_file(), "no dist/{archive}");
    // The checksum file verifies the archive.
    succeed(
        Command::new("shasum")
            .args(["-a", "256", "-c", &format!("{archive}.sha256")])
            .current_dir(&dist),
    );
    // The binary is where binstall looks, and it runs.
    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    succeed(
        Command::new("tar")
            .arg("-xzf")
            .arg(dist.join(archive))
            .arg("-C")
            .arg(&unpacked),
    );
    let out = succeed(Command::new(unpacked.join(&bin_dir)).arg("--version"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("clawrouter-codex {version}")
    );
}
