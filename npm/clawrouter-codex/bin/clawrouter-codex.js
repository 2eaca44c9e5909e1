#!/usr/bin/env node
// Launcher of the clawrouter-codex npm package (no dependencies). The binary comes in a
// per-platform package, one of this package's optionalDependencies (npm installs only the
// one whose `os`/`cpu` match); this script finds it and runs it with the same arguments,
// inherited stdio, SIGINT/SIGTERM/SIGHUP forwarded, and the binary's exit status.
"use strict";

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

// `${process.platform}-${process.arch}` → the package carrying the binary.
const PLATFORM_PACKAGES = {
  "linux-x64": "clawrouter-codex-linux-x64",
  "linux-arm64": "clawrouter-codex-linux-arm64",
  "darwin-x64": "clawrouter-codex-darwin-x64",
  "darwin-arm64": "clawrouter-codex-darwin-arm64",
};

const REINSTALL = "npm install -g clawrouter-codex";
const FROM_SOURCE =
  "cargo install --locked --git https://github.com/BlockRunAI/clawrouter-codex";

// Tests only: pretend to run on another platform (e.g. `win32-x64`).
function platformKey() {
  return (
    process.env.CLAWROUTER_CODEX_TEST_PLATFORM ||
    `${process.platform}-${process.arch}`
  );
}

// The binary's path, or throws an Error whose message tells the user what to do.
function findBinary(key) {
  const pkg = PLATFORM_PACKAGES[key];
  if (!pkg) {
    const why = key.startsWith("win32-")
      ? "Windows is not supported: the bridge relies on Unix signals, file modes and " +
        "systemd/launchd services. Use WSL 2 (Linux x64/arm64) instead."
      : `Build it from source instead: ${FROM_SOURCE}`;
    throw new Error(
      `no prebuilt binary for ${key}; supported: ${Object.keys(PLATFORM_PACKAGES).join(", ")}.\n${why}`,
    );
  }
  let dir;
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    throw new Error(
      `the package with the binary for ${key}, ${pkg}, is not installed. npm leaves it out ` +
        "when optional dependencies are omitted (--no-optional, --omit=optional, " +
        `omit=optional in .npmrc).\nReinstall with optional dependencies: ${REINSTALL}`,
    );
  }
  const binary = path.join(dir, "bin", "clawrouter-codex");
  if (!fs.existsSync(binary)) {
    throw new Error(`${pkg} has no ${binary}; reinstall: ${REINSTALL}`);
  }
  return binary;
}

function main() {
  let binary;
  try {
    binary = findBinary(platformKey());
  } catch (err) {
    process.stderr.write(`clawrouter-codex: ${err.message}\n`);
    process.exit(1);
  }
  // argv[0] is the name it was invoked by (`clawrouter-codex` or `blockrun-codex`), as if
  // the binary had been run through a symlink of that name.
  const child = spawn(binary, process.argv.slice(2), {
    stdio: "inherit",
    argv0: path.basename(process.argv[1] || "clawrouter-codex"),
  });
  const forward = (signal) => {
    try {
      child.kill(signal);
    } catch {
      // the child is already gone
    }
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => forward(signal));
  }
  child.on("error", (err) => {
    process.stderr.write(`clawrouter-codex: cannot run ${binary}: ${err.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    if (signal) {
      // Die of the same signal, so a shell sees what the binary died of.
      process.exitCode = 128 + (os.constants.signals[signal] || 0);
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code === null ? 1 : code);
  });
}

if (require.main === module) {
  main();
}

module.exports = { PLATFORM_PACKAGES, findBinary };
