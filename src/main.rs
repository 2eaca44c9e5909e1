//! `clawrouter-codex`: parse the command line, load the config, run the command.
//! Exit codes: 0 success, 1 ran and found a problem, 2 bad usage or bad configuration.

use std::process::ExitCode;
use std::sync::Arc;

use clawrouter_codex::admin;
use clawrouter_codex::cli::{Command, ProxyAction};
use clawrouter_codex::config::{self, CliOverrides};
use clawrouter_codex::server::{self, StartError};

fn main() -> ExitCode {
    server::tune_allocator();
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
