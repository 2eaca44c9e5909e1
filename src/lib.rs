//! clawrouter-codex: a Pingora bridge that lets OpenAI Codex (Responses API) run on any
//! Chat Completions upstream, first of all ClawRouter.
//!
//! - [`translate`]: the pure Responses ⇄ Chat translation (no Pingora types).
//! - [`proxy`]: the Pingora service; hooks stay thin and delegate.
//! - [`upstream_client`]: the bridge's own pooled HTTP client to the upstream (translation,
//!   health probes, the model list, the management commands).
//! - [`handlers`]: endpoints answered locally (`/health`, Ollama-style `/api/*`, the loopback
//!   dashboard).
//! - [`config`], [`cli`], [`server`]: configuration, command line, server lifecycle.
//! - [`connection_guard`]: bounds on client connections (cap, header deadline and size).
//! - [`error`], [`decode`]: the bridge's own errors; request body decoding.
//! - [`session_io`]: reading the request bodies the bridge consumes and writing the answers it
//!   makes itself (JSON, errors, SSE framing), for `proxy` and `handlers` alike.
//! - [`fsutil`]: atomic file replacement and private folders, for every file the bridge writes.
//! - [`access_log`]: the one line per request, written off the request's path.
//! - [`metrics`]: `/metrics` (Prometheus), counted once per request.
//! - [`outcome`]: how a request ended (log line and metrics label).
//! - [`secrets`]: the reasoning key kept on disk.
//! - [`funding`]: which address to fund and on which chain (ClawRouter's `/health`).
//! - [`keys`]: wallet keys derived here (the Solana keypair of ClawRouter's mnemonic).
//! - [`payments`]: direct mode's payment core (x402 v2, USDC on Base): policy, signature,
//!   ledger. Not wired into the proxy yet.
//! - [`admin`]: the management commands (setup, doctor, toggles, wallet, daemon, start).

pub mod access_log;
pub mod admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connection_guard;
pub mod decode;
pub mod direct;
pub mod error;
pub mod excerpt;
pub mod fingerprint;
pub mod fsutil;
pub mod funding;
pub mod handlers;
pub mod keys;
pub mod metrics;
pub mod outcome;
pub mod payments;
pub mod proxy;
pub mod secrets;
pub mod server;
pub mod session_io;
pub mod translate;
pub mod upstream_client;
pub mod ws_session;
