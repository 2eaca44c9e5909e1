//! The command line (clap). Global options apply to every command; no command means `bridge`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Run OpenAI Codex on any Chat Completions model — first of all ClawRouter.
#[derive(Debug, Parser)]
#[command(name = "clawrouter-codex", version, about, long_about = None)]
pub struct Cli {
    /// Bridge config file (YAML). Default: ./conf/bridge.yaml, else ~/.clawrouter-codex/bridge.yaml.
    #[arg(short = 'c', long = "conf", global = true, value_name = "FILE")]
    pub conf: Option<PathBuf>,

    /// Log debug details.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run only the bridge (the Pingora service) in the foreground (the default).
    Bridge,
}
