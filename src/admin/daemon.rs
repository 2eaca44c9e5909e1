//! `daemon install|uninstall|status`: the login service that runs `clawrouter-codex start`.
//!
//! - macOS: a launchd LaunchAgent, `~/Library/LaunchAgents/ai.blockrun.clawrouter-codex.plist`
//!   (`RunAtLoad`, `KeepAlive` = restart when it exits with a failure, stdout/stderr logs in
//!   `~/.clawrouter-codex/daemon.{out,err}.log`), loaded with `launchctl load -w`.
//! - Linux: a systemd user unit, `~/.config/systemd/user/clawrouter-codex.service`
//!   (`Restart=on-failure`, `WantedBy=default.target`, logs in the journal), enabled with
//!   `systemctl --user daemon-reload`, `enable`, and `restart` (so a reinstall applies at once).
//!
//! Both run `<this executable> [-c <config>] start`. The config is the one this command
//! loaded (made absolute), else `~/.clawrouter-codex/bridge.yaml` when it exists, else none.
//! The settings in [`CAPTURED_VARS`] are copied from the install-time environment into the
//! service (with `~` and relative paths made absolute), `PATH` included so `npx` is found.
//!
//! **A raw key (`BLOCKRUN_WALLET_KEY`, `BASE_CHAIN_WALLET_KEY`) is never written.** When one
//! is set, install checks what the service itself would find (`WALLET_KEY_FILE` /
//! `proxy.wallet_key_file`, `$BLOCKRUN_HOME/.session`): if that is a key, the service is installed without the raw key and
//! a warning says which wallet it will use; if it would fall back to ClawRouter's own wallet,
//! install refuses (exit 1) and explains how to put the key in a file (mode 0600) instead,
//! because silently paying from a different wallet is worse than not installing.
//!
//! Files are written atomically (temp file + rename). Where `systemctl`/`launchctl` is missing
//! or fails (containers, CI), install still writes the file and prints what it could not do
//! and the exact command to run.
//!
//! Exit codes: `install` 0 = written and started, 1 = refused or written but not started,
//! 2 = bad configuration (HOME unset, config path missing); `uninstall` 0 = gone (also when it
//! was not installed), 1 = a file could not be removed; `status` 0 = installed and running,
//! 1 = anything else (not installed, stopped, or unknown).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use crate::admin::wallet::{self, WalletSource};
use crate::cli::DaemonAction;
use crate::config::Config;
use crate::fsutil;

/// launchd label (and plist file stem).
pub const LABEL: &str = "ai.blockrun.clawrouter-codex";
/// systemd user unit name.
pub const UNIT_NAME: &str = "clawrouter-codex.service";
/// The warning printed by `install` (README, Commands).
pub const WARNING: &str = "Warning: the service starts a wallet-signing payment proxy at login that can spend USDC unattended; install it only on a machine you control.";
/// Environment settings copied into the service at install time. The raw key variables
/// ([`wallet::RAW_KEY_VARS`]) are deliberately absent.
pub const CAPTURED_VARS: &[&str] = &[
    "PORT",
    "PROXY_PORT",
    "CLAWROUTER_PROXY_URL",
    "CLAWROUTER_CMD",
    "CLAWROUTER_VERSION",
    "WALLET_KEY_FILE",
    "BLOCKRUN_HOME",
    "ISOLATE_HOME",
    "CODEX_HOME",
    "WEB_SEARCH",
    "PATH",
];
/// Variables whose values are paths (made absolute at capture).
const PATH_VARS: &[&str] = &["WALLET_KEY_FILE", "BLOCKRUN_HOME", "CODEX_HOME"];
/// `PATH` for the service when none is set.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Which service manager this machine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// macOS: a LaunchAgent plist in `~/Library/LaunchAgents`, managed with `launchctl`.
    Launchd,
    /// Linux: a systemd user unit in `~/.config/systemd/user`, managed with `systemctl --user`.
    Systemd,
}

impl Platform {
    /// launchd on macOS, systemd on Linux, none elsewhere.
    pub fn current() -> Option<Platform> {
        if cfg!(target_os = "macos") {
            Some(Platform::Launchd)
        } else if cfg!(target_os = "linux") {
            Some(Platform::Systemd)
        } else {
            None
        }
    }

    /// Where the service file lives under `home`.
    pub fn service_file(self, home: &Path) -> PathBuf {
        match self {
            Platform::Launchd => home
                .join("Library/LaunchAgents")
                .join(format!("{LABEL}.plist")),
            Platform::Systemd => home.join(".config/systemd/user").join(UNIT_NAME),
        }
    }

    /// The service manager's command-line tool.
    fn tool(self) -> &'static str {
        match self {
            Platform::Launchd => "launchctl",
            Platform::Systemd => "systemctl",
        }
    }

    /// The commands that activate an installed service, for people to run by hand.
    pub fn activate_hint(self, file: &Path) -> String {
        match self {
            Platform::Launchd => {
                format!("launchctl load -w {}", shell_quote(&file.to_string_lossy()))
            }
            Platform::Systemd => format!(
                "systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}"
            ),
        }
    }
}

/// Everything a service file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Absolute path of this executable.
    pub exe: PathBuf,
    /// Absolute config file passed with `-c`, if any.
    pub conf: Option<PathBuf>,
    /// Captured environment (never the raw key), in [`CAPTURED_VARS`] order.
    pub env: Vec<(String, String)>,
    /// `~/.clawrouter-codex`: working directory and (launchd) log folder.
    pub state_dir: PathBuf,
}

impl ServiceSpec {
    /// `<exe> [-c <conf>] start`.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![self.exe.to_string_lossy().into_owned()];
        if let Some(conf) = &self.conf {
            args.push("-c".to_owned());
            args.push(conf.to_string_lossy().into_owned());
        }
        args.push("start".to_owned());
        args
    }

    /// launchd's stdout log.
    pub fn stdout_log(&self) -> PathBuf {
        self.state_dir.join("daemon.out.log")
    }

    /// launchd's stderr log.
    pub fn stderr_log(&self) -> PathBuf {
        self.state_dir.join("daemon.err.log")
    }
}

/// The result of [`capture_env`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapturedEnv {
    /// The variables the service file sets, as (name, value), in [`CAPTURED_VARS`] order;
    /// path values already made absolute.
    pub vars: Vec<(String, String)>,
    /// Settings left out, each with the reason (for warnings).
    pub skipped: Vec<String>,
    /// The raw key variable that was set (and was not captured): `BLOCKRUN_WALLET_KEY` or
    /// `BASE_CHAIN_WALLET_KEY`, the first in discovery order.
    pub raw_key_set: Option<&'static str>,
}

/// Picks the [`CAPTURED_VARS`] from `env`: blank values are skipped, `~` and relative paths
/// in path settings are made absolute (`home`, `cwd`), `PATH` keeps only absolute entries
/// (default `/usr/local/bin:/usr/bin:/bin`), and values with line breaks are refused.
pub fn capture_env(
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
    cwd: &Path,
) -> CapturedEnv {
    let mut captured = CapturedEnv {
        raw_key_set: wallet::RAW_KEY_VARS
            .into_iter()
            .find(|var| env(var).is_some_and(|v| !v.trim().is_empty())),
        ..CapturedEnv::default()
    };
    for &name in CAPTURED_VARS {
        let value = env(name).filter(|v| !v.trim().is_empty());
        let value = match (name, value) {
            ("PATH", None) => DEFAULT_PATH.to_owned(),
            ("PATH", Some(path)) => {
                let kept: Vec<&str> = path.split(':').filter(|p| p.starts_with('/')).collect();
                if kept.is_empty() {
                    DEFAULT_PATH.to_owned()
                } else {
                    kept.join(":")
                }
            }
            (_, None) => continue,
            (_, Some(v)) if PATH_VARS.contains(&name) => absolute(v.trim(), home, cwd),
            (_, Some(v)) => v,
        };
        if value.contains(['\n', '\r', '\0']) {
            captured
                .skipped
                .push(format!("{name} (its value contains a line break)"));
            continue;
        }
        captured.vars.push((name.to_owned(), value));
    }
    captured
}

fn absolute(path: &str, home: Option<&Path>, cwd: &Path) -> String {
    let expanded = match (path.strip_prefix('~'), home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            home.join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(path),
    };
    if expanded.is_absolute() {
        expanded.to_string_lossy().into_owned()
    } else {
        cwd.join(expanded).to_string_lossy().into_owned()
    }
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The LaunchAgent plist for `spec`.
pub fn launchd_plist(spec: &ServiceSpec) -> String {
    let mut s = String::new();
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str("<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n");
    s.push_str("<!-- Written by `clawrouter-codex daemon install`; remove with `clawrouter-codex daemon uninstall`.\n");
    s.push_str("     It starts a wallet-signing payment proxy at login that can spend USDC unattended. -->\n");
    s.push_str("<plist version=\"1.0\">\n<dict>\n");
    s.push_str(&format!("\t<key>Label</key>\n\t<string>{LABEL}</string>\n"));
    s.push_str("\t<key>ProgramArguments</key>\n\t<array>\n");
    for arg in spec.args() {
        s.push_str(&format!("\t\t<string>{}</string>\n", xml_escape(&arg)));
    }
    s.push_str("\t</array>\n");
    if !spec.env.is_empty() {
        s.push_str("\t<key>EnvironmentVariables</key>\n\t<dict>\n");
        for (k, v) in &spec.env {
            s.push_str(&format!(
                "\t\t<key>{}</key>\n\t\t<string>{}</string>\n",
                xml_escape(k),
                xml_escape(v)
            ));
        }
        s.push_str("\t</dict>\n");
    }
    let dir = xml_escape(&spec.state_dir.to_string_lossy());
    s.push_str(&format!(
        "\t<key>WorkingDirectory</key>\n\t<string>{dir}</string>\n"
    ));
    s.push_str("\t<key>RunAtLoad</key>\n\t<true/>\n");
    s.push_str("\t<key>KeepAlive</key>\n\t<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>\n\t</dict>\n");
    s.push_str("\t<key>ThrottleInterval</key>\n\t<integer>10</integer>\n");
    s.push_str(&format!(
        "\t<key>StandardOutPath</key>\n\t<string>{}</string>\n",
        xml_escape(&spec.stdout_log().to_string_lossy())
    ));
    s.push_str(&format!(
        "\t<key>StandardErrorPath</key>\n\t<string>{}</string>\n",
        xml_escape(&spec.stderr_log().to_string_lossy())
    ));
    s.push_str("\t<key>ProcessType</key>\n\t<string>Background</string>\n");
    s.push_str("</dict>\n</plist>\n");
    s
}

/// One systemd word in double quotes: C escapes for `\` and `"`, `%%` for specifiers, and
/// (`dollar`) `$$` where systemd would expand variables.
fn systemd_quote(text: &str, dollar: bool) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' if dollar => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The systemd user unit for `spec`.
pub fn systemd_unit(spec: &ServiceSpec) -> String {
    let exec: Vec<String> = spec.args().iter().map(|a| systemd_quote(a, true)).collect();
    let mut s = String::new();
    s.push_str("# Written by `clawrouter-codex daemon install`; remove with `clawrouter-codex daemon uninstall`.\n");
    s.push_str(
        "# It starts a wallet-signing payment proxy at login that can spend USDC unattended.\n",
    );
    s.push_str("[Unit]\n");
    s.push_str("Description=clawrouter-codex: Codex bridge and ClawRouter proxy\n");
    s.push_str("StartLimitIntervalSec=300\nStartLimitBurst=10\n\n");
    s.push_str("[Service]\nType=simple\n");
    s.push_str(&format!("ExecStart={}\n", exec.join(" ")));
    s.push_str(&format!(
        "WorkingDirectory={}\n",
        spec.state_dir.to_string_lossy().replace('%', "%%")
    ));
    for (k, v) in &spec.env {
        s.push_str(&format!(
            "Environment={}\n",
            systemd_quote(&format!("{k}={v}"), false)
        ));
    }
    s.push_str("Restart=on-failure\nRestartSec=5\nTimeoutStopSec=15\n\n");
    s.push_str("[Install]\nWantedBy=default.target\n");
    s
}

/// The service file text for `platform`.
pub fn service_text(platform: Platform, spec: &ServiceSpec) -> String {
    match platform {
        Platform::Launchd => launchd_plist(spec),
        Platform::Systemd => systemd_unit(spec),
    }
}

fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@=".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Writes a service file (readable by the service manager) atomically, creating its folder.
fn write_service_file(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    fsutil::write_atomic(path, text.as_bytes(), &fsutil::Mode::Shared)
}

/// What running a service-manager command gave.
#[derive(Debug)]
enum Tool {
    /// Not on PATH.
    Missing,
    /// Could not be run for another reason.
    Failed(String),
    Ran {
        ok: bool,
        stdout: String,
        stderr: String,
    },
}

fn run_tool(program: &str, args: &[&str]) -> Tool {
    match Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(out) => Tool::Ran {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Tool::Missing,
        Err(e) => Tool::Failed(e.to_string()),
    }
}

/// The last few non-empty lines of a tool's stderr, on one line.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines.len().saturating_sub(3);
    lines.get(start..).unwrap_or(&[]).join(" / ")
}

/// Runs `daemon`; `conf` is the config file the service will pass to `start`.
pub fn run(config: &Config, conf: Option<&Path>, action: DaemonAction) -> ExitCode {
    let Some(platform) = Platform::current() else {
        eprintln!(
            "clawrouter-codex: daemon: login services are supported on macOS (launchd) and Linux (systemd) only; run `clawrouter-codex start` from your system's own startup mechanism instead"
        );
        return super::problem();
    };
    let Some(home) = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
    else {
        eprintln!("clawrouter-codex: daemon: HOME is not set, so there is no place for the service file; set HOME");
        return super::bad_usage();
    };
    match action {
        DaemonAction::Install => install(config, conf, platform, &home),
        DaemonAction::Uninstall => uninstall(platform, &home),
        DaemonAction::Status => status(config, platform, &home),
    }
}

fn install(config: &Config, conf: Option<&Path>, platform: Platform, home: &Path) -> ExitCode {
    println!("{WARNING}");
    let env = |name: &str| std::env::var(name).ok();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let captured = capture_env(&env, Some(home), &cwd);

    // What will the service find, given that it never sees a raw key?
    let service_env = |name: &str| {
        if wallet::RAW_KEY_VARS.contains(&name) {
            None
        } else {
            std::env::var(name).ok()
        }
    };
    let service_wallet = match wallet::discover(config, &service_env) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("clawrouter-codex: daemon: not installed: the service could not use its wallet: {e}");
            return super::problem();
        }
    };
    if let Some(var) = captured.raw_key_set {
        if service_wallet.source == WalletSource::ClawRouterOwn {
            eprintln!(
                "clawrouter-codex: daemon: not installed: {var} is set, and the raw key is never written into a service file. \
                 Put the key in a file only you can read (e.g. `mkdir -p ~/.clawrouter-codex && (umask 077; printf '%s\\n' \"${var}\" > ~/.clawrouter-codex/wallet.key)`), \
                 then run `WALLET_KEY_FILE=~/.clawrouter-codex/wallet.key clawrouter-codex daemon install` (or set proxy.wallet_key_file in the config). \
                 To use ClawRouter's own wallet instead, run it with {var} unset."
            );
            return super::problem();
        }
        let same = wallet::discover(config, &env)
            .ok()
            .and_then(|d| d.address().and_then(Result::ok))
            .zip(service_wallet.address().and_then(Result::ok))
            .is_some_and(|(a, b)| a == b);
        eprintln!(
            "warning: {var} is not written into the service; it will use {} instead{}",
            service_wallet.source.describe(),
            if same {
                " (the same wallet)".to_owned()
            } else {
                format!(" (a DIFFERENT wallet from the one {var} holds)")
            }
        );
    }
    if let WalletSource::KeyFile(p) = &service_wallet.source {
        if let Some(w) = wallet::key_file_permission_warning(p) {
            eprintln!("warning: {w}");
        }
    }
    if let Some(w) = program_missing_warning(&config.proxy.launch_command(), &captured.vars) {
        eprintln!("warning: {w}");
    }
    for skipped in &captured.skipped {
        eprintln!("warning: not captured: {skipped}");
    }

    let conf = match conf {
        Some(path) => match std::fs::canonicalize(path) {
            Ok(abs) => Some(abs),
            Err(e) => {
                eprintln!(
                    "clawrouter-codex: daemon: cannot use the config file {}: {e}; pass an existing file with -c",
                    path.display()
                );
                return super::bad_usage();
            }
        },
        None => {
            let user = home.join(".clawrouter-codex/bridge.yaml");
            user.is_file().then_some(user)
        }
    };
    let exe = match std::env::current_exe().and_then(std::fs::canonicalize) {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("clawrouter-codex: daemon: cannot tell where this program is installed: {e}");
            return super::problem();
        }
    };
    let state_dir = home.join(".clawrouter-codex");
    if let Err(e) = std::fs::create_dir_all(&state_dir) {
        eprintln!(
            "clawrouter-codex: daemon: cannot create {}: {e}",
            state_dir.display()
        );
        return super::problem();
    }
    let spec = ServiceSpec {
        exe,
        conf,
        env: captured.vars,
        state_dir,
    };
    let file = platform.service_file(home);
    if let Err(e) = write_service_file(&file, &service_text(platform, &spec)) {
        eprintln!(
            "clawrouter-codex: daemon: cannot write {}: {e}",
            file.display()
        );
        return super::problem();
    }
    println!("Wrote {}", file.display());
    let names: Vec<&str> = spec.env.iter().map(|(k, _)| k.as_str()).collect();
    println!(
        "Runs: {}",
        spec.args()
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("Environment captured: {}", names.join(", "));
    println!("Wallet: {}", service_wallet.source.describe());

    let activated = activate(platform, &file);
    match platform {
        Platform::Launchd => println!(
            "Logs: {} and {}",
            spec.stdout_log().display(),
            spec.stderr_log().display()
        ),
        Platform::Systemd => {
            println!("Logs: journalctl --user -u {UNIT_NAME}");
            println!(
                "Note: user services start at login; to start at boot without logging in, run `loginctl enable-linger $USER`."
            );
        }
    }
    println!("If a `clawrouter-codex start` is already running in a terminal, stop it so the service owns the proxy and the bridge.");
    println!("Check with `clawrouter-codex daemon status`; remove with `clawrouter-codex daemon uninstall`.");
    if activated {
        ExitCode::SUCCESS
    } else {
        super::problem()
    }
}

/// A warning when the proxy command's program is not found on the service's `PATH`.
fn program_missing_warning(command: &str, vars: &[(String, String)]) -> Option<String> {
    let words = shlex::split(command)?;
    let program = words.first()?;
    if program.contains('/') {
        return (!Path::new(program).is_file()).then(|| {
            format!("the proxy command's program {program} does not exist; the service will not be able to start the proxy")
        });
    }
    let path = vars
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or(DEFAULT_PATH);
    let found = path
        .split(':')
        .any(|dir| Path::new(dir).join(program).is_file());
    (!found).then(|| {
        format!(
            "`{program}` (from the proxy command `{command}`) is not on the PATH captured for the service ({path}); install it, or re-run install with a PATH that has it (or set CLAWROUTER_CMD)"
        )
    })
}

/// Loads/enables the written service now; prints what could not be done. True on success.
fn activate(platform: Platform, file: &Path) -> bool {
    let file_text = file.to_string_lossy().into_owned();
    let steps: Vec<Vec<&str>> = match platform {
        Platform::Systemd => vec![
            vec!["--user", "daemon-reload"],
            vec!["--user", "enable", UNIT_NAME],
            vec!["--user", "restart", UNIT_NAME],
        ],
        Platform::Launchd => vec![vec!["load", "-w", file_text.as_str()]],
    };
    if platform == Platform::Launchd {
        // Reinstall: unload the old definition first (fails harmlessly when not loaded).
        let _ = run_tool("launchctl", &["unload", file_text.as_str()]);
    }
    let tool = platform.tool();
    for args in steps {
        let problem = match run_tool(tool, &args) {
            Tool::Ran { ok: true, .. } => continue,
            Tool::Missing => format!("{tool} was not found on PATH"),
            Tool::Failed(e) => format!("`{tool} {}` could not run: {e}", args.join(" ")),
            Tool::Ran { stderr, stdout, .. } => {
                let why = tail(if stderr.trim().is_empty() {
                    &stdout
                } else {
                    &stderr
                });
                format!("`{tool} {}` failed: {why}", args.join(" "))
            }
        };
        eprintln!(
            "clawrouter-codex: daemon: the service file is written but the service was not started: {problem}. To start it, run: {}",
            platform.activate_hint(file)
        );
        return false;
    }
    println!("Started the service now; it will also start at every login.");
    true
}

fn uninstall(platform: Platform, home: &Path) -> ExitCode {
    let file = platform.service_file(home);
    let file_text = file.to_string_lossy().into_owned();
    let installed = file.exists();
    let tool = platform.tool();
    let stop = match platform {
        Platform::Systemd => run_tool(tool, &["--user", "disable", "--now", UNIT_NAME]),
        Platform::Launchd if installed => run_tool(tool, &["unload", "-w", file_text.as_str()]),
        Platform::Launchd => Tool::Ran {
            ok: true,
            stdout: String::new(),
            stderr: String::new(),
        },
    };
    let mut code = ExitCode::SUCCESS;
    if installed {
        match stop {
            Tool::Ran { ok: true, .. } => println!("Stopped and disabled the service."),
            Tool::Missing => println!(
                "{tool} was not found on PATH, so nothing was stopped (a service needs {tool} to run)."
            ),
            Tool::Failed(e) => eprintln!("warning: could not run {tool}: {e}"),
            Tool::Ran { stderr, .. } => eprintln!(
                "warning: {tool} could not stop the service ({}); if it is still running, stop it with: {}",
                tail(&stderr),
                match platform {
                    Platform::Systemd => format!("systemctl --user stop {UNIT_NAME}"),
                    Platform::Launchd => format!("launchctl remove {LABEL}"),
                }
            ),
        }
        match std::fs::remove_file(&file) {
            Ok(()) => println!("Removed {}", file.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                eprintln!(
                    "clawrouter-codex: daemon: cannot remove {}: {e}",
                    file.display()
                );
                code = super::problem();
            }
        }
    } else {
        println!(
            "Not installed ({} does not exist); nothing to remove.",
            file.display()
        );
    }
    if platform == Platform::Systemd {
        // A dangling enable link (left when systemctl was not there to disable it).
        let link = home
            .join(".config/systemd/user/default.target.wants")
            .join(UNIT_NAME);
        if link.symlink_metadata().is_ok() {
            if let Err(e) = std::fs::remove_file(&link) {
                eprintln!("warning: cannot remove {}: {e}", link.display());
            }
        }
        if installed {
            let _ = run_tool(tool, &["--user", "daemon-reload"]);
        }
    }
    code
}

fn status(config: &Config, platform: Platform, home: &Path) -> ExitCode {
    let file = platform.service_file(home);
    let installed = file.is_file();
    if installed {
        println!("Installed: yes ({})", file.display());
    } else {
        println!(
            "Installed: no ({} does not exist; run `clawrouter-codex daemon install`)",
            file.display()
        );
    }
    let running = match platform {
        Platform::Systemd => match run_tool("systemctl", &["--user", "is-active", UNIT_NAME]) {
            Tool::Ran { stdout, stderr, .. } => match stdout.trim() {
                "active" => {
                    println!("Running: yes (systemd: active)");
                    Some(true)
                }
                "" => {
                    println!("Running: unknown (systemctl: {})", tail(&stderr));
                    None
                }
                state => {
                    println!("Running: no (systemd says {state:?})");
                    Some(false)
                }
            },
            Tool::Missing => {
                println!("Running: unknown (systemctl was not found on PATH)");
                None
            }
            Tool::Failed(e) => {
                println!("Running: unknown (systemctl could not run: {e})");
                None
            }
        },
        Platform::Launchd => match run_tool("launchctl", &["list", LABEL]) {
            Tool::Ran {
                ok: true, stdout, ..
            } => match launchd_pid(&stdout) {
                Some(pid) => {
                    println!("Running: yes (launchd, pid {pid})");
                    Some(true)
                }
                None => {
                    println!("Running: no (loaded in launchd but not running; see the logs in ~/.clawrouter-codex/)");
                    Some(false)
                }
            },
            Tool::Ran { .. } => {
                println!("Running: no (not loaded in launchd)");
                Some(false)
            }
            Tool::Missing => {
                println!("Running: unknown (launchctl was not found on PATH)");
                None
            }
            Tool::Failed(e) => {
                println!("Running: unknown (launchctl could not run: {e})");
                None
            }
        },
    };
    // Whoever runs them, are the bridge and the proxy answering? The proxy is where every
    // command finds it (`Config::clawrouter_proxy`).
    let proxy = config.clawrouter_proxy();
    for (label, url) in [
        (
            "Bridge",
            format!("http://127.0.0.1:{}/health", config.listen.port()),
        ),
        ("Proxy", proxy.url("/health")),
    ] {
        let up = super::http::get(&url, None, Duration::from_secs(2))
            .is_ok_and(|reply| reply.status == 200);
        let at = url
            .trim_start_matches("http://")
            .trim_end_matches("/health");
        println!(
            "{label} on {at}: {}",
            if up { "answering" } else { "not answering" }
        );
    }
    if installed && running == Some(true) {
        ExitCode::SUCCESS
    } else {
        super::problem()
    }
}

/// `"PID" = 123;` in `launchctl list <label>` output.
fn launchd_pid(text: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("\"PID\"")?;
        rest.trim()
            .strip_prefix('=')?
            .trim()
            .trim_end_matches(';')
            .trim()
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    fn spec() -> ServiceSpec {
        ServiceSpec {
            exe: PathBuf::from("/opt/cc/bin/clawrouter-codex"),
            conf: Some(PathBuf::from("/home/u/my conf/bridge.yaml")),
            env: vec![
                ("PROXY_PORT".into(), "9404".into()),
                (
                    "CLAWROUTER_CMD".into(),
                    "npx -y @blockrun/clawrouter@latest".into(),
                ),
                (
                    "WALLET_KEY_FILE".into(),
                    "/home/u/.clawrouter-codex/wallet.key".into(),
                ),
                ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
            ],
            state_dir: PathBuf::from("/home/u/.clawrouter-codex"),
        }
    }

    #[test]
    fn systemd_unit_golden() {
        let expected = r#"# Written by `clawrouter-codex daemon install`; remove with `clawrouter-codex daemon uninstall`.
# It starts a wallet-signing payment proxy at login that can spend USDC unattended.
[Unit]
Description=clawrouter-codex: Codex bridge and ClawRouter proxy
StartLimitIntervalSec=300
StartLimitBurst=10

[Service]
Type=simple
ExecStart="/opt/cc/bin/clawrouter-codex" "-c" "/home/u/my conf/bridge.yaml" "start"
WorkingDirectory=/home/u/.clawrouter-codex
Environment="PROXY_PORT=9404"
Environment="CLAWROUTER_CMD=npx -y @blockrun/clawrouter@latest"
Environment="WALLET_KEY_FILE=/home/u/.clawrouter-codex/wallet.key"
Environment="PATH=/usr/local/bin:/usr/bin:/bin"
Restart=on-failure
RestartSec=5
TimeoutStopSec=15

[Install]
WantedBy=default.target
"#;
        assert_eq!(systemd_unit(&spec()), expected);
    }

    #[test]
    fn launchd_plist_golden() {
        let expected = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">
<!-- Written by `clawrouter-codex daemon install`; remove with `clawrouter-codex daemon uninstall`.
     It starts a wallet-signing payment proxy at login that can spend USDC unattended. -->
<plist version=\"1.0\">
<dict>
\t<key>Label</key>
\t<string>ai.blockrun.clawrouter-codex</string>
\t<key>ProgramArguments</key>
\t<array>
\t\t<string>/opt/cc/bin/clawrouter-codex</string>
\t\t<string>-c</string>
\t\t<string>/home/u/my conf/bridge.yaml</string>
\t\t<string>start</string>
\t</array>
\t<key>EnvironmentVariables</key>
\t<dict>
\t\t<key>PROXY_PORT</key>
\t\t<string>9404</string>
\t\t<key>CLAWROUTER_CMD</key>
\t\t<string>npx -y @blockrun/clawrouter@latest</string>
\t\t<key>WALLET_KEY_FILE</key>
\t\t<string>/home/u/.clawrouter-codex/wallet.key</string>
\t\t<key>PATH</key>
\t\t<string>/usr/local/bin:/usr/bin:/bin</string>
\t</dict>
\t<key>WorkingDirectory</key>
\t<string>/home/u/.clawrouter-codex</string>
\t<key>RunAtLoad</key>
\t<true/>
\t<key>KeepAlive</key>
\t<dict>
\t\t<key>SuccessfulExit</key>
\t\t<false/>
\t</dict>
\t<key>ThrottleInterval</key>
\t<integer>10</integer>
\t<key>StandardOutPath</key>
\t<string>/home/u/.clawrouter-codex/daemon.out.log</string>
\t<key>StandardErrorPath</key>
\t<string>/home/u/.clawrouter-codex/daemon.err.log</string>
\t<key>ProcessType</key>
\t<string>Background</string>
</dict>
</plist>
";
        assert_eq!(launchd_plist(&spec()), expected);
    }

    #[test]
    fn quoting_and_escaping() {
        let mut s = spec();
        s.conf = None;
        s.env = vec![(
            "CLAWROUTER_CMD".into(),
            r#"sh -c "echo 100% $HOME\x""#.into(),
        )];
        s.exe = PathBuf::from("/a b/%i/$x/c");
        let unit = systemd_unit(&s);
        assert!(
            unit.contains(r#"ExecStart="/a b/%%i/$$x/c" "start""#),
            "{unit}"
        );
        assert!(
            unit.contains(r#"Environment="CLAWROUTER_CMD=sh -c \"echo 100%% $HOME\\x\"""#),
            "{unit}"
        );
        let plist = launchd_plist(&s);
        assert!(
            plist.contains("<string>sh -c &quot;echo 100% $HOME\\x&quot;</string>"),
            "{plist}"
        );
        assert!(!plist.contains("<string>-c</string>"));
        s.env.clear();
        assert!(!launchd_plist(&s).contains("EnvironmentVariables"));
        assert_eq!(xml_escape("a<b>&'\""), "a&lt;b&gt;&amp;&apos;&quot;");
    }

    #[test]
    fn env_capture_never_takes_the_raw_key() {
        let env = env_of(&[
            ("BLOCKRUN_WALLET_KEY", KEY),
            ("PORT", "9403"),
            ("PROXY_PORT", " "),
            ("WALLET_KEY_FILE", "~/keys/w.key"),
            ("CODEX_HOME", "rel/codex"),
            ("CLAWROUTER_CMD", "node\nevil"),
            ("PATH", ".:/usr/bin::bin:/opt/node/bin"),
            ("SOMETHING_ELSE", "x"),
        ]);
        let c = capture_env(&env, Some(Path::new("/home/u")), Path::new("/work"));
        assert_eq!(c.raw_key_set, Some("BLOCKRUN_WALLET_KEY"));
        assert_eq!(
            c.vars,
            vec![
                ("PORT".to_owned(), "9403".to_owned()),
                (
                    "WALLET_KEY_FILE".to_owned(),
                    "/home/u/keys/w.key".to_owned()
                ),
                ("CODEX_HOME".to_owned(), "/work/rel/codex".to_owned()),
                ("PATH".to_owned(), "/usr/bin:/opt/node/bin".to_owned()),
            ]
        );
        assert_eq!(c.skipped.len(), 1);
        assert!(c.skipped[0].starts_with("CLAWROUTER_CMD"));
        let all = format!("{c:?}");
        assert!(!all.contains(&KEY[2..]));
        let s = ServiceSpec {
            env: c.vars,
            ..spec()
        };
        for text in [systemd_unit(&s), launchd_plist(&s)] {
            assert!(!text.contains(&KEY[2..]));
            assert!(!text.contains("BLOCKRUN_WALLET_KEY"));
        }
        // nothing set: only a default PATH
        let c = capture_env(&env_of(&[]), None, Path::new("/"));
        assert_eq!(c.vars, vec![("PATH".to_owned(), DEFAULT_PATH.to_owned())]);
        assert!(c.raw_key_set.is_none());
    }

    #[test]
    fn env_capture_never_takes_the_base_chain_key() {
        let env = env_of(&[
            ("BASE_CHAIN_WALLET_KEY", KEY),
            ("BLOCKRUN_HOME", "~/sdk"),
            ("CLAWROUTER_VERSION", "0.12.250"),
        ]);
        let c = capture_env(&env, Some(Path::new("/home/u")), Path::new("/work"));
        assert_eq!(c.raw_key_set, Some("BASE_CHAIN_WALLET_KEY"));
        assert_eq!(
            c.vars,
            vec![
                ("CLAWROUTER_VERSION".to_owned(), "0.12.250".to_owned()),
                ("BLOCKRUN_HOME".to_owned(), "/home/u/sdk".to_owned()),
                ("PATH".to_owned(), DEFAULT_PATH.to_owned()),
            ]
        );
        let s = ServiceSpec {
            env: c.vars,
            ..spec()
        };
        for text in [systemd_unit(&s), launchd_plist(&s)] {
            assert!(!text.contains(&KEY[2..]), "{text}");
            assert!(!text.contains("BASE_CHAIN_WALLET_KEY"), "{text}");
        }
    }

    #[test]
    fn paths_and_helpers() {
        let home = Path::new("/home/u");
        assert_eq!(
            Platform::Systemd.service_file(home),
            PathBuf::from("/home/u/.config/systemd/user/clawrouter-codex.service")
        );
        assert_eq!(
            Platform::Launchd.service_file(home),
            PathBuf::from("/home/u/Library/LaunchAgents/ai.blockrun.clawrouter-codex.plist")
        );
        assert_eq!(
            launchd_pid("{\n\t\"LimitLoadToSessionType\" = \"Aqua\";\n\t\"PID\" = 4242;\n};"),
            Some(4242)
        );
        assert_eq!(launchd_pid("{\n\t\"LastExitStatus\" = 256;\n};"), None);
        assert_eq!(shell_quote("/a/b"), "/a/b");
        assert_eq!(shell_quote("a b'c"), "'a b'\\''c'");
        assert!(Platform::Systemd
            .activate_hint(home)
            .contains("systemctl --user enable --now clawrouter-codex.service"));
    }

    #[test]
    fn warns_when_the_proxy_program_is_not_on_the_service_path() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("npx"), "").unwrap();
        let path = vec![("PATH".to_owned(), tmp.path().to_string_lossy().into_owned())];
        assert!(program_missing_warning("npx -y @blockrun/clawrouter@latest", &path).is_none());
        let w = program_missing_warning("node proxy.js", &path).unwrap();
        assert!(w.contains("`node`"), "{w}");
        let w = program_missing_warning("/nowhere/clawrouter --x", &path).unwrap();
        assert!(w.contains("/nowhere/clawrouter does not exist"), "{w}");
    }
}
