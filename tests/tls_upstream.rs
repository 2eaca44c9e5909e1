//! An https upstream: the translation and the pass-through both reach it over TLS, verifying
//! its certificate against a CA given the standard way (`SSL_CERT_FILE`).
//!
//! One test in its own binary: the trust store is read once per process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::bridge::BridgeGuard;
use common::client::{get, post_json};
use serde_json::json;

/// Runs `openssl` with `args` in `dir`, failing the test with its stderr.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (Debian package openssl) is needed by this test");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA and a `localhost` / 127.0.0.1 server certificate it signed.
fn make_certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "1",
                "-subj",
                "/CN=clawrouter-codex test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "1",
            "-extfile",
            "leaf.ext",
        ],
    );
}

/// The Python TLS upstream; killed on drop.
struct TlsUpstream {
    child: Child,
    port: u16,
}

impl TlsUpstream {
    fn start(dir: &Path) -> TlsUpstream {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/tls_upstream.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir.join("leaf.pem"))
            .arg(dir.join("leaf.key"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the TLS upstream");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the upstream prints its port");
        TlsUpstream { child, port }
    }
}

impl Drop for TlsUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn https_upstream_is_reached_with_certificate_verification() {
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    // Read by the TLS stack when it first builds its trust store, i.e. before any connection.
    std::env::set_var("SSL_CERT_FILE", dir.path().join("ca.pem"));
    let upstream = TlsUpstream::start(dir.path());
    let bridge = BridgeGuard::start(&format!("https://localhost:{}/v1", upstream.port));

    let answer = post_json(
        &bridge.url("/v1/responses"),
        &json!({"model": "m", "input": "hi", "stream": false}),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json()["output"][0]["content"][0]["text"],
        "hello over TLS"
    );

    let models = get(&bridge.url("/v1/models"), &[]);
    assert_eq!(models.status, 200, "{}", models.body);
    assert_eq!(models.json()["data"][0]["id"], "tls-model");
}
