#!/usr/bin/env python3
"""Capture the real requests Codex CLI sends to a custom Responses provider.

A dev tool (Python 3 stdlib only, loopback only). Three sub-commands:

  capture-codex.py capture [--out DIR] [--only NAME ...] [--keep]
      Run every scenario below against the real Codex CLI and write the scrubbed
      request bodies to DIR (default tests/fixtures/codex): <name>.json, plus
      first_turn.headers.json. This is how tests/fixtures/codex/ was produced.

  capture-codex.py serve --out DIR [--port N] [--script FILE]
      A stand-alone capture server on 127.0.0.1: it answers POST .../responses
      with scripted Responses SSE and logs each request as DIR/NNN.json (body)
      and DIR/NNN.headers.json (method, path, headers). FILE is JSON:
      {"replies": [[item, ...], ...], "final_text": "..."}; reply N (0-based)
      answers the N-th /responses request, each a list of output items; once
      the list is exhausted, a message with final_text is sent.

  capture-codex.py mcp-server
      A minimal MCP stdio server (newline-delimited JSON-RPC) with one tool,
      add_numbers(a, b). Used by the mcp_namespace scenario.

Codex is started with CODEX_BIN (default .tools/codex/node_modules/.bin/codex),
a temporary CODEX_HOME and HOME, no OPENAI_API_KEY, and HTTP(S)_PROXY pointing
at a dead loopback port (NO_PROXY=127.0.0.1,localhost) so that nothing it might
try to fetch leaves the machine.
"""

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CODEX = REPO / ".tools/codex/node_modules/.bin/codex"
SCRIPT = Path(__file__).resolve()

# Placeholders that replace machine-specific strings in captured requests.
PH_WORK = "/tmp/work"
PH_CODEX_HOME = "/tmp/codex-home"
PH_HOME = "/tmp/home"
PH_TMP = "/tmp/capture"
PH_INSTALLATION_ID = "00000000-0000-4000-8000-000000000000"


# --------------------------------------------------------------------------
# Responses SSE
# --------------------------------------------------------------------------


def sse_event(obj):
    return "event: %s\ndata: %s\n\n" % (obj["type"], json.dumps(obj))


def responses_sse(resp_id, items):
    """A minimal but valid Responses stream carrying `items`."""
    out = [sse_event({"type": "response.created", "response": {"id": resp_id}})]
    for i, item in enumerate(items):
        out.append(
            sse_event({"type": "response.output_item.added", "output_index": i, "item": item})
        )
        out.append(
            sse_event({"type": "response.output_item.done", "output_index": i, "item": item})
        )
    out.append(
        sse_event(
            {
                "type": "response.completed",
                "response": {
                    "id": resp_id,
                    "usage": {
                        "input_tokens": 100,
                        "input_tokens_details": None,
                        "output_tokens": 10,
                        "output_tokens_details": None,
                        "total_tokens": 110,
                    },
                },
            }
        )
    )
    return "".join(out).encode()


def message_item(text, item_id="msg_final"):
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


def function_call_item(call_id, name, args, namespace=None, item_id=None):
    item = {
        "type": "function_call",
        "id": item_id or "fc_" + call_id,
        "call_id": call_id,
        "name": name,
        "arguments": json.dumps(args, separators=(",", ":")),
    }
    if namespace:
        item["namespace"] = namespace
    return item


class CaptureServer:
    """Threaded HTTP server that logs requests and replays scripted replies."""

    def __init__(self, out_dir, replies, final_text="Done.", port=0):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.replies = replies
        self.final_text = final_text
        self.lock = threading.Lock()
        self.count = 0  # requests logged
        self.responses = 0  # /responses requests answered
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # keep stderr quiet
                pass

            def _log(self, body):
                with server.lock:
                    n = server.count
                    server.count += 1
                meta = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                }
                (server.out_dir / ("%03d.headers.json" % n)).write_text(
                    json.dumps(meta, indent=2) + "\n"
                )
                try:
                    parsed = json.loads(body)
                    text = json.dumps(parsed, indent=2, ensure_ascii=False) + "\n"
                except ValueError:
                    text = body.decode("utf-8", "replace")
                (server.out_dir / ("%03d.json" % n)).write_text(text)

            def _read_body(self):
                if "chunked" in self.headers.get("transfer-encoding", "").lower():
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("content-length", "0"))
                return self.rfile.read(n) if n else b""

            def _send(self, status, ctype, body):
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self._read_body()
                self._log(body)
                if not self.path.split("?")[0].endswith("/responses"):
                    self._send(404, "application/json", b'{"error":{"message":"not found"}}')
                    return
                with server.lock:
                    idx = server.responses
                    server.responses += 1
                if idx < len(server.replies):
                    items = server.replies[idx]
                else:
                    items = [message_item(server.final_text, "msg_final_%d" % idx)]
                self._send(200, "text/event-stream", responses_sse("resp_%d" % idx, items))

            def do_GET(self):
                self._log(b"")
                self._send(404, "application/json", b'{"error":{"message":"not found"}}')

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------
# MCP stdio server
# --------------------------------------------------------------------------


def mcp_server():
    tool = {
        "name": "add_numbers",
        "description": "Add two numbers and return the sum.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "a": {"type": "number", "description": "first addend"},
                "b": {"type": "number", "description": "second addend"},
            },
            "required": ["a", "b"],
        },
    }
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if "id" not in msg or "method" not in msg:
            continue  # notification or response
        method, params = msg["method"], msg.get("params") or {}
        if method == "initialize":
            result = {
                "protocolVersion": params.get("protocolVersion", "2025-06-18"),
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": "demo", "version": "0.1.0"},
            }
        elif method == "tools/list":
            result = {"tools": [tool]}
        elif method == "tools/call":
            args = params.get("arguments") or {}
            total = args.get("a", 0) + args.get("b", 0)
            if isinstance(total, float) and total.is_integer():
                total = int(total)
            result = {"content": [{"type": "text", "text": str(total)}], "isError": False}
        elif method == "ping":
            result = {}
        elif method in ("resources/list", "resources/templates/list", "prompts/list"):
            key = {
                "resources/list": "resources",
                "resources/templates/list": "resourceTemplates",
                "prompts/list": "prompts",
            }[method]
            result = {key: []}
        else:
            reply = {"jsonrpc": "2.0", "id": msg["id"],
                     "error": {"code": -32601, "message": "method not found"}}
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
            continue
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}) + "\n")
        sys.stdout.flush()


# --------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------

PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello from apply_patch\n*** End Patch\n"

SCENARIOS = {
    # name: prompt, replies, which request to keep (0-based), extra options
    "first_turn": {
        "prompt": "Say hello.",
        "replies": [[message_item("Hello!")]],
        "keep": 0,
        "headers": True,
    },
    "shell_call_followup": {
        "prompt": "Create a.txt containing hi.",
        "replies": [[function_call_item("call_shell_1", "exec_command", {"cmd": "echo hi > a.txt"})]],
        "keep": 1,
        "expect_file": "a.txt",
    },
    "apply_patch_followup": {
        "prompt": "Create hello.txt with apply_patch.",
        "replies": [[{
            "type": "custom_tool_call",
            "id": "ctc_patch_1",
            "status": "completed",
            "call_id": "call_patch_1",
            "name": "apply_patch",
            "input": PATCH,
        }]],
        "keep": 1,
        "expect_file": "hello.txt",
    },
    "two_calls_followup": {
        "prompt": "Create one.txt and two.txt.",
        "replies": [[
            function_call_item("call_two_1", "exec_command", {"cmd": "echo one > one.txt"}),
            function_call_item("call_two_2", "exec_command", {"cmd": "echo two > two.txt"}),
        ]],
        "keep": 1,
        "expect_file": "two.txt",
    },
    "image_input": {
        "prompt": "What is in this image?",
        "replies": [[message_item("A single red pixel.")]],
        "keep": 0,
        "image": True,
    },
    "mcp_namespace": {
        "prompt": "Use the demo MCP server to add 2 and 3.",
        "replies": [[function_call_item("call_mcp_1", "add_numbers", {"a": 2, "b": 3},
                                        namespace="mcp__demo")]],
        "keep": 1,
        "mcp": True,
        "multi_agent_default": True,
    },
    "reasoning_followup": {
        "prompt": "Think, then list the files.",
        "replies": [[
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [],
                "content": [{"type": "reasoning_text",
                             "text": "The user wants the file list; run ls."}],
                "encrypted_content": "opaque",
            },
            function_call_item("call_ls_1", "exec_command", {"cmd": "ls"}),
        ]],
        "keep": 1,
        "files": {"notes.txt": "remember the milk\n"},
    },
}


def catalog(multi_agent_default):
    entry = {
        "slug": "test-model",
        "display_name": "Test Model",
        "description": "Capture fixture model",
        "supported_reasoning_levels": [],
        "shell_type": "unified_exec",
        "visibility": "list",
        "supported_in_api": True,
        "priority": 1,
        "support_verbosity": False,
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "experimental_supported_tools": [],
        "apply_patch_tool_type": "freeform",
        "default_reasoning_summary": "none",
        "supports_search_tool": False,
        "use_responses_lite": False,
        "context_window": 128000,
        "input_modalities": ["text", "image"],
        "base_instructions": "You are Codex, a coding agent. You run shell commands with "
        "exec_command and edit files with apply_patch.",
    }
    if not multi_agent_default:
        entry["multi_agent_version"] = "disabled"
    return {"models": [entry]}


def tiny_png():
    """A valid 1x1 red RGB PNG."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def toml_str(s):
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def codex_env(home, codex_home):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        "TERM": os.environ.get("TERM", "xterm"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        # Safety net: anything Codex fetches besides the loopback provider dies here.
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "ALL_PROXY": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "all_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    return env


def scrub(text, replacements):
    for old, new in replacements:
        text = text.replace(old, new)
    return text


def installation_id(codex_home):
    """The random id Codex stores in CODEX_HOME and sends in client_metadata."""
    try:
        ident = (codex_home / "installation_id").read_text().strip()
    except OSError:
        return []
    return [(ident, PH_INSTALLATION_ID)] if ident else []


def run_scenario(name, spec, codex_bin, out_dir, keep_tmp, timeout):
    root = Path(tempfile.mkdtemp(prefix="codex-capture-"))
    work, home, codex_home, log = root / "work", root / "home", root / "codex-home", root / "log"
    for d in (work, home, codex_home, log):
        d.mkdir()
    server = CaptureServer(log, spec["replies"]).start()
    try:
        cat = codex_home / "catalog.json"
        cat.write_text(json.dumps(catalog(spec.get("multi_agent_default", False)), indent=2))
        cfg = [
            'model = "test-model"',
            'model_provider = "capture"',
            "model_catalog_json = %s" % toml_str(str(cat)),
            "check_for_update_on_startup = false",
            "",
            "[analytics]",
            "enabled = false",
            "",
            "[model_providers.capture]",
            'name = "Capture"',
            'base_url = "http://127.0.0.1:%d/v1"' % server.port,
            'wire_api = "responses"',
            "requires_openai_auth = false",
            "supports_websockets = false",
            "request_max_retries = 0",
            "stream_max_retries = 0",
            "",
        ]
        if spec.get("mcp"):
            cfg += [
                "[mcp_servers.demo]",
                "command = %s" % toml_str(sys.executable),
                "args = [%s, \"mcp-server\"]" % toml_str(str(SCRIPT)),
                "",
            ]
        (codex_home / "config.toml").write_text("\n".join(cfg))
        for fname, content in spec.get("files", {}).items():
            (work / fname).write_text(content)
        args = [str(codex_bin), "exec"]
        if spec.get("image"):
            # `-i` takes several values: keep it away from the positional prompt.
            png = work / "pixel.png"
            png.write_bytes(tiny_png())
            args += ["-i", str(png)]
        args += ["--json", "--skip-git-repo-check",
                 "--dangerously-bypass-approvals-and-sandbox", "-C", str(work), spec["prompt"]]
        proc = subprocess.Popen(args, env=codex_env(home, codex_home), cwd=str(work),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            print("  %s: codex timed out" % name, file=sys.stderr)
        (root / "stdout.jsonl").write_bytes(stdout)
        (root / "stderr.txt").write_bytes(stderr)
        if proc.returncode != 0:
            print("  %s: codex exited %s\n%s" % (name, proc.returncode,
                                                 stderr.decode(errors="replace")[-2000:]),
                  file=sys.stderr)
        if spec.get("expect_file") and not (work / spec["expect_file"]).exists():
            print("  %s: WARNING: %s was not created" % (name, spec["expect_file"]),
                  file=sys.stderr)

        # Only /responses requests count; `keep` indexes them.
        bodies = []
        for i in range(server.count):
            meta = json.loads((log / ("%03d.headers.json" % i)).read_text())
            if meta["path"].split("?")[0].endswith("/responses"):
                bodies.append(i)
            else:
                print("  %s: also saw %s %s" % (name, meta["method"], meta["path"]),
                      file=sys.stderr)
        if len(bodies) <= spec["keep"]:
            raise SystemExit("%s: only %d /responses requests captured (see %s)"
                             % (name, len(bodies), root))
        n = bodies[spec["keep"]]
        replacements = sorted(
            [
                (str(work.resolve()), PH_WORK), (str(work), PH_WORK),
                (str(codex_home.resolve()), PH_CODEX_HOME), (str(codex_home), PH_CODEX_HOME),
                (str(home.resolve()), PH_HOME), (str(home), PH_HOME),
                (str(root.resolve()), PH_TMP), (str(root), PH_TMP),
                (str(SCRIPT), "/repo/scripts/capture-codex.py"),
                (sys.executable, "python3"),
                ("127.0.0.1:%d" % server.port, "127.0.0.1:PORT"),
            ] + installation_id(codex_home),
            key=lambda kv: -len(kv[0]),
        )
        body = scrub((log / ("%03d.json" % n)).read_text(), replacements)
        for leak in ("/root/", root.name):
            if leak in body:
                print("  %s: WARNING: %r still present after scrubbing" % (name, leak),
                      file=sys.stderr)
        (out_dir / ("%s.json" % name)).write_text(body)
        written = ["%s.json" % name]
        if spec.get("headers"):
            hdr = scrub((log / ("%03d.headers.json" % n)).read_text(), replacements)
            (out_dir / ("%s.headers.json" % name)).write_text(hdr)
            written.append("%s.headers.json" % name)
        print("%s: %s (%d /responses requests, kept #%d)"
              % (name, ", ".join(written), len(bodies), spec["keep"]))
    finally:
        server.stop()
        if keep_tmp:
            print("  kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)


def cmd_capture(args):
    codex_bin = Path(os.environ.get("CODEX_BIN", DEFAULT_CODEX))
    if not codex_bin.exists():
        raise SystemExit("Codex CLI not found at %s (set CODEX_BIN)" % codex_bin)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = args.only or list(SCENARIOS)
    for name in names:
        if name not in SCENARIOS:
            raise SystemExit("unknown scenario %s (have: %s)" % (name, ", ".join(SCENARIOS)))
        run_scenario(name, SCENARIOS[name], codex_bin, out_dir, args.keep, args.timeout)


def cmd_serve(args):
    replies, final_text = [], "Done."
    if args.script:
        script = json.loads(Path(args.script).read_text())
        replies = script.get("replies", [])
        final_text = script.get("final_text", final_text)
    server = CaptureServer(args.out, replies, final_text, args.port)
    print("listening on http://127.0.0.1:%d/v1" % server.port, flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture", help="run the scenarios against Codex and write fixtures")
    c.add_argument("--out", default=str(REPO / "tests/fixtures/codex"))
    c.add_argument("--only", nargs="*", help="scenario names (default: all)")
    c.add_argument("--keep", action="store_true", help="keep the temp dirs for inspection")
    c.add_argument("--timeout", type=float, default=120.0)
    s = sub.add_parser("serve", help="run a stand-alone capture server")
    s.add_argument("--out", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--script")
    sub.add_parser("mcp-server", help="minimal MCP stdio server (add_numbers)")
    args = p.parse_args()
    if args.cmd == "capture":
        cmd_capture(args)
    elif args.cmd == "serve":
        cmd_serve(args)
    else:
        mcp_server()


if __name__ == "__main__":
    main()
