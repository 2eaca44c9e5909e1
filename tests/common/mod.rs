//! Helpers shared by the integration and end-to-end test binaries.
//!
//! - [`mock_upstream`]: a strict mock ClawRouter / OpenAI-compatible Chat Completions server.
//! - [`codex`]: drives the real Codex CLI against a bridge.
//! - [`bridge`]: runs the bridge in-process.
//!
//! Each test binary uses only some of them, hence the `dead_code` allowances.
#![allow(dead_code)]

pub mod bridge;
pub mod client;
pub mod codex;
pub mod mock_upstream;
