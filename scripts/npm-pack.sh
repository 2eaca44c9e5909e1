#!/usr/bin/env bash
# Packs the npm packages from npm/ for one platform: the launcher package `clawrouter-codex`
# and the platform package `clawrouter-codex-<os>-<cpu>` carrying the stripped binary, both
# stamped with Cargo.toml's version, as tarballs in the output directory (`npm pack`).
#
#   scripts/npm-pack.sh [--binary PATH] [--platform OS-CPU] [--out DIR] [--no-strip]
#
# --binary   the binary to ship (default: target/release/clawrouter-codex, built first)
# --platform linux-x64, linux-arm64, darwin-x64 or darwin-arm64 (default: this machine's)
# --out      where the tarballs go (default: target/npm)
# --no-strip ship the binary as it is (STRIP names the strip command otherwise, e.g. a
#            cross toolchain's aarch64-linux-gnu-strip)
# Prints the two tarballs' paths, the launcher's first.
set -euo pipefail
cd "$(dirname "$0")/.."

# `timeout` bounds the build and `npm pack` where there is one (macOS has none by default).
bounded() { # seconds command...
  local secs=$1; shift
  if command -v timeout >/dev/null 2>&1; then timeout "$secs" "$@"; else "$@"; fi
}

binary="" platform="" out="target/npm" strip=1
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --platform) platform=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-strip) strip=0; shift ;;
    *) echo "npm-pack.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ -z "$platform" ]; then
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) os=unsupported ;; esac
  case "$(uname -m)" in x86_64 | amd64) cpu=x64 ;; aarch64 | arm64) cpu=arm64 ;; *) cpu=unsupported ;; esac
  platform="$os-$cpu"
fi
case "$platform" in
  linux-x64 | linux-arm64 | darwin-x64 | darwin-arm64) ;;
  *) echo "npm-pack.sh: no npm package for platform $platform" >&2; exit 2 ;;
esac

if [ -z "$binary" ]; then
  bounded 3600 cargo build --release --locked --bin clawrouter-codex >&2
  binary=target/release/clawrouter-codex
fi
[ -x "$binary" ] || { echo "npm-pack.sh: $binary is not an executable" >&2; exit 2; }

version=$(sed -n 's/^version = "\([^"]*\)"$/\1/p' Cargo.toml | head -n 1)
[ -n "$version" ] || { echo "npm-pack.sh: no version in Cargo.toml" >&2; exit 2; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

main="$stage/clawrouter-codex"
plat="$stage/clawrouter-codex-$platform"
cp -R npm/clawrouter-codex "$main"
mkdir -p "$plat/bin"
cp npm/platform/package.json npm/platform/README.md "$plat/"
cp "$binary" "$plat/bin/clawrouter-codex"
chmod 0755 "$plat/bin/clawrouter-codex" "$main/bin/clawrouter-codex.js"
if [ "$strip" = 1 ]; then
  "${STRIP:-strip}" "$plat/bin/clawrouter-codex"
fi

# Stamp the version (and the platform package's name, os and cpu) into the templates.
node - "$main/package.json" "$plat" "$version" "$platform" <<'JS'
const fs = require("node:fs");
const path = require("node:path");
const [mainJson, platDir, version, platform] = process.argv.slice(2);
const [os, cpu] = platform.split("-");
const main = JSON.parse(fs.readFileSync(mainJson, "utf8"));
main.version = version;
for (const dep of Object.keys(main.optionalDependencies)) main.optionalDependencies[dep] = version;
fs.writeFileSync(mainJson, JSON.stringify(main, null, 2) + "\n");
for (const file of ["package.json", "README.md"]) {
  const p = path.join(platDir, file);
  const text = fs.readFileSync(p, "utf8")
    .replaceAll("@PLATFORM@", platform).replaceAll("@OS@", os).replaceAll("@CPU@", cpu);
  fs.writeFileSync(p, text);
}
const plat = JSON.parse(fs.readFileSync(path.join(platDir, "package.json"), "utf8"));
plat.version = version;
fs.writeFileSync(path.join(platDir, "package.json"), JSON.stringify(plat, null, 2) + "\n");
JS

for dir in "$main" "$plat"; do
  name=$(cd "$dir" && bounded 300 npm pack --pack-destination "$out" --loglevel=error | tail -n 1)
  echo "$out/$name"
done
