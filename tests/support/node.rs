//! Runs one of the Node scripts in `tests/support/` that check our output with an independent
//! npm implementation (viem, @solana/web3.js): JSON in on stdin, one JSON line out. Included by
//! `#[path]` in the test binaries that need it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Runs `tests/support/<script>` with `env` (paths relative to the repository) and `input` on
/// stdin; panics with the script's output unless it succeeds and prints JSON.
pub fn run(script: &str, env: &[(&str, &str)], input: &Value) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = Command::new("node");
    command.arg(root.join("tests/support").join(script));
    for (name, path) in env {
        command.env(name, root.join(path));
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}
