//! The command line (clap). Global options apply to every command; no command means `bridge`.

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// The names the binary answers to: its own, and the BlockRun CLI's alias `blockrun-codex`
/// (the npm package installs both; README, Commands).
pub const NAMES: [&str; 2] = ["clawrouter-codex", "blockrun-codex"];

/// Parses the process's command line. `--version`, `--help` and usage errors name the program
/// as it was invoked when that is one of [`NAMES`], else `clawrouter-codex`; everything else
/// behaves the same under either name.
pub fn parse_args() -> Cli {
    let invoked = std::env::args_os().next().and_then(|arg0| {
        Path::new(&arg0)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
    });
    let name = NAMES
        .into_iter()
        .find(|name| invoked.as_deref() == Some(*name))
        .unwrap_or(NAMES[0]);
    let matches = Cli::command().name(name).bin_name(name).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

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

    /// The command to run; `None` (no command given) runs `bridge`.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands; each variant's doc is its one-line entry in `--help`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run only the bridge (the Pingora service) in the foreground (the default).
    Bridge,
    /// Bring up the ClawRouter proxy and the bridge, and keep both up.
    Start,
    /// `start` + `setup`: the one-command quick start.
    Up,
    /// Write the Codex profile ($CODEX_HOME/clawrouter.config.toml) and generate the model catalog.
    Setup(SetupArgs),
    /// Verify the link end to end: bridge, proxy, wallet, catalog, profile, Codex.
    Doctor(DoctorArgs),
    /// (Re)generate $CODEX_HOME/clawrouter-catalog.json from the live model list.
    GenCatalog,
    /// Switch Codex Desktop (and plain `codex`) between ClawRouter and the native default.
    Desktop(SwitchArgs),
    /// Switch live web search on or off.
    Websearch(SwitchArgs),
    /// Install, remove or inspect the login service that runs `start`.
    Daemon(DaemonArgs),
    /// Print the wallet address (derived offline; the key is never printed) and its balance.
    Wallet(WalletArgs),
    /// The ClawRouter proxy `start` runs: `proxy upgrade` pins the newest release.
    Proxy(ProxyArgs),
    /// What direct mode paid BlockRun: today (UTC), the last 7 days, per model.
    Spend(WalletArgs),
}

/// Options of `wallet`.
#[derive(Debug, Args)]
pub struct WalletArgs {
    /// Print `{"ok":true,"data":{…}}` (or `{"ok":false,"error":{…}}`) for machines.
    #[arg(long)]
    pub json: bool,
}

/// The argument of `proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// What to do with the proxy.
    #[command(subcommand)]
    pub action: ProxyAction,
}

/// The actions of `proxy`.
#[derive(Debug, Subcommand)]
pub enum ProxyAction {
    /// Move the pinned ClawRouter version (proxy.version) to the newest release, after showing
    /// old → new; asks first on a terminal, a dry run otherwise unless --yes.
    Upgrade {
        /// Write the new pin without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// Options of `setup` (`up` runs setup with the defaults).
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Leave a legacy [profiles.<name>] table (or `profile = "<name>"`) in config.toml, although
    /// `codex --profile <name>` will not start while it is there.
    #[arg(long)]
    pub keep_legacy: bool,
}

/// Options of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the checks as JSON: `{"ok":true,"data":{"checks":[…]}}`, or
    /// `{"ok":false,"error":{"code","message","checks":[…]}}` when one fails.
    #[arg(long)]
    pub json: bool,
}

/// The argument of the on/off switches `desktop` and `websearch`.
#[derive(Debug, Args)]
pub struct SwitchArgs {
    /// Turn the switch on or off, or only print its state.
    #[arg(value_enum, default_value = "status")]
    pub action: Switch,
}

/// The action of a switch command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Turn it on (edits the Codex config files).
    On,
    /// Turn it off (edits the Codex config files).
    Off,
    /// Print the current state; changes nothing.
    Status,
}

/// The argument of `daemon`.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Install or remove the service, or only print its state.
    #[arg(value_enum, default_value = "status")]
    pub action: DaemonAction,
}

/// The action of `daemon`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DaemonAction {
    /// Write the service file (systemd user unit or LaunchAgent) and start it now.
    Install,
    /// Stop the service and remove its file.
    Uninstall,
    /// Print whether the service is installed and running; changes nothing.
    Status,
}
