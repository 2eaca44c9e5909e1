//! The leaked-tool-call scanner (`translate::leaked`): `recover_leaked_calls` on a whole text
//! and `LeakHold` on the same text streamed in pieces.
//!
//! Input: [`super::Input`]; flag bit 7 set → the text is assembled from call-shaped fragments
//! (JSON calls, `<tool_call>` tags, fences, prose, data that looks like calls) chosen by the
//! rest, else the rest is the text (lossy UTF-8). Bit 0: no tools declared. The split seed
//! cuts the text into pieces on character boundaries.
//!
//! Properties: never panics; a text without a possible leak, or without declared tools, or
//! from which no call is recovered, comes back unchanged; every recovered call names a
//! declared tool; the visible text is not longer than the text; streamed in pieces, the hold
//! only ever releases a prefix of the text and ends with exactly what the whole-text scan
//! gives (text and calls); flushed or finished without calls, it gives back the text
//! unchanged.

use clawrouter_codex::translate::leaked::{may_contain_leak, recover_leaked_calls, LeakHold};
use clawrouter_codex::translate::tools::{ToolKind, ToolMap};

use super::{char_pieces, Gen, Input};

/// Checks one fuzz input (see the module documentation).
pub fn check(data: &[u8]) {
    let input = Input::parse(data);
    let text = if input.flag(7) {
        generate(input.rest)
    } else {
        String::from_utf8_lossy(input.rest).into_owned()
    };
    check_text(&text, input.flags, input.seed);
}

fn tools(declared: bool) -> ToolMap {
    let mut map = ToolMap::default();
    if declared {
        map.declare(ToolKind::Function, None, "exec_command");
        map.declare(ToolKind::Function, None, "view_image");
        map.declare(ToolKind::Custom, None, "apply_patch");
        map.declare(ToolKind::Function, Some("mcp__demo"), "add_numbers");
    }
    map
}

/// Checks one text with the tools `flags` selects, streamed in the pieces `seed` cuts.
pub fn check_text(text: &str, flags: u8, seed: u64) {
    let tools = tools(flags & 1 == 0);
    let (visible, calls) = recover_leaked_calls(text, &tools);
    if tools.is_empty() || !may_contain_leak(text) || calls.is_empty() {
        assert_eq!(visible, text, "text changed without a recovered call");
        assert!(calls.is_empty());
    }
    assert!(visible.len() <= text.len(), "the visible text grew");
    for call in &calls {
        assert!(
            tools.resolve(&call.chat_name).is_some(),
            "recovered an undeclared tool {:?}",
            call.chat_name
        );
    }

    let ends = char_pieces(text, seed);
    let mut hold = LeakHold::new();
    let mut shown = String::new();
    let mut at = 0;
    for &end in &ends {
        hold.push(&text[at..end], &tools, &mut shown);
        at = end;
        assert!(
            text.starts_with(shown.as_str()),
            "the hold released text that is not the text's prefix"
        );
    }
    let after_text = !shown.is_empty();
    let (rest, streamed_calls) = hold.finish(&tools, true, after_text);
    shown.push_str(&rest);
    assert_eq!(
        (shown.as_str(), &streamed_calls),
        (visible.as_str(), &calls),
        "streaming in pieces differs from the whole-text scan"
    );

    // Released without looking for calls: the text comes back as it was.
    for flush in [true, false] {
        let mut hold = LeakHold::new();
        let mut shown = String::new();
        let mut at = 0;
        for &end in &ends {
            hold.push(&text[at..end], &tools, &mut shown);
            at = end;
        }
        if flush {
            hold.flush(&mut shown);
        } else {
            let after_text = !shown.is_empty();
            let (rest, calls) = hold.finish(&tools, false, after_text);
            assert!(calls.is_empty(), "calls recovered while not allowed");
            shown.push_str(&rest);
        }
        assert_eq!(shown, text, "text lost or changed (flush: {flush})");
        assert!(hold.is_empty());
    }
}

const FRAGMENTS: &[&str] = &[
    "I'll run it.",
    "\n",
    "\n\n",
    " ",
    "```json\n",
    "```",
    "\n```\n",
    "<tool_call>",
    "</tool_call>",
    "<tool_ca",
    "{\"name\": \"exec_command\", \"arguments\": {\"cmd\": \"ls\"}}",
    "{\"name\":\"exec_command\",\"arguments\":\"{\\\"cmd\\\":\\\"ls\\\"}\"}",
    "{\"name\":\"view_image\"}",
    "{\"name\":\"apply_patch\",\"arguments\":\"*** Begin Patch\\n*** End Patch\\n\"}",
    "{\"type\":\"function\",\"function\":{\"name\":\"exec_command\",\"arguments\":\"{}\"}}",
    "{\"tool_calls\":[{\"type\":\"function\",\"function\":{\"name\":\"mcp__demo__add_numbers\",\"arguments\":{\"a\":1}}}]}",
    "{\"tool_name\":\"exec_command\",\"tool_args\":{\"cmd\":\"pwd\"}}",
    "[{\"name\":\"exec_command\",\"arguments\":{}},",
    "{\"name\":\"view_image\",\"arguments\":{\"path\":\"a\"}}]",
    "{\"name\": \"rm_rf\", \"arguments\": {}}",
    "{\"name\": \"exec_command\", \"version\": \"1.0.0\"}",
    "{\"result\": ",
    "}",
    "{",
    "[",
    "]",
    "\"",
    "\\",
    "{\"",
    "[{",
    "\"name\"",
    "\"function\"",
    ":",
    ",",
    "fn main() { let x = {\"name\"}; }",
    "é🦀",
    "`code`",
    "<b>bold</b>",
];

/// A text assembled from call-shaped fragments chosen by `data`.
pub fn generate(data: &[u8]) -> String {
    let mut g = Gen::new(data);
    let n = g.int(24);
    let mut text = String::new();
    for _ in 0..n {
        if g.int(9) == 0 {
            text.push_str(&g.any_string(16));
        } else {
            text.push_str(g.one(FRAGMENTS));
        }
    }
    text
}
