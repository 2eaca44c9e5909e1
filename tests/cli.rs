//! The binary as a user runs it: config errors, a busy port, signals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::bridge::free_port;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawrouter-codex"));
    cmd.env_remove("PORT")
        .env_remove("CLAWROUTER_PROXY_URL")
        .env("HOME", std::env::temp_dir());
    cmd
}

fn write_conf(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
    file
}

fn run_to_end(cmd: &mut Command) -> (i32, String) {
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_config_is_one_clear_line_and_exit_2() {
    let conf = write_conf("listen: 127.0.0.1:8403\nupstream:\n  urll: http://x\n");
    let (code, stderr) = run_to_end(bin().arg("-c").arg(conf.path()));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("urll") && stderr.contains(&conf.path().display().to_string()),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let (code, stderr) = run_to_end(bin().arg("-c").arg("/nonexistent/bridge.yaml"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("/nonexistent/bridge.yaml"), "{stderr}");

    let conf = write_conf("listen: [not, an, address]\n");
    let (code, stderr) = run_to_end(bin().arg("-c").arg(conf.path()));
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn busy_port_is_one_clear_line_and_exit_2() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let (code, stderr) = run_to_end(bin().env("PORT", port.to_string()).arg("bridge"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

fn start_bridge(port: u16) -> Child {
    let child = bin()
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .arg("bridge")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "bridge did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn stop_with(signal: &str, mut child: Child) -> Duration {
    let started = Instant::now();
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    loop {
        if let Some(_status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            assert!(!stderr.contains("panicked"), "{stderr}");
            return started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            panic!("bridge ignored SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigint_and_sigterm_stop_within_two_seconds() {
    for signal in ["INT", "TERM"] {
        let port = free_port();
        let child = start_bridge(port);
        let took = stop_with(signal, child);
        assert!(took < Duration::from_secs(2), "SIG{signal} took {took:?}");
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "still listening after SIG{signal}"
        );
    }
}

#[test]
fn version_and_help() {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = bin().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("bridge"));
}
