//! `clawrouter-codex`: parse the command line, load the config, run the command.
//! Exit codes: 0 success, 1 ran and found a problem, 2 bad usage or bad configuration.

use std::process::ExitCode;
use std::sync::Arc;

use clawrouter_codex::admin;
use clawrouter_codex::cli::{Command, ProxyAction};
use clawrouter_codex::config::{self, CliOverrides};
use clawrouter_codex::server::{self, StartError};

/// jemalloc, not the system allocator: glibc keeps what a burst freed (10,000 refused
/// connections left RSS at 4.5× idle for good), jemalloc hands it back within a second and
/// costs less CPU per request (docs/ARCHITECTURE.md, "Memory", for the measurements).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read when it starts: freed pages are returned after 1 s (dirty decay)
/// straight to the system (no muzzy stage, whose pages would still count in RSS), by a
/// background thread, so an idle bridge gives memory back too (Linux only: jemalloc has no
/// background threads on macOS, where the decay runs on the next allocations).
#[cfg(target_os = "linux")]
#[export_name = "_rjem_malloc_conf"]
static JEMALLOC_CONF: &[u8; 60] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";
#[cfg(not(target_os = "linux"))]
#[export_name = "_rjem_malloc_conf"]
static JEMALLOC_CONF: &[u8; 37] = b"dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> ExitCode {
    let cli = clawrouter_codex::cli::parse_args();
    let overrides = CliOverrides {
        verbose: cli.verbose,
    };
    let config = match config::load(cli.conf.as_deref(), &overrides) {
        Ok(config) => Arc::new(config),
        Err(e) => {
            eprintln!("clawrouter-codex: {e}");
            return ExitCode::from(2);
        }
    };
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or(config.log_level.as_str()),
    )
    .format_timestamp_millis()
    .init();
    match cli.command.unwrap_or(Command::Bridge) {
        Command::Bridge => run_bridge(config),
        Command::Start => admin::supervisor::start(config),
        Command::Up => admin::supervisor::up(config),
        Command::Setup(args) => admin::setup::run(&config, args.keep_legacy),
        Command::Doctor(args) => admin::doctor::run(&config, args.json),
        Command::GenCatalog => admin::catalog::run(&config),
        Command::Desktop(args) => admin::toggles::desktop(&config, args.action),
        Command::Websearch(args) => admin::toggles::websearch(&config, args.action),
        Command::Daemon(args) => admin::daemon::run(&config, config.source.as_deref(), args.action),
        Command::Wallet(args) => admin::wallet::run(&config, args.json),
        Command::Spend(args) => admin::spend::run(&config, args.json),
        Command::Proxy(args) => match args.action {
            ProxyAction::Upgrade { yes } => admin::pin::upgrade(&config, yes),
        },
    }
}

fn run_bridge(config: Arc<config::Config>) -> ExitCode {
    match server::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ (StartError::PortInUse { .. } | StartError::Listen { .. })) => {
            eprintln!("clawrouter-codex: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("clawrouter-codex: {e}");
            ExitCode::from(1)
        }
    }
}
