//! `start` / `up` as a user runs them: the real binary, a temp HOME and CODEX_HOME, free
//! ports, and a fake ClawRouter (a small Python 3 stdlib script) as `CLAWROUTER_CMD`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::bridge::free_port;

/// A fake ClawRouter: serves `/health` and `/v1/models` on `--port`, prints a line on stdout
/// and on stderr (the latter echoing the wallet key, which `start` must redact), and records
/// its PID, the key it received and its HOME in the state folder given as first argument.
const FAKE_PROXY: &str = r#"
import http.server, json, os, sys
state = sys.argv[1]
port = int(sys.argv[sys.argv.index("--port") + 1])

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/health"):
            code, body = 200, {"status": "ok", "wallet": "0xfake", "paymentChain": "base"}
        elif self.path.startswith("/v1/models"):
            code, body = 200, {"object": "list", "data": [{"id": "fake-proxy-model", "object": "model", "created": 0, "owned_by": "fake"}]}
        else:
            code, body = 404, {"error": "Not found"}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
key = os.environ.get("BLOCKRUN_WALLET_KEY", "")
def put(name, text):
    tmp = os.path.join(state, name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, os.path.join(state, name))
put("key", key)
put("home", os.environ.get("HOME", ""))
with open(os.path.join(state, "launches"), "a") as f:
    f.write("%d\n" % os.getpid())
put("pid", str(os.getpid()))
print("fake proxy listening on port %d" % port, flush=True)
print("fake proxy wallet key is %s" % (key or "none"), file=sys.stderr, flush=True)
server.serve_forever()
"#;

const KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

fn python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is needed for the fake proxy");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// One test's world: temp HOME, CODEX_HOME, state folder for the fake, two free ports.
struct World {
    dir: tempfile::TempDir,
    bridge_port: u16,
    proxy_port: u16,
    python: String,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["home", "codex", "state", "cwd"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("fake_proxy.py"), FAKE_PROXY).unwrap();
        let bridge_port = free_port();
        let mut proxy_port = free_port();
        while proxy_port == bridge_port {
            proxy_port = free_port();
        }
        World {
            dir,
            bridge_port,
            proxy_port,
            python: python(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `CLAWROUTER_CMD` running the fake with its state in `state`.
    fn fake_cmd(&self, state: &Path) -> String {
        shlex::try_join([
            self.python.as_str(),
            self.path("fake_proxy.py").to_str().unwrap(),
            state.to_str().unwrap(),
        ])
        .unwrap()
    }

    /// The binary with a clean environment for this world.
    fn bin(&self, proxy_cmd: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawrouter-codex"));
        for var in [
            "PORT",
            "PROXY_PORT",
            "CLAWROUTER_PROXY_URL",
            "CLAWROUTER_CMD",
            "CLAWROUTER_VERSION",
            "BLOCKRUN_WALLET_KEY",
            "BASE_CHAIN_WALLET_KEY",
            "BLOCKRUN_HOME",
            "WALLET_KEY_FILE",
            "ISOLATE_HOME",
            "CODEX_HOME",
            "WEB_SEARCH",
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
        cmd.current_dir(self.path("cwd"))
            .env("HOME", self.path("home"))
            .env("CODEX_HOME", self.path("codex"))
            .env("PORT", self.bridge_port.to_string())
            .env("PROXY_PORT", self.proxy_port.to_string())
            .env("CLAWROUTER_CMD", proxy_cmd);
        cmd
    }

    fn spawn(&self, mut cmd: Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        Running { child, log }
    }

    fn state_pid(&self, state: &str) -> Option<u32> {
        std::fs::read_to_string(self.path(state).join("pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// A running `start`/`up`, its combined output collected as it comes.
struct Running {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Running {
    fn output(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn wait_for_output(&self, needle: &str, secs: u64) -> String {
        let found = wait_until(secs, || self.output().contains(needle));
        let out = self.output();
        assert!(found, "no {needle:?} within {secs} s in:\n{out}");
        out
    }

    /// Sends `signal`, returns (exit code, how long the stop took, output).
    fn stop(mut self, signal: &str) -> (Option<i32>, Duration, String) {
        let begun = Instant::now();
        send_signal(self.child.id(), signal);
        let deadline = begun + Duration::from_secs(5);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = begun.elapsed();
        std::thread::sleep(Duration::from_millis(100));
        (status.and_then(|s| s.code()), took, self.output())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

fn alive(pid: u32) -> bool {
    // A zombie still answers `kill -0`; /proc tells them apart where it exists.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
    if let Ok(stat) = stat {
        return !stat.contains(") Z ");
    }
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `GET path` on loopback `port`: (status, body), or None when nothing answers.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).ok()?;
    let status = raw.split_whitespace().nth(1)?.parse().ok()?;
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

fn healthy(port: u16, needle: &str) -> bool {
    matches!(get(port, "/health"), Some((200, body)) if body.contains(needle))
}

fn assert_stopped_cleanly(code: Option<i32>, took: Duration, out: &str) {
    assert_eq!(code, Some(0), "exit code; output:\n{out}");
    assert!(took < Duration::from_secs(2), "stop took {took:?}\n{out}");
    assert!(!out.contains("panicked"), "{out}");
}

#[test]
fn start_brings_up_both_passes_the_key_only_to_the_proxy_and_stops_on_sigterm() {
    let w = World::new();
    let state = w.path("state");
    let mut cmd = w.bin(&w.fake_cmd(&state));
    cmd.env("BLOCKRUN_WALLET_KEY", KEY).arg("start");
    let run = w.spawn(cmd);

    assert!(
        wait_until(15, || healthy(w.bridge_port, "clawrouter-codex")),
        "bridge /health:\n{}",
        run.output()
    );
    assert!(
        wait_until(10, || healthy(w.proxy_port, "\"ok\"")),
        "proxy /health:\n{}",
        run.output()
    );
    // The default upstream followed PROXY_PORT: the bridge forwards to the fake.
    let (status, body) = get(w.bridge_port, "/v1/models").expect("bridge answers");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("fake-proxy-model"), "{body}");
    let health = get(w.bridge_port, "/health").unwrap().1;
    assert!(
        health.contains(&format!("127.0.0.1:{}/v1", w.proxy_port)),
        "{health}"
    );

    // The key reached the proxy child, and only through its environment.
    assert_eq!(std::fs::read_to_string(state.join("key")).unwrap(), KEY);
    let out = run.wait_for_output("[proxy] fake proxy wallet key is", 5);
    assert!(
        out.contains("[proxy] fake proxy listening on port"),
        "{out}"
    );
    assert!(out.contains("[redacted]"), "{out}");

    let pid = w.state_pid("state").expect("fake wrote its pid");
    assert!(alive(pid));
    let (code, took, out) = run.stop("TERM");
    assert_stopped_cleanly(code, took, &out);
    assert!(!alive(pid), "the proxy child {pid} is still running");
    assert!(!out.contains(KEY), "key in output:\n{out}");
    assert!(!out.contains(&KEY[2..]), "key in output:\n{out}");
    assert!(
        get(w.bridge_port, "/health").is_none(),
        "bridge still answers"
    );
}

/// A fake `npx` in its own folder: records the arguments it was given, one per line, in
/// `<state>/npx-argv`, then runs the fake ClawRouter with them (it finds `--port` there).
fn fake_npx(w: &World, state: &Path) -> PathBuf {
    let bin = w.path("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{state}/npx-argv'\nexec '{python}' '{fake}' '{state}' \"$@\"\n",
        state = state.display(),
        python = w.python,
        fake = w.path("fake_proxy.py").display(),
    );
    let npx = bin.join("npx");
    std::fs::write(&npx, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&npx, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn start_runs_the_pinned_clawrouter_with_npx_and_doctor_sees_it() {
    let w = World::new();
    let state = w.path("state");
    let bin = fake_npx(&w, &state);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = w.bin("");
    cmd.env_remove("CLAWROUTER_CMD")
        .env("PATH", &path)
        .arg("start");
    let run = w.spawn(cmd);
    assert!(
        wait_until(15, || healthy(w.proxy_port, "\"ok\"")),
        "proxy /health:\n{}",
        run.output()
    );
    let argv = std::fs::read_to_string(state.join("npx-argv")).unwrap();
    assert_eq!(
        argv,
        format!(
            "-y\n@blockrun/clawrouter@0.12.246\n--port\n{}\n",
            w.proxy_port
        )
    );
    let out = run.wait_for_output(
        "proxy started: `npx -y @blockrun/clawrouter@0.12.246 --port",
        5,
    );
    assert!(!out.contains("@latest"), "{out}");

    // doctor: the pinned version runs; with another pin it is a failure with the fix
    let doctor = |version: Option<&str>| {
        let mut cmd = w.bin("");
        cmd.env_remove("CLAWROUTER_CMD").arg("doctor");
        if let Some(v) = version {
            cmd.env("CLAWROUTER_VERSION", v);
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let pid = w.state_pid("state").expect("fake wrote its pid");
    let report = doctor(None);
    assert!(
        report.contains(&format!(
            "✅ proxy version — ClawRouter 0.12.246 runs (pid {pid}), the pinned version"
        )),
        "{report}"
    );
    let report = doctor(Some("0.12.250"));
    assert!(
        report.contains("❌ proxy version — ClawRouter 0.12.246 runs (pid "),
        "{report}"
    );
    assert!(
        report.contains("but the config asks for the pinned ClawRouter 0.12.250"),
        "{report}"
    );
    assert!(report.contains("fix: restart the proxy"), "{report}");

    let (code, took, out) = run.stop("TERM");
    assert_stopped_cleanly(code, took, &out);
    assert!(
        !w.path("home/.clawrouter-codex/proxy.json").exists(),
        "the launch record outlived the proxy"
    );
}

#[test]
fn a_killed_proxy_is_restarted_with_a_reason() {
    let w = World::new();
    let mut cmd = w.bin(&w.fake_cmd(&w.path("state")));
    cmd.arg("start");
    let run = w.spawn(cmd);
    assert!(
        wait_until(15, || w.state_pid("state").is_some()),
        "{}",
        run.output()
    );
    run.wait_for_output("proxy is up", 10);
    let first = w.state_pid("state").unwrap();
    send_signal(first, "KILL");
    assert!(
        wait_until(10, || w.state_pid("state").is_some_and(|p| p != first)),
        "not restarted:\n{}",
        run.output()
    );
    let out = run.output();
    assert!(out.contains("killed by signal 9"), "{out}");
    assert!(out.contains("restarting in 1 s"), "{out}");
    let second = w.state_pid("state").unwrap();
    assert!(wait_until(5, || healthy(w.proxy_port, "\"ok\"")));
    assert!(healthy(w.bridge_port, "clawrouter-codex"));

    let (code, took, out) = run.stop("INT");
    assert_stopped_cleanly(code, took, &out);
    assert!(
        !alive(second),
        "the restarted proxy {second} is still running"
    );
}

#[test]
fn a_missing_proxy_command_is_reported_and_retried_while_the_bridge_stays_up() {
    let w = World::new();
    let mut cmd = w.bin("/nonexistent/clawrouter-xyz --flag");
    cmd.arg("start");
    let run = w.spawn(cmd);
    assert!(
        wait_until(15, || healthy(w.bridge_port, "clawrouter-codex")),
        "{}",
        run.output()
    );
    let out = run.wait_for_output("retrying in 2 s", 10);
    assert!(
        out.contains("cannot start the proxy `/nonexistent/clawrouter-xyz --flag --port"),
        "{out}"
    );
    assert!(out.contains("retrying in 1 s"), "{out}");
    assert!(healthy(w.bridge_port, "clawrouter-codex"));
    let (code, took, out) = run.stop("TERM");
    assert_stopped_cleanly(code, took, &out);
}

#[test]
fn a_proxy_that_exits_at_once_is_reported_with_code_and_stderr() {
    let w = World::new();
    let proxy = shlex::try_join([
        w.python.as_str(),
        "-c",
        "import sys; print('npm error network request failed: offline', file=sys.stderr); sys.exit(3)",
    ])
    .unwrap();
    let mut cmd = w.bin(&proxy);
    cmd.arg("start");
    let run = w.spawn(cmd);
    let out = run.wait_for_output("restarting in 2 s", 15);
    assert!(out.contains("exited with exit code 3"), "{out}");
    assert!(
        out.contains("    npm error network request failed: offline"),
        "{out}"
    );
    assert!(out.contains("[proxy] npm error network"), "{out}");
    assert!(healthy(w.bridge_port, "clawrouter-codex"));
    let (code, took, out) = run.stop("TERM");
    assert_stopped_cleanly(code, took, &out);
}

#[test]
fn a_proxy_already_running_is_used_not_duplicated() {
    let w = World::new();
    std::fs::create_dir_all(w.path("mine")).unwrap();
    let mut mine = Command::new(&w.python)
        .arg(w.path("fake_proxy.py"))
        .arg(w.path("mine"))
        .args(["--port", &w.proxy_port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(10, || healthy(w.proxy_port, "\"ok\"")));

    let mut cmd = w.bin(&w.fake_cmd(&w.path("state")));
    cmd.arg("start");
    let run = w.spawn(cmd);
    let out = run.wait_for_output("not starting another", 15);
    assert!(out.contains("a proxy already answers"), "{out}");
    assert!(wait_until(10, || healthy(
        w.bridge_port,
        "clawrouter-codex"
    )));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        w.state_pid("state").is_none(),
        "a second proxy was launched"
    );
    let (code, took, out) = run.stop("TERM");
    assert_stopped_cleanly(code, took, &out);
    // Not ours: still running after `start` stopped.
    assert!(
        mine.try_wait().unwrap().is_none(),
        "start stopped a proxy it did not start"
    );
    let _ = mine.kill();
    let _ = mine.wait();
}

#[test]
fn a_bridge_port_held_by_something_else_is_exit_2_and_launches_nothing() {
    let w = World::new();
    let listener = TcpListener::bind(("127.0.0.1", w.bridge_port)).unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let body = r#"{"status":"ok"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let mut cmd = w.bin(&w.fake_cmd(&w.path("state")));
    cmd.arg("start");
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not clawrouter-codex"), "{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{}", w.bridge_port)),
        "{stderr}"
    );
    assert!(w.state_pid("state").is_none(), "the proxy was launched");
}

#[test]
fn up_uses_a_running_bridge_and_a_key_file_with_an_isolated_home() {
    let w = World::new();
    // Our own bridge, already running (as a login service would run it).
    let mut bridge_cmd = w.bin("unused");
    bridge_cmd.arg("bridge");
    let bridge = w.spawn(bridge_cmd);
    assert!(
        wait_until(15, || healthy(w.bridge_port, "clawrouter-codex")),
        "{}",
        bridge.output()
    );

    let key_file = w.path("wallet.key");
    std::fs::write(&key_file, format!("  {KEY}\n")).unwrap();
    let mut cmd = w.bin(&w.fake_cmd(&w.path("state")));
    cmd.env("WALLET_KEY_FILE", &key_file)
        .env("ISOLATE_HOME", "1")
        .arg("up");
    let run = w.spawn(cmd);
    let out = run.wait_for_output("running setup", 15);
    assert!(out.contains("the bridge is already running"), "{out}");
    let out = run.wait_for_output("Dashboard: http://127.0.0.1:", 30);
    assert!(
        out.contains(&format!(
            "Dashboard: http://127.0.0.1:{}/dashboard",
            w.bridge_port
        )),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(w.path("state").join("key")).unwrap(),
        KEY
    );
    let home = std::fs::read_to_string(w.path("state").join("home")).unwrap();
    assert_eq!(
        PathBuf::from(home),
        w.path("home").join(".clawrouter-codex").join("proxy-home")
    );
    let pid = w.state_pid("state").unwrap();
    let (code, took, out) = run.stop("TERM");
    assert_stopped_cleanly(code, took, &out);
    assert!(!alive(pid), "the proxy child {pid} is still running");
    assert!(!out.contains(&KEY[2..]), "key in output:\n{out}");
    // The bridge `up` found running was not its own: it still answers.
    assert!(healthy(w.bridge_port, "clawrouter-codex"));
    let (code, _, _) = bridge.stop("INT");
    assert_eq!(code, Some(0));
}

#[test]
fn a_wrapper_and_its_child_that_ignore_sigterm_are_killed_within_2_s() {
    // Like `npx` running `node`: the fake runs as a grandchild under a shell, and both
    // ignore SIGTERM, so only the SIGKILL to the process group ends them.
    let w = World::new();
    let inner = w.fake_cmd(&w.path("state"));
    let script = format!("trap '' TERM; {inner} \"$@\" & wait");
    let proxy = shlex::try_join(["sh", "-c", script.as_str(), "sh"]).unwrap();
    let mut cmd = w.bin(&proxy);
    cmd.arg("start");
    let run = w.spawn(cmd);
    run.wait_for_output("proxy is up", 15);
    let grandchild = w.state_pid("state").unwrap();
    let (code, took, out) = run.stop("TERM");
    assert_stopped_cleanly(code, took, &out);
    assert!(out.contains("killing it"), "{out}");
    assert!(
        wait_until(1, || !alive(grandchild)),
        "the proxy's child {grandchild} is still running"
    );
}

#[test]
fn up_in_direct_mode_runs_the_bridge_and_setup_and_no_proxy() {
    use common::mock_upstream::{MockUpstream, Paywall, Reply};
    let mock = MockUpstream::builder()
        .blockrun(Paywall::base())
        .start(|_| Reply::text("ok"));
    let w = World::new();
    let state = w.path("state");
    let mut cmd = w.bin(&w.fake_cmd(&state));
    cmd.env("BLOCKRUN_WALLET_KEY", KEY)
        .env("UPSTREAM_KIND", "direct")
        .env("DIRECT_CHAIN", "base")
        .env("BLOCKRUN_API_URL", mock.api_base())
        .arg("up");
    let run = w.spawn(cmd);
    assert!(
        wait_until(15, || healthy(w.bridge_port, "clawrouter-codex")),
        "bridge /health:\n{}",
        run.output()
    );
    let out = run.wait_for_output("setup finished", 30);
    assert!(
        out.contains("direct mode: the bridge pays BlockRun"),
        "{out}"
    );
    assert!(
        w.path("codex").join("clawrouter.config.toml").exists(),
        "setup wrote the profile:\n{out}"
    );
    assert!(!state.join("pid").exists(), "no proxy was started:\n{out}");
    assert!(!healthy(w.proxy_port, "\"ok\""));
    // The bridge signs with the key it read before the variable was removed.
    let (status, body) = get(w.bridge_port, "/v1/models").expect("bridge answers");
    assert_eq!(status, 200, "{body}");
    let (code, took, out) = run.stop("TERM");
    assert_stopped_cleanly(code, took, &out);
    assert!(!out.contains(&KEY[2..]), "key in output:\n{out}");
}
