//! Team mode and replicas: several upstreams behind one bridge (a conversation stays on one,
//! a refused connection moves to the next, nothing is ever sent twice), and several bridges
//! sharing one reasoning key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clawrouter_codex::config::{self, CliOverrides, EnvOverrides, FileConfig, FileTeamUpstream};
use clawrouter_codex::server::RunningBridge;
use common::bridge::{free_port, BridgeGuard};
use common::client::{get, post};
use common::mock_upstream::{thinking_model, MockUpstream, Reply};
use serde_json::{json, Value};

use common::ws::connect;

/// A bridge in team mode over `upstreams` (base URLs), health checked every second.
fn team_bridge(upstreams: &[String]) -> BridgeGuard {
    let list: Vec<FileTeamUpstream> = upstreams
        .iter()
        .map(|url| FileTeamUpstream {
            url: url.clone(),
            ..FileTeamUpstream::default()
        })
        .collect();
    BridgeGuard::start_with(&upstreams[0], |file| {
        let upstream = file.upstream.get_or_insert_with(Default::default);
        upstream.url = None;
        upstream.health_check_secs = Some(1);
        file.upstreams = Some(list);
    })
}

/// One `stream:false` turn of thread `thread`; the answer's text (or the error message).
fn turn(bridge: &BridgeGuard, thread: &str) -> (u16, String) {
    let body = json!({"model": "m", "stream": false, "input": "hi"});
    let answer = post(
        &bridge.url("/v1/responses"),
        body.to_string().as_bytes(),
        &[("session-id", thread)],
    );
    let json = answer.json();
    let text = json["output"][0]["content"][0]["text"]
        .as_str()
        .or_else(|| json["error"]["message"].as_str())
        .unwrap_or_default()
        .to_owned();
    (answer.status, text)
}

/// The threads whose calls reached `mock`.
fn threads_seen(mock: &MockUpstream) -> Vec<String> {
    mock.chat_calls()
        .iter()
        .filter_map(|call| call.header("x-session-id").map(str::to_owned))
        .collect()
}

fn metric(bridge: &BridgeGuard, series: &str) -> f64 {
    let text = get(&bridge.url("/metrics"), &[]).body;
    text.lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn a_conversation_stays_on_one_upstream_and_conversations_spread() {
    let first = MockUpstream::start(|_| Reply::text("from the first"));
    let second = MockUpstream::start(|_| Reply::text("from the second"));
    let bridge = team_bridge(&[first.base_url(), second.base_url()]);
    let threads: Vec<String> = (0..16).map(|i| format!("thread-{i:02}")).collect();
    for round in 0..3 {
        for thread in &threads {
            let (status, _) = turn(&bridge, thread);
            assert_eq!(status, 200, "round {round}, {thread}");
        }
    }
    let (on_first, on_second) = (threads_seen(&first), threads_seen(&second));
    for thread in &threads {
        let here = on_first.iter().filter(|t| *t == thread).count();
        let there = on_second.iter().filter(|t| *t == thread).count();
        assert!(
            (here, there) == (3, 0) || (here, there) == (0, 3),
            "{thread}: {here} turns on the first upstream, {there} on the second"
        );
    }
    assert!(
        !on_first.is_empty() && !on_second.is_empty(),
        "16 conversations all went to one upstream"
    );
    let health = get(&bridge.url("/health"), &[]).json();
    assert_eq!(health["upstreams"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        metric(
            &bridge,
            r#"clawrouter_codex_upstream_requests_total{upstream="0"}"#
        ) + metric(
            &bridge,
            r#"clawrouter_codex_upstream_requests_total{upstream="1"}"#
        ),
        48.0
    );
}

#[test]
fn when_an_upstream_dies_its_conversations_move_and_nothing_is_sent_twice() {
    let first = MockUpstream::start(|_| Reply::text("from the first"));
    let second = MockUpstream::start(|_| Reply::text("from the second"));
    let bridge = team_bridge(&[first.base_url(), second.base_url()]);
    let threads: Vec<String> = (0..12).map(|i| format!("thread-{i:02}")).collect();
    for thread in &threads {
        assert_eq!(turn(&bridge, thread).0, 200);
    }
    let moved: Vec<String> = threads_seen(&first);
    assert!(!moved.is_empty(), "no conversation on the first upstream");
    let calls_before = second.chat_calls().len();
    drop(first); // killed mid-run: its port now refuses connections

    // The next turn of every conversation is answered, the first upstream's by the second.
    for thread in &threads {
        let (status, text) = turn(&bridge, thread);
        println!("after the kill: {thread} → {status} {text:?}");
        assert_eq!(
            (status, text.as_str()),
            (200, "from the second"),
            "{thread}"
        );
    }
    assert_eq!(
        second.chat_calls().len() - calls_before,
        threads.len(),
        "each turn reached the surviving upstream exactly once"
    );
    let failovers = metric(&bridge, "clawrouter_codex_upstream_failovers_total");
    assert!(
        failovers >= 1.0,
        "the dead upstream's refusals were failed over"
    );
    println!("failovers counted: {failovers}");

    // The health check marks it down: new conversations no longer try it.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let health = get(&bridge.url("/health"), &[]).json();
        if health["upstreams"][0]["healthy"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "still healthy: {health}");
        std::thread::sleep(Duration::from_millis(200));
    }
    for thread in &moved {
        assert_eq!(turn(&bridge, thread).0, 200);
    }
    assert_eq!(
        metric(&bridge, "clawrouter_codex_upstream_failovers_total"),
        failovers,
        "no more failovers once the health check knows"
    );
    // Pass-through requests fail over too.
    let models = get(&bridge.url("/v1/models"), &[("session-id", &moved[0])]);
    assert_eq!(models.status, 200, "{}", models.body);
}

#[test]
fn a_request_an_upstream_has_taken_never_goes_to_another() {
    // The first upstream accepts the request and breaks off: it may have been paid for.
    let first = MockUpstream::start(|_| Reply::hang_up());
    let second = MockUpstream::start(|_| Reply::text("from the second"));
    let bridge = team_bridge(&[first.base_url(), second.base_url()]);
    let mut on_first = None;
    for i in 0..16 {
        let thread = format!("thread-{i:02}");
        let (status, message) = turn(&bridge, &thread);
        if threads_seen(&first).contains(&thread) {
            on_first = Some((thread, status, message));
            break;
        }
    }
    let (thread, status, message) = on_first.expect("a conversation on the first upstream");
    assert_eq!(status, 502, "{message}");
    assert!(message.contains(&first.base_url()), "{message}");
    assert!(
        !threads_seen(&second).contains(&thread),
        "the request was sent to a second upstream"
    );
}

#[test]
fn team_settings_are_checked() {
    let resolve = |yaml: &str| {
        let file: FileConfig = serde_yaml::from_str(yaml).expect("yaml");
        config::resolve(
            file,
            None,
            &EnvOverrides::default(),
            &CliOverrides::default(),
        )
    };
    let both = resolve(
        "upstream:\n  url: http://127.0.0.1:1/v1\nupstreams:\n  - url: http://127.0.0.1:2/v1\n",
    );
    assert!(both.unwrap_err().to_string().contains("not both"));
    let twins =
        resolve("upstreams:\n  - url: http://127.0.0.1:2/v1\n  - url: http://127.0.0.1:2/api/v1\n");
    assert!(twins.unwrap_err().to_string().contains("same address"));
    let weight = resolve("upstreams:\n  - url: http://127.0.0.1:2/v1\n    weight: 0\n");
    assert!(weight
        .unwrap_err()
        .to_string()
        .contains("upstreams[0].weight"));
    let ok = resolve(
        "upstreams:\n  - url: http://127.0.0.1:2/v1\n  - url: http://127.0.0.1:3/v1\n    weight: 3\n",
    )
    .expect("valid");
    assert_eq!(ok.upstreams.len(), 2);
    assert_eq!(ok.upstream.url, "http://127.0.0.1:2/v1");
    assert_eq!(ok.upstreams[1].weight, 3);
}

// ---- replicas ---------------------------------------------------------------------------------

fn private_key_file(dir: &Path, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("reasoning.key");
    std::fs::write(
        &path,
        b"0123456789abcdef0123456789abcdef-shared-by-replicas",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn replica(upstream: &str, key_file: Option<&Path>) -> BridgeGuard {
    BridgeGuard::start_with(upstream, |file| {
        file.reasoning_key_file = key_file.map(Path::to_path_buf);
    })
}

/// Turn 1 of a thinking model's tool call on `one`, turn 2 on `two`: the last event's type.
fn reasoning_across(one: &BridgeGuard, two: &BridgeGuard) -> Value {
    let tools = json!([{"type": "function", "name": "exec_command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}}]);
    let first = json!({"model": "deepseek/deepseek-v4", "stream": true, "input": "list files",
        "tools": tools});
    let events = post(&one.url("/v1/responses"), first.to_string().as_bytes(), &[]).events();
    let done = events
        .iter()
        .find(|e| e["type"] == "response.completed")
        .expect("turn 1 completes");
    let items = done["response"]["output"].as_array().unwrap().clone();
    let call = items
        .iter()
        .find(|i| i["type"] == "function_call")
        .expect("a tool call");
    let mut input = vec![json!({"type": "message", "role": "user", "content": "list files"})];
    input.extend(items.iter().cloned());
    input.push(
        json!({"type": "function_call_output", "call_id": call["call_id"], "output": "a.txt"}),
    );
    let second = json!({"model": "deepseek/deepseek-v4", "stream": true, "input": input,
        "tools": tools});
    let events = post(
        &two.url("/v1/responses"),
        second.to_string().as_bytes(),
        &[],
    )
    .events();
    events.last().expect("events")["type"].clone()
}

#[test]
fn replicas_sharing_a_key_file_continue_each_others_reasoning() {
    let mock = MockUpstream::start(thinking_model);
    let dir = tempfile::tempdir().unwrap();
    let key = private_key_file(dir.path(), 0o600);
    let (one, two) = (
        replica(&mock.base_url(), Some(&key)),
        replica(&mock.base_url(), Some(&key)),
    );
    assert_eq!(reasoning_across(&one, &two), "response.completed");

    // Without the shared file each bridge has its own key: the thinking model refuses.
    let (three, four) = (
        replica(&mock.base_url(), None),
        replica(&mock.base_url(), None),
    );
    assert_eq!(reasoning_across(&three, &four), "response.failed");
}

#[test]
fn a_key_file_others_can_read_stops_the_bridge_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let key = private_key_file(dir.path(), 0o644);
    let file = FileConfig {
        listen: Some(format!("127.0.0.1:{}", free_port())),
        reasoning_key_file: Some(key.clone()),
        ..FileConfig::default()
    };
    let config = config::resolve(
        file,
        None,
        &EnvOverrides::default(),
        &CliOverrides::default(),
    )
    .expect("the file itself is checked at start");
    let error = RunningBridge::start(Arc::new(config))
        .err()
        .expect("refused")
        .to_string();
    assert!(error.contains("mode 0644"), "{error}");
    assert!(
        error.contains(&format!("chmod 600 {}", key.display())),
        "{error}"
    );
}

/// Over a WebSocket, a connection keeps one upstream for all its requests (they continue one
/// conversation), even without a thread header (anonymous requests are spread otherwise).
#[test]
fn a_websocket_connection_stays_on_one_upstream() {
    let (a, b) = (
        MockUpstream::start(|_| Reply::text("from a")),
        MockUpstream::start(|_| Reply::text("from b")),
    );
    let bridge = team_bridge(&[a.base_url(), b.base_url()]);
    let mut ws = connect(&bridge.addr(), &[]).expect("upgrade");
    let mut previous = Value::Null;
    for turn in 0..8 {
        let mut request = json!({"type": "response.create", "model": "m",
            "input": format!("turn {turn}")});
        if !previous.is_null() {
            request["previous_response_id"] = previous.clone();
        }
        let answer = ws.turn(&request);
        assert_eq!(answer.last()["type"], "response.completed");
        previous = answer.response()["id"].clone();
    }
    let calls = (a.chat_calls().len(), b.chat_calls().len());
    assert!(calls == (8, 0) || calls == (0, 8), "{calls:?}");
}
