//! The upstream side: the SSE parser (`translate::sse`) and the stream translator
//! (`translate::stream::StreamTranslator`), fed arbitrary upstream bytes split at arbitrary
//! points.
//!
//! Input: [`super::Input`]; flag bit 7 set → the upstream body is built from the rest with
//! [`generate`] (Chat chunks with text, `<think>` spans, leaked calls, tool-call fragments,
//! finish reasons, usage, error frames, comments, garbage, in LF, CRLF or CR framing; or a
//! whole `chat.completion`), else the rest is the body as it is. Bit 0: the bridge's web
//! search is offered; bit 1: a reasoning key seals reasoning; bit 2: no tools declared. The
//! split seed cuts the body into reads (byte by byte up to 4 KiB pieces, empty reads too).
//!
//! Properties: never panics; the parser gives the same frames whole and in pieces; the
//! translator always finishes (after EOF, and after any web-search round the answer asks
//! for), writes nothing once finished, and writes well-formed Responses events: `event:` +
//! `data:` blocks whose data is JSON of that `type`, sequence numbers 0, 1, 2…, items added
//! in output-index order with unique ids, deltas only between an item's `added` and `done`,
//! text and argument deltas adding up to the `done` values, exactly one terminal event, last,
//! listing every item; its `response_json()` is the terminal event's response; the events are
//! the same (ids aside) whether the body came whole or in pieces, and a `stream:false` client
//! gets the same Response; a body that is a whole `chat.completion` gives the same events fed
//! as a stream or with `feed_completion`.

use std::collections::HashMap;

use clawrouter_codex::translate::events::ResponseMeta;
use clawrouter_codex::translate::request::ResponseEcho;
use clawrouter_codex::translate::sse::{SseFrame, SseParser};
use clawrouter_codex::translate::stream::StreamTranslator;
use clawrouter_codex::translate::tools::{ToolKind, ToolMap};
use serde_json::{json, Value};

use super::{key, normalize_ids, pieces, Gen, Input};

const URL: &str = "http://127.0.0.1:9/v1";
const CREATED_AT: u64 = 1_700_000_000;
const DONE_AT: u64 = 1_700_000_009;
/// The next model call's answer after a web-search round.
const FOLLOW_UP: &[u8] =
    b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"found it\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

/// Checks one fuzz input (see the module documentation).
pub fn check(data: &[u8]) {
    let input = Input::parse(data);
    let body = if input.flag(7) {
        generate(input.rest)
    } else {
        input.rest.to_vec()
    };
    check_body(&body, input.flags, input.seed);
}

/// Checks one upstream body with the setup `flags` selects, cut as `seed` says.
pub fn check_body(body: &[u8], flags: u8, seed: u64) {
    let setup = Setup {
        web_search: flags & 1 != 0,
        key: flags & 2 != 0,
        tools: flags & 4 == 0,
    };
    let ends = pieces(body.len(), seed);

    let whole_frames = frames(body, &[body.len()]);
    assert_eq!(
        frames(body, &ends),
        whole_frames,
        "the SSE parser's frames depend on the chunking"
    );

    let whole = run(&setup, body, &[body.len()], Mode::Events);
    let events = check_events(&whole.events);
    let terminal = &events.last().expect("a terminal event").1;
    let response: Value = serde_json::from_slice(&whole.response).expect("response_json() is JSON");
    assert_eq!(
        response, terminal["response"],
        "response_json() is the terminal event's response"
    );

    let split = run(&setup, body, &ends, Mode::Events);
    assert_eq!(
        normalized(&check_events(&split.events)),
        normalized(&events),
        "the events depend on the chunking of the upstream body"
    );

    let quiet = run(&setup, body, &ends, Mode::NoEvents);
    assert!(
        quiet.events.is_empty(),
        "a stream:false translator wrote events"
    );
    let mut quiet_response: Value =
        serde_json::from_slice(&quiet.response).expect("response_json() is JSON");
    let mut streamed_response = terminal["response"].clone();
    normalize_ids(&mut quiet_response, &mut HashMap::new());
    normalize_ids(&mut streamed_response, &mut HashMap::new());
    assert_eq!(
        quiet_response, streamed_response,
        "stream:false gets another Response than the stream's"
    );

    if body.trim_ascii_start().first() == Some(&b'{') {
        let completion = run(&setup, body, &[], Mode::Completion);
        assert_eq!(
            normalized(&check_events(&completion.events)),
            normalized(&events),
            "a chat.completion fed as a stream differs from feed_completion"
        );
    }
}

struct Setup {
    web_search: bool,
    key: bool,
    tools: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// A streaming client, the body fed in pieces.
    Events,
    /// A `stream:false` client, the body fed in pieces.
    NoEvents,
    /// A streaming client, the body given whole to `feed_completion`.
    Completion,
}

struct Run {
    events: Vec<u8>,
    response: Vec<u8>,
}

fn tools(setup: &Setup) -> ToolMap {
    let mut map = ToolMap::default();
    if setup.tools {
        map.declare(ToolKind::Function, None, "exec_command");
        map.declare(ToolKind::Custom, None, "apply_patch");
        map.declare(ToolKind::Function, Some("mcp__demo"), "add_numbers");
    }
    if setup.web_search {
        map.declare(ToolKind::WebSearch, None, "web_search");
    }
    map
}

fn run(setup: &Setup, body: &[u8], ends: &[usize], mode: Mode) -> Run {
    let meta = ResponseMeta {
        id: "resp_fuzz".to_owned(),
        created_at: CREATED_AT,
        model: "fuzz-model".to_owned(),
    };
    let key = setup.key.then(key);
    let echo = ResponseEcho::default();
    let mut t = if mode == Mode::NoEvents {
        StreamTranslator::without_events(meta, &echo, tools(setup), key, URL.to_owned())
    } else {
        StreamTranslator::new(meta, &echo, tools(setup), key, URL.to_owned())
    };
    let mut out = Vec::new();
    t.start(&mut out);
    t.keepalive(&mut out);
    if mode == Mode::Completion {
        t.feed_completion(body, DONE_AT, &mut out);
    } else {
        let mut at = 0;
        for &end in ends {
            t.feed(&body[at..end], DONE_AT, &mut out);
            at = end;
        }
        t.upstream_ended(DONE_AT, &mut out);
    }
    for round in 0..3 {
        let Some(searches) = t.pending_searches() else {
            break;
        };
        let n = searches.len();
        let queries: Vec<String> = (0..n).map(|i| format!("query {i}")).collect();
        t.start_searches(&queries, &mut out);
        let outcomes = (0..n)
            .map(|i| (i % 2 == 0, format!("result {i}")))
            .collect();
        if t.searches_done(outcomes, DONE_AT, &mut out).is_some() {
            t.allow_searches(round == 0);
            t.feed(FOLLOW_UP, DONE_AT, &mut out);
            t.upstream_ended(DONE_AT, &mut out);
        }
    }
    assert!(t.is_finished(), "the response did not end");
    let len = out.len();
    t.keepalive(&mut out);
    t.feed(b"data: {\"choices\":[]}\n\n", DONE_AT, &mut out);
    t.upstream_ended(DONE_AT, &mut out);
    assert_eq!(out.len(), len, "events written after the terminal event");
    Run {
        events: out,
        response: t.response_json(),
    }
}

/// The parser's frames for `body` read in pieces ending at `ends`, then EOF.
fn frames(body: &[u8], ends: &[usize]) -> Vec<Option<Vec<u8>>> {
    let mut parser = SseParser::new();
    let mut frames = Vec::new();
    let mut push = |frame: SseFrame<'_>| {
        frames.push(match frame {
            SseFrame::Data(data) => Some(data.to_vec()),
            SseFrame::Done => Some(b"[DONE]".to_vec()),
            SseFrame::TooLarge => None,
        })
    };
    let mut at = 0;
    for &end in ends {
        parser.feed(&body[at..end], &mut push);
        at = end;
    }
    parser.finish(&mut push);
    frames
}

fn normalized(events: &[(String, Value)]) -> Vec<Value> {
    let mut ids = HashMap::new();
    events
        .iter()
        .map(|(_, data)| {
            let mut data = data.clone();
            normalize_ids(&mut data, &mut ids);
            data
        })
        .collect()
}

/// Parses the Responses events and checks their shape (see the module documentation).
pub fn check_events(bytes: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(bytes).expect("the events are UTF-8");
    assert!(text.ends_with("\n\n"), "the stream ends mid-event");
    let mut events = Vec::new();
    for block in text.split_terminator("\n\n") {
        let mut lines = block.split('\n');
        let name = lines
            .next()
            .and_then(|l| l.strip_prefix("event: "))
            .unwrap_or_else(|| panic!("no event line in {block:?}"));
        let data = lines
            .next()
            .and_then(|l| l.strip_prefix("data: "))
            .unwrap_or_else(|| panic!("no data line in {block:?}"));
        assert!(lines.next().is_none(), "extra line in {block:?}");
        let value: Value = serde_json::from_str(data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {data}"));
        assert_eq!(value["type"], name, "type differs from the event name");
        events.push((name.to_owned(), value));
    }

    #[derive(Default)]
    struct Item {
        id: String,
        done: bool,
        text: String,
        arguments: String,
    }
    let mut items: Vec<Item> = Vec::new();
    let mut done_order: Vec<usize> = Vec::new();
    let terminal_at = events.len() - 1;
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(
            data["sequence_number"], i as u64,
            "sequence number of event {i}"
        );
        let terminal = matches!(
            name.as_str(),
            "response.completed" | "response.incomplete" | "response.failed"
        );
        assert_eq!(
            terminal,
            i == terminal_at,
            "{name} at {i} of {}",
            events.len()
        );
        if let Some(response) = data.get("response") {
            let status = response["status"].as_str().expect("response status");
            let want = match name.as_str() {
                "response.completed" => "completed",
                "response.incomplete" => "incomplete",
                "response.failed" => "failed",
                _ => "in_progress",
            };
            assert_eq!(status, want, "status of {name}");
        }
        let index = data["output_index"].as_u64().map(|n| n as usize);
        match name.as_str() {
            "response.output_item.added" => {
                let index = index.expect("output_index");
                assert_eq!(index, items.len(), "items added in output-index order");
                let id = data["item"]["id"].as_str().expect("item id").to_owned();
                assert!(items.iter().all(|item| item.id != id), "item id reused");
                items.push(Item {
                    id,
                    ..Item::default()
                });
            }
            "response.output_item.done" => {
                let index = index.expect("output_index");
                let item = items.get_mut(index).expect("done before added");
                assert!(!item.done, "item {index} done twice");
                assert_eq!(data["item"]["id"], item.id.as_str());
                item.done = true;
                done_order.push(index);
                let done = &data["item"];
                match done["type"].as_str() {
                    Some("message") => {
                        let text = done["content"][0]["text"].as_str().unwrap_or("");
                        assert_eq!(text, item.text, "message text differs from its deltas");
                    }
                    Some("function_call") => {
                        let arguments = done["arguments"].as_str().expect("arguments");
                        assert_eq!(arguments, item.arguments, "arguments differ from deltas");
                    }
                    _ => {}
                }
            }
            other if index.is_some() && data.get("item_id").is_some() => {
                let index = index.unwrap_or_default();
                let item = items
                    .get_mut(index)
                    .unwrap_or_else(|| panic!("{other} before its item"));
                assert_eq!(data["item_id"], item.id.as_str(), "{other} item_id");
                assert!(!item.done, "{other} after its item is done");
                match other {
                    "response.output_text.delta" => {
                        item.text += data["delta"].as_str().expect("text delta")
                    }
                    "response.output_text.done" => {
                        assert_eq!(data["text"], item.text.as_str(), "output_text.done")
                    }
                    "response.function_call_arguments.delta" => {
                        item.arguments += data["delta"].as_str().expect("arguments delta")
                    }
                    "response.function_call_arguments.done" => assert_eq!(
                        data["arguments"],
                        item.arguments.as_str(),
                        "function_call_arguments.done"
                    ),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert!(
        items.iter().all(|item| item.done),
        "an item is still open at the terminal event"
    );
    let output = events[terminal_at].1["response"]["output"]
        .as_array()
        .expect("terminal output");
    let listed: Vec<&str> = output
        .iter()
        .filter_map(|item| item["id"].as_str())
        .collect();
    let mut by_index = done_order.clone();
    by_index.sort_unstable();
    let want: Vec<&str> = by_index.iter().map(|&i| items[i].id.as_str()).collect();
    assert_eq!(
        listed, want,
        "the terminal output lists every item in order"
    );
    events
}

// ------------------------------------------------------------------ structured upstream bodies

const TEXTS: &[&str] = &[
    "Hello",
    " world",
    "",
    "  \n",
    "<think>",
    "</think>",
    "<thi",
    "nk>reason",
    "</thi",
    "<tool_call>",
    "</tool_call>",
    "{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}",
    "{\"name\": \"apply_patch\", \"arguments\": \"*** Begin Patch\\n*** End Patch\"}",
    "[{\"name\":\"exec_command\",\"arguments\":{}}]",
    "```json\n",
    "\n```",
    "{\"tool_calls\":[{\"type\":\"function\",\"function\":{\"name\":\"web_search\",\"arguments\":\"{}\"}}]}",
    "é🦀",
];
const NAMES: &[&str] = &[
    "exec_command",
    "apply_patch",
    "mcp__demo__add_numbers",
    "web_search",
    "undeclared",
    "",
];
const ARGUMENTS: &[&str] = &[
    "{\"cmd\"",
    ":\"ls\"}",
    "{}",
    "",
    "\"{\\\"cmd\\\":\\\"ls\\\"}\"",
    "{\"input\":\"*** Begin Patch\\n\"}",
    "{\"query\":\"rust fuzzing\"}",
    "{\"queries\":[\"a\",\"b\"]}",
    "not json",
];
const FINISH: &[&str] = &[
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "error",
    "function_call",
    "weird",
];

/// An upstream body built from `data` (see the module documentation).
pub fn generate(data: &[u8]) -> Vec<u8> {
    let mut g = Gen::new(data);
    if g.int(5) == 0 {
        let mut out = g.one(&["", " ", "\n\r\n"]).as_bytes().to_vec();
        out.extend_from_slice(completion(&mut g).to_string().as_bytes());
        return out;
    }
    let eol = g.one(&["\n", "\r\n", "\r"]);
    let mut out = Vec::new();
    if g.int(7) == 0 {
        out.extend_from_slice(b"\xef\xbb\xbf");
    }
    let frames = g.int(16);
    for _ in 0..frames {
        frame(&mut g, eol, &mut out);
    }
    out
}

fn frame(g: &mut Gen<'_>, eol: &str, out: &mut Vec<u8>) {
    let data = |out: &mut Vec<u8>, text: &str| {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(eol.as_bytes());
        out.extend_from_slice(eol.as_bytes());
    };
    match g.int(12) {
        0..=4 => {
            let delta = delta(g);
            let finish = if g.int(4) == 0 {
                json!(g.one(FINISH))
            } else {
                Value::Null
            };
            let mut chunk = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
            if g.int(5) == 0 {
                chunk["usage"] = usage(g);
            }
            data(out, &chunk.to_string());
        }
        5 => data(
            out,
            &json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [], "usage": usage(g)})
                .to_string(),
        ),
        6 => {
            let status = g.one(&[json!(402), json!(429), json!(500), json!(400), json!("x")]);
            let message = g.one(&[
                "maximum context length is 8192 tokens",
                "insufficient funds",
                "boom",
            ]);
            data(
                out,
                &json!({"error": {"message": message, "status": status, "type": "insufficient_funds"}})
                    .to_string(),
            );
        }
        7 => data(out, g.one(&["[DONE]", " [DONE] "])),
        8 => {
            let line = g.one(&[": heartbeat", ": x-clawrouter-debug profile=auto", "event: message", "id: 7", "retry: 100", "data"]);
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(eol.as_bytes());
            if g.bool() {
                out.extend_from_slice(eol.as_bytes());
            }
        }
        9 => data(out, g.one(&["not json", "[1,2]", "\"a string\"", "{\"choices\":5}", "{\"choices\":[{\"delta\":null}]}"])),
        10 => {
            let raw = g.any_string(64);
            out.extend_from_slice(raw.as_bytes());
        }
        _ => {
            // A data frame split over two `data:` lines (joined with a newline).
            let chunk = json!({"choices": [{"index": 0, "delta": delta(g), "finish_reason": null}]})
                .to_string();
            let cut = chunk.find(',').unwrap_or(chunk.len());
            out.extend_from_slice(format!("data: {}{eol}data: {}{eol}{eol}", &chunk[..cut], &chunk[cut..]).as_bytes());
        }
    }
}

fn delta(g: &mut Gen<'_>) -> Value {
    let mut delta = serde_json::Map::new();
    if g.int(3) == 0 {
        delta.insert("role".into(), json!("assistant"));
    }
    match g.int(7) {
        0..=2 => {
            let text = if g.int(3) == 0 {
                g.text()
            } else {
                g.one(TEXTS).to_owned()
            };
            delta.insert("content".into(), json!(text));
        }
        3 => {
            let field = g.one(&["reasoning_content", "reasoning"]);
            delta.insert(field.into(), json!(g.one(&["thinking…", " more", ""])));
        }
        4 => {
            delta.insert(
                "reasoning_details".into(),
                json!([{"type": "reasoning.text", "text": "detail"}]),
            );
        }
        5 | 6 => {
            let n = 1 + g.int(1);
            let calls: Vec<Value> = (0..n).map(|_| tool_call_fragment(g)).collect();
            delta.insert("tool_calls".into(), json!(calls));
        }
        _ => {
            delta.insert("content".into(), Value::Null);
        }
    }
    Value::Object(delta)
}

fn tool_call_fragment(g: &mut Gen<'_>) -> Value {
    let mut call = serde_json::Map::new();
    if g.int(3) != 0 {
        call.insert("index".into(), json!(g.int(2)));
    }
    if g.bool() {
        call.insert("id".into(), json!(g.one(&["c1", "c2", "call_x", ""])));
        call.insert("type".into(), json!("function"));
    }
    let mut function = serde_json::Map::new();
    if g.bool() {
        function.insert("name".into(), json!(g.one(NAMES)));
    }
    if g.int(3) != 0 {
        function.insert("arguments".into(), json!(g.one(ARGUMENTS)));
    }
    call.insert("function".into(), Value::Object(function));
    Value::Object(call)
}

fn usage(g: &mut Gen<'_>) -> Value {
    json!({"prompt_tokens": g.int(1000), "completion_tokens": g.int(1000),
           "total_tokens": g.int(2000),
           "prompt_tokens_details": {"cached_tokens": g.int(10)},
           "completion_tokens_details": {"reasoning_tokens": g.int(10)}})
}

/// A whole `chat.completion` (or an error body, or other JSON).
fn completion(g: &mut Gen<'_>) -> Value {
    match g.int(5) {
        0 => json!({"error": {"message": "rate limited", "status": g.one(&[429, 402, 500, 400])}}),
        1 => g.json(3),
        _ => {
            let mut message = json!({"role": "assistant", "content": if g.bool() { json!(g.one(TEXTS)) } else { Value::Null }});
            if g.bool() {
                message["reasoning_content"] = json!("because");
            }
            if g.bool() {
                let n = g.int(3);
                let calls: Vec<Value> = (0..n)
                    .map(|i| {
                        json!({"id": format!("c{i}"), "type": "function",
                        "function": {"name": g.one(NAMES), "arguments": g.one(ARGUMENTS)}})
                    })
                    .collect();
                message["tool_calls"] = json!(calls);
            }
            json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
                   "choices": [{"index": 0, "message": message, "finish_reason": g.one(FINISH)}],
                   "usage": usage(g)})
        }
    }
}
