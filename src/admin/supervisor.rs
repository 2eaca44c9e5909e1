//! `start` and `up`: bring up the ClawRouter proxy and the bridge, and keep both up.
//!
//! # Design
//!
//! - **Health first.** Nothing is started that already answers. The bridge port is probed with
//!   `GET /health`: our own bridge (`"service":"clawrouter-codex"`) is left alone, something
//!   else there is a configuration problem (exit 2, before the proxy is touched). The proxy
//!   port is probed the same way (`status:"ok"`): a proxy that is already up (another `start`,
//!   a ClawRouter the user runs by hand) is used, not duplicated.
//! - **The bridge runs in-process** ([`RunningBridge`]): one process, one log, nothing to
//!   restart short of the process itself, and a stop is a guard drop. A bridge that was found
//!   running elsewhere is re-checked every few seconds and started here when it disappears.
//! - **The proxy is a child process**: `npx -y @blockrun/clawrouter@<proxy.version>` (the
//!   pinned version, `CLAWROUTER_VERSION`), or the user's own `proxy.command`
//!   (`CLAWROUTER_CMD`), split like a shell would, `--port <proxy.port>` appended, in a process group of its own (`npx` runs `node`
//!   below it, and the group lets one signal reach both; signals go to that group only, by the
//!   child's PID, never by name). When it exits, or cannot be launched at all (not installed,
//!   offline, exits at once), a log line says why (the command, the exit code or signal, its
//!   last stderr lines) and it is relaunched with exponential backoff: 1 s doubling to 60 s,
//!   back to 1 s once a launch stayed up 60 s. Before each relaunch the port is probed again,
//!   so a proxy someone else started meanwhile is adopted instead of fought.
//! - **Output.** Each line the proxy prints is echoed on the same stream prefixed `[proxy] `.
//!   The supervisor's own lines and the bridge's go through the `log` logger `main` set up
//!   (timestamp, level, module): they are already told apart from the proxy's, so they keep
//!   their format.
//! - **Wallet.** The key is looked up once before anything starts and handed only to the
//!   proxy child's environment (as `BLOCKRUN_WALLET_KEY`); `BLOCKRUN_WALLET_KEY` and
//!   `BASE_CHAIN_WALLET_KEY` are removed from this process's own environment at once so no other child (`codex` run by `setup`) inherits it. It is never
//!   logged, and any proxy output line that contains it is redacted.
//! - **Signals.** SIGINT and SIGTERM are caught on a small thread (a current-thread Tokio
//!   runtime): the proxy group gets SIGTERM, then SIGKILL after 1 s, the bridge guard is
//!   dropped, and the command exits 0, all within 2 s.
//! - **`up`** runs [`setup::run`](super::setup::run) once, on a background thread, as soon
//!   as the proxy and the bridge both answer `/health`, then keeps supervising.
//! - **Upstream follows `PROXY_PORT`.** When the upstream is the built-in default
//!   (`http://127.0.0.1:8404/v1`) and the proxy port is not 8404, the bridge forwards to
//!   `http://127.0.0.1:<proxy.port>/v1`, the proxy this command runs.
//! - **One proxy address.** The proxy is run or adopted where `wallet`, `doctor`, `daemon
//!   status` and the dashboard look for it (`Config::clawrouter_proxy`): the upstream's port when
//!   the upstream is plain http on this machine (`CLAWROUTER_PROXY_URL=http://127.0.0.1:9999/v1`
//!   runs it with `--port 9999`), else `proxy.port`.
//!
//! - **Direct mode** (`upstream.kind: direct`): no proxy. Only the bridge runs; it reads the
//!   wallet key as it starts (it signs the payments itself), then the raw key variables are
//!   removed from the environment as above.
//!
//! Exit codes: 0 after a signal stop; 2 for bad configuration (the bridge port held by
//! something that is not our bridge, a proxy command that cannot be split, an unreadable
//! wallet key file); 1 when the bridge could not be started for another reason.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::{self, GetError};
use super::proxy_version::{self, Launch};
use super::wallet;
use crate::config::Config;
use crate::server::{RunningBridge, StartError};

/// How often the supervisor looks at its children.
const TICK: Duration = Duration::from_millis(100);
/// First delay before relaunching the proxy.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest delay before relaunching the proxy.
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A launch that stayed up this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// Health probe interval while a service is healthy (and while it is starting).
const CHECK_HEALTHY: Duration = Duration::from_secs(5);
const CHECK_STARTING: Duration = Duration::from_millis(250);
/// SIGTERM → SIGKILL delay when stopping the proxy.
const KILL_GRACE: Duration = Duration::from_secs(1);
/// Stderr lines kept per proxy launch for the "why it exited" message.
const TAIL_LINES: usize = 12;
/// Probe timeout (connect, and each read): loopback answers in milliseconds, and a stop must
/// not wait on a probe.
const PROBE_TIMEOUT: Duration = Duration::from_millis(800);

/// Runs `start`.
pub fn start(config: Arc<Config>) -> ExitCode {
    run(config, false)
}

/// Runs `up` (`start` + `setup`).
pub fn up(config: Arc<Config>) -> ExitCode {
    run(config, true)
}

/// What wakes the supervisor loop besides its tick.
enum Event {
    Stop(&'static str),
    SetupDone(bool),
}

fn run(config: Arc<Config>, with_setup: bool) -> ExitCode {
    let proxy_port = proxy_port(&config);
    if proxy_port == config.listen.port() {
        eprintln!(
            "clawrouter-codex: the proxy port and the bridge port are both {proxy_port}; set PROXY_PORT (or CLAWROUTER_PROXY_URL) or PORT to another port"
        );
        return super::bad_usage();
    }
    let argv = match proxy_argv(&config) {
        Ok(argv) => argv,
        Err(message) => {
            eprintln!("clawrouter-codex: {message}");
            return super::bad_usage();
        }
    };
    let wallet_env = match proxy_wallet_env(&config) {
        Ok(env) => env,
        Err(message) => {
            eprintln!("clawrouter-codex: {message}");
            return super::bad_usage();
        }
    };
    // Still single-threaded here: from now on only the proxy child gets the key. In direct
    // mode the bridge itself signs: it reads the key as it starts, below, and then no one
    // else needs it.
    let direct = config.direct.is_some();
    if !direct {
        for var in wallet::RAW_KEY_VARS {
            std::env::remove_var(var);
        }
    }

    let (events, inbox) = mpsc::channel();
    if let Err(message) = catch_signals(events.clone()) {
        eprintln!("clawrouter-codex: cannot install signal handlers: {message}");
        return super::problem();
    }

    let mut bridge = match BridgeSlot::bring_up(config.clone()) {
        Ok(slot) => slot,
        Err(code) => return code,
    };
    if direct {
        for var in wallet::RAW_KEY_VARS {
            std::env::remove_var(var);
        }
        log::info!(
            "direct mode: the bridge pays BlockRun ({}) itself; no proxy is started",
            config.upstream.url
        );
    }
    let clawrouter = config.clawrouter_proxy();
    if !direct && (!clawrouter.is_upstream || clawrouter.loopback_port != Some(proxy_port)) {
        log::info!(
            "the bridge forwards to {}, not to the proxy on port {proxy_port} (CLAWROUTER_PROXY_URL or upstream.url)",
            config.upstream.url,
        );
    }
    let mut proxy = (!direct).then(|| {
        let mut proxy = ProxySlot::new(argv, wallet_env, proxy_port);
        proxy.record = proxy_version::record_path(&config)
            .map(|path| (path, Launch::planned(&config, proxy_port)));
        proxy
    });
    let mut setup = if with_setup {
        log::info!("setup runs once the proxy and the bridge answer /health");
        SetupState::Waiting
    } else {
        SetupState::NotWanted
    };

    let signal = loop {
        let now = Instant::now();
        if let Some(proxy) = &mut proxy {
            proxy.tick(now);
        }
        bridge.tick(now);
        let proxy_healthy = proxy.as_ref().is_none_or(|p| p.healthy);
        if matches!(setup, SetupState::Waiting) && proxy_healthy && bridge.healthy {
            setup = SetupState::Started;
            run_setup(config.clone(), events.clone());
        }
        match inbox.recv_timeout(TICK) {
            Ok(Event::Stop(signal)) => break signal,
            Ok(Event::SetupDone(ok)) => {
                if ok {
                    log::info!("setup finished; still supervising the proxy and the bridge");
                    if let Some(url) = crate::handlers::dashboard::url(&config) {
                        println!("Dashboard: {url}");
                    }
                } else {
                    log::warn!("setup reported a problem (see above); the proxy and the bridge keep running; run `clawrouter-codex setup` again once it is fixed");
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The loop holds a sender itself, so this cannot happen; stop cleanly anyway.
            Err(RecvTimeoutError::Disconnected) => break "a lost signal channel",
        }
    };

    log::info!("{signal}: stopping");
    if let Some(proxy) = &mut proxy {
        proxy.stop();
    }
    drop(bridge);
    log::info!("stopped");
    ExitCode::SUCCESS
}

enum SetupState {
    NotWanted,
    Waiting,
    Started,
}

fn run_setup(config: Arc<Config>, events: Sender<Event>) {
    log::info!("proxy and bridge are up: running setup");
    let spawned = std::thread::Builder::new()
        .name("setup".to_owned())
        .spawn(move || {
            let ok = super::setup::run(&config, false) == ExitCode::SUCCESS;
            let _ = events.send(Event::SetupDone(ok));
        });
    if let Err(e) = spawned {
        log::error!("cannot run setup: {e}; run `clawrouter-codex setup` yourself");
    }
}

/// SIGINT/SIGTERM → [`Event::Stop`]. Returns once the handlers are installed, so a signal
/// that arrives later is never the default "terminate now" that would orphan the proxy.
fn catch_signals(events: Sender<Event>) -> Result<(), String> {
    let (ready, is_ready) = mpsc::channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready.send(Err(e.to_string()));
                    return;
                }
            };
            runtime.block_on(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let (mut interrupt, mut terminate) = match (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) {
                    (Ok(i), Ok(t)) => (i, t),
                    (Err(e), _) | (_, Err(e)) => {
                        let _ = ready.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                loop {
                    let name = tokio::select! {
                        _ = interrupt.recv() => "SIGINT",
                        _ = terminate.recv() => "SIGTERM",
                    };
                    if events.send(Event::Stop(name)).is_err() {
                        return;
                    }
                }
            });
        })
        .map_err(|e| e.to_string())?;
    is_ready
        .recv()
        .map_err(|_| "the signal thread ended".to_owned())?
}

// ---------------------------------------------------------------------------------------------
// Configuration helpers

/// The port `start` runs or adopts the proxy on: where every command finds it
/// ([`Config::clawrouter_proxy`]) when that is on this machine, else `proxy.port`.
pub(crate) fn proxy_port(config: &Config) -> u16 {
    config
        .clawrouter_proxy()
        .loopback_port
        .unwrap_or(config.proxy.port)
}

/// The launch command ([`crate::config::ProxySettings::launch_command`]: the pinned version, or
/// the user's own) split like a shell would, with `--port <port>` ([`proxy_port`]) appended.
fn proxy_argv(config: &Config) -> Result<Vec<String>, String> {
    let command = &config.proxy.launch_command();
    let mut argv = shlex::split(command).ok_or_else(|| {
        format!("the proxy command {command:?} (CLAWROUTER_CMD or proxy.command) has unbalanced quotes or a trailing backslash")
    })?;
    if argv.is_empty() {
        return Err(format!(
            "the proxy command (CLAWROUTER_CMD or proxy.command) is empty; unset it to run the pinned ClawRouter `{}`",
            crate::config::pinned_command(&config.proxy.version)
        ));
    }
    argv.push("--port".to_owned());
    argv.push(proxy_port(config).to_string());
    Ok(argv)
}

/// Environment entries for the proxy child: the wallet key and, when needed, an isolated HOME
/// (wallet discovery in `admin::wallet`). Error messages name files, never their content.
fn proxy_wallet_env(config: &Config) -> Result<Vec<(String, String)>, String> {
    let discovery =
        wallet::discover(config, &|name| std::env::var(name).ok()).map_err(|e| e.to_string())?;
    discovery
        .prepare_proxy_home()
        .map_err(|e| format!("cannot create the proxy's isolated home: {e}"))?;
    log::info!("wallet: {}", discovery.source.describe());
    Ok(discovery
        .proxy_env()
        .iter()
        .map(|(name, value)| (name.to_owned(), value.to_string_lossy().into_owned()))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Health probes

/// What a `GET /health` found.
#[derive(Debug)]
enum Probe {
    /// Nothing listening (or not reachable in time).
    Down,
    /// An HTTP answer: the status and the body as JSON, when it is JSON.
    Answer { status: u16, json: Option<Value> },
    /// Something accepted the connection but did not answer HTTP in time.
    Mute(String),
}

impl Probe {
    fn status_ok(&self) -> bool {
        matches!(self, Probe::Answer { status: 200, json: Some(j) } if j.get("status").and_then(Value::as_str) == Some("ok"))
    }

    fn is_our_bridge(&self) -> bool {
        self.status_ok()
            && matches!(self, Probe::Answer { json: Some(j), .. } if j.get("service").and_then(Value::as_str) == Some("clawrouter-codex"))
    }

    /// A short description for "something else is there" messages.
    fn describe(&self) -> String {
        match self {
            Probe::Down => "nothing answers".to_owned(),
            Probe::Mute(why) => why.clone(),
            Probe::Answer { status, json: None } => {
                format!("GET /health answers HTTP {status} without JSON")
            }
            Probe::Answer {
                status,
                json: Some(j),
            } => {
                let mut text = j.to_string();
                if text.len() > 120 {
                    let mut cut = 120;
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    text.truncate(cut);
                    text.push('…');
                }
                format!("GET /health answers HTTP {status} {text}")
            }
        }
    }
}

/// `GET /health` on `addr`: [`GetError::Down`] is nothing there, any HTTP answer is an answer,
/// and every other failure (silent, closed early, not HTTP) is something mute holding the port.
fn probe(addr: SocketAddr, bearer: Option<&str>) -> Probe {
    match http::get(&format!("http://{addr}/health"), bearer, PROBE_TIMEOUT) {
        Ok(reply) => Probe::Answer {
            status: reply.status,
            json: serde_json::from_str(&reply.body).ok(),
        },
        Err(GetError::Down(_)) => Probe::Down,
        Err(GetError::Failed(why)) => Probe::Mute(format!("no HTTP answer to GET /health ({why})")),
    }
}

// ---------------------------------------------------------------------------------------------
// The bridge

/// The bridge: ours in this process, or found running (another `start`, a login service).
struct BridgeSlot {
    config: Arc<Config>,
    running: Option<RunningBridge>,
    healthy: bool,
    next_check: Instant,
    probe_addr: SocketAddr,
}

impl BridgeSlot {
    /// Health first: adopt our own bridge if it is up, refuse a port held by something else,
    /// else start the bridge here.
    fn bring_up(config: Arc<Config>) -> Result<BridgeSlot, ExitCode> {
        let listen = config.listen;
        let probe_addr = if listen.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], listen.port()))
        } else {
            listen
        };
        let mut slot = BridgeSlot {
            probe_addr,
            running: None,
            healthy: false,
            next_check: Instant::now() + CHECK_HEALTHY,
            config,
        };
        let found = slot.probe();
        if found.is_our_bridge() {
            log::info!("the bridge is already running on http://{listen}; not starting another");
            slot.healthy = true;
            return Ok(slot);
        }
        if !matches!(found, Probe::Down) {
            eprintln!(
                "clawrouter-codex: {listen} is in use by something that is not clawrouter-codex ({}); stop it, or choose another port with PORT=… or `listen:` in the config",
                found.describe()
            );
            return Err(super::bad_usage());
        }
        match slot.start_here() {
            Ok(()) => Ok(slot),
            Err(e @ (StartError::PortInUse { .. } | StartError::Listen { .. })) => {
                eprintln!("clawrouter-codex: {e}");
                Err(super::bad_usage())
            }
            Err(e) => {
                eprintln!("clawrouter-codex: {e}");
                Err(super::problem())
            }
        }
    }

    fn probe(&self) -> Probe {
        probe(self.probe_addr, self.config.auth_token.as_deref())
    }

    fn start_here(&mut self) -> Result<(), StartError> {
        let running = RunningBridge::start(self.config.clone())?;
        log::info!(
            "bridge listening on http://{} → upstream {}",
            self.config.listen,
            self.config.upstream.url
        );
        self.running = Some(running);
        self.healthy = true;
        Ok(())
    }

    fn tick(&mut self, now: Instant) {
        if now < self.next_check {
            return;
        }
        self.next_check = now + CHECK_HEALTHY;
        let found = self.probe();
        let healthy = found.is_our_bridge();
        if healthy {
            if !self.healthy {
                log::info!("the bridge answers /health again");
            }
            self.healthy = true;
            return;
        }
        if self.running.is_some() {
            if self.healthy {
                log::warn!(
                    "the bridge on {} does not answer /health ({})",
                    self.config.listen,
                    found.describe()
                );
            }
            self.healthy = false;
            return;
        }
        // The bridge we found running elsewhere is gone: run it here.
        if matches!(found, Probe::Down) {
            log::warn!(
                "the bridge on {} stopped answering; starting it here",
                self.config.listen
            );
            if let Err(e) = self.start_here() {
                log::error!("cannot start the bridge: {e}; trying again in 5 s");
                self.healthy = false;
            }
        } else {
            if self.healthy {
                log::error!(
                    "{} is now held by something that is not clawrouter-codex ({}); trying again in 5 s",
                    self.config.listen,
                    found.describe()
                );
            }
            self.healthy = false;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The proxy

/// Last stderr lines of one proxy launch, and how many output readers are still reading.
#[derive(Default)]
struct Output {
    tail: Mutex<VecDeque<String>>,
    readers: AtomicUsize,
}

enum ProxyState {
    /// Probe, then launch when nothing answers, at `at`.
    Waiting { at: Instant },
    /// Our child.
    Running {
        child: Child,
        since: Instant,
        output: Arc<Output>,
        next_check: Instant,
        slow_warned: bool,
    },
    /// A proxy we did not start answers on the port; re-checked every few seconds.
    Adopted { next_check: Instant },
}

struct ProxySlot {
    argv: Vec<String>,
    env: Vec<(String, String)>,
    secrets: Vec<String>,
    port: u16,
    state: ProxyState,
    backoff: Duration,
    healthy: bool,
    /// Where to record what was launched, for `doctor` ([`proxy_version`]), and what.
    record: Option<(std::path::PathBuf, Launch)>,
}

impl ProxySlot {
    fn new(argv: Vec<String>, env: Vec<(String, String)>, port: u16) -> ProxySlot {
        let secrets = env
            .iter()
            .filter(|(name, _)| name == "BLOCKRUN_WALLET_KEY")
            .flat_map(|(_, key)| {
                let bare = key.strip_prefix("0x").unwrap_or(key).to_owned();
                [key.clone(), bare]
            })
            .filter(|s| s.len() >= 8)
            .collect();
        ProxySlot {
            argv,
            env,
            secrets,
            port,
            state: ProxyState::Waiting { at: Instant::now() },
            backoff: BACKOFF_MIN,
            healthy: false,
            record: None,
        }
    }

    /// Records the launched child for `doctor` (best effort: a failure only loses the version).
    fn record_launch(&self, pid: u32) {
        if let Some((path, planned)) = &self.record {
            let launch = Launch {
                pid,
                ..planned.clone()
            };
            if let Err(e) = proxy_version::write(path, &launch) {
                log::warn!(
                    "cannot record the proxy's version in {}: {e}; doctor will not know it",
                    path.display()
                );
            }
        }
    }

    /// Removes the record of a child that ended.
    fn forget_launch(&self, pid: u32) {
        if let Some((path, _)) = &self.record {
            proxy_version::remove(path, pid);
        }
    }

    /// The command as shown in messages (with any secret redacted).
    fn shown(&self) -> String {
        let joined = shlex::try_join(self.argv.iter().map(String::as_str))
            .unwrap_or_else(|_| self.argv.join(" "));
        redact(&joined, &self.secrets)
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn probe(&self) -> Probe {
        probe(self.addr(), None)
    }

    /// Schedules the next launch attempt and returns its delay (for the message).
    fn back_off(&mut self, now: Instant) -> Duration {
        let delay = self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        self.state = ProxyState::Waiting { at: now + delay };
        self.healthy = false;
        delay
    }

    fn tick(&mut self, now: Instant) {
        match &mut self.state {
            ProxyState::Waiting { at } => {
                if now >= *at {
                    self.check_then_launch(now);
                }
            }
            ProxyState::Adopted { next_check } => {
                if now >= *next_check {
                    *next_check = now + CHECK_HEALTHY;
                    if !self.probe().status_ok() {
                        log::warn!(
                            "the proxy on port {} stopped answering /health; starting one",
                            self.port
                        );
                        self.healthy = false;
                        self.check_then_launch(now);
                    }
                }
            }
            ProxyState::Running { child, .. } => match child.try_wait() {
                Ok(Some(status)) => {
                    let pid = child.id();
                    self.forget_launch(pid);
                    self.exited(now, status);
                }
                Ok(None) => self.watch_running(now),
                Err(e) => {
                    log::error!("cannot check the proxy process: {e}");
                }
            },
        }
    }

    fn check_then_launch(&mut self, now: Instant) {
        let found = self.probe();
        if found.status_ok() {
            log::info!(
                "a proxy already answers on http://127.0.0.1:{}/health; not starting another",
                self.port
            );
            self.state = ProxyState::Adopted {
                next_check: now + CHECK_HEALTHY,
            };
            self.healthy = true;
            return;
        }
        if !matches!(found, Probe::Down) {
            let delay = self.back_off(now);
            log::error!(
                "port {} is in use by something that is not a ClawRouter proxy ({}); not launching `{}`; free the port or set PROXY_PORT; checking again in {} s",
                self.port,
                found.describe(),
                self.shown(),
                delay.as_secs()
            );
            return;
        }
        self.launch(now);
    }

    fn launch(&mut self, now: Instant) {
        let mut command = Command::new(&self.argv[0]);
        command
            .args(&self.argv[1..])
            .env_remove(wallet::ENV_KEY)
            .env_remove(wallet::ENV_BASE_KEY)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                let hint = if e.kind() == std::io::ErrorKind::NotFound {
                    " (is it installed and on PATH? ClawRouter needs Node.js for npx; or set CLAWROUTER_CMD)"
                } else {
                    ""
                };
                let shown = self.shown();
                let delay = self.back_off(now);
                log::error!(
                    "cannot start the proxy `{shown}`: {e}{hint}; the bridge stays up; retrying in {} s",
                    delay.as_secs()
                );
                return;
            }
        };
        log::info!("proxy started: `{}` (pid {})", self.shown(), child.id());
        self.record_launch(child.id());
        let output = Arc::new(Output::default());
        if let Some(out) = child.stdout.take() {
            self.echo(out, false, output.clone());
        }
        if let Some(err) = child.stderr.take() {
            self.echo(err, true, output.clone());
        }
        self.state = ProxyState::Running {
            child,
            since: now,
            output,
            next_check: now + CHECK_STARTING,
            slow_warned: false,
        };
    }

    /// Echoes one output stream of the child, prefixed and redacted; keeps stderr's tail.
    fn echo(&self, pipe: impl Read + Send + 'static, is_stderr: bool, output: Arc<Output>) {
        let secrets = self.secrets.clone();
        output.readers.fetch_add(1, Ordering::SeqCst);
        let reader_output = output.clone();
        let spawned = std::thread::Builder::new()
            .name("proxy-output".to_owned())
            .spawn(move || {
                let mut reader = BufReader::new(pipe);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match reader.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    let text = String::from_utf8_lossy(&buf);
                    let line = redact(text.trim_end_matches(['\n', '\r']), &secrets);
                    if is_stderr {
                        let _ = writeln!(std::io::stderr().lock(), "[proxy] {line}");
                        if let Ok(mut tail) = reader_output.tail.lock() {
                            if tail.len() == TAIL_LINES {
                                tail.pop_front();
                            }
                            tail.push_back(line);
                        }
                    } else {
                        let _ = writeln!(std::io::stdout().lock(), "[proxy] {line}");
                    }
                }
                reader_output.readers.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            output.readers.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn watch_running(&mut self, now: Instant) {
        let ProxyState::Running {
            since,
            next_check,
            slow_warned,
            ..
        } = &mut self.state
        else {
            return;
        };
        if now.duration_since(*since) >= STABLE_AFTER {
            self.backoff = BACKOFF_MIN;
        }
        if now < *next_check {
            return;
        }
        let up_for = now.duration_since(*since);
        let healthy = probe(SocketAddr::from(([127, 0, 0, 1], self.port)), None).status_ok();
        *next_check = now
            + if healthy {
                CHECK_HEALTHY
            } else {
                CHECK_STARTING
            };
        if healthy && !self.healthy {
            log::info!(
                "proxy is up: http://127.0.0.1:{}/health answers ok",
                self.port
            );
        } else if !healthy && self.healthy {
            log::warn!("the proxy on port {} stopped answering /health", self.port);
        } else if !healthy && !*slow_warned && up_for >= Duration::from_secs(60) {
            *slow_warned = true;
            log::warn!(
                "the proxy has not answered /health on port {} for {} s (npx may still be downloading ClawRouter)",
                self.port,
                up_for.as_secs()
            );
        }
        self.healthy = healthy;
    }

    fn exited(&mut self, now: Instant, status: ExitStatus) {
        let ProxyState::Running { since, output, .. } = &self.state else {
            return;
        };
        let up_for = now.duration_since(*since);
        let output = output.clone();
        // Let the readers drain what the child wrote last (bounded: a grandchild may hold
        // the pipes open).
        let drain_until = Instant::now() + Duration::from_millis(300);
        while output.readers.load(Ordering::SeqCst) > 0 && Instant::now() < drain_until {
            std::thread::sleep(Duration::from_millis(10));
        }
        let tail: Vec<String> = output
            .tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        if up_for >= STABLE_AFTER {
            self.backoff = BACKOFF_MIN;
        }
        let shown = self.shown();
        let delay = self.back_off(now);
        let tail_text = if tail.is_empty() {
            "; it printed nothing on stderr".to_owned()
        } else {
            format!(
                "; its last stderr lines:\n{}",
                tail.iter()
                    .map(|l| format!("    {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        };
        log::warn!(
            "the proxy `{shown}` {} after {:.1} s; the bridge stays up; restarting in {} s{tail_text}",
            describe_status(status),
            up_for.as_secs_f64(),
            delay.as_secs()
        );
    }

    /// Stops our child, if any: SIGTERM to its process group, SIGKILL after [`KILL_GRACE`].
    fn stop(&mut self) {
        let ProxyState::Running { child, .. } = &mut self.state else {
            return;
        };
        let pid = child.id();
        if let Ok(Some(_)) = child.try_wait() {
            self.forget_launch(pid);
            return;
        }
        log::info!("stopping the proxy (pid {pid})");
        if !signal_group(pid, "TERM") {
            let _ = child.kill();
        }
        let deadline = Instant::now() + KILL_GRACE;
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    log::warn!("the proxy did not stop within 1 s; killing it");
                    if !signal_group(pid, "KILL") {
                        let _ = child.kill();
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        // Members of the group that outlive the leader (node under npx) get the same end.
        let _ = signal_group(pid, "KILL");
        self.forget_launch(pid);
    }
}

/// Sends a signal to the process group our child leads (its PGID is its PID).
/// `std` has no `kill(2)` beyond SIGKILL of the child itself, so this runs `kill`.
fn signal_group(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pid}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with exit code {code}");
    }
    match status.signal() {
        Some(signal) => {
            let name = match signal {
                1 => " (SIGHUP)",
                2 => " (SIGINT)",
                6 => " (SIGABRT)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                15 => " (SIGTERM)",
                _ => "",
            };
            format!("was killed by signal {signal}{name}")
        }
        None => format!("ended ({status})"),
    }
}

/// Replaces every secret in `text` with `[redacted]`.
fn redact(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in secrets {
        if !secret.is_empty() && text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "[redacted]");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_the_key_with_and_without_prefix() {
        let key = format!("0x{}", "ab".repeat(32));
        let slot = ProxySlot::new(
            vec!["x".into()],
            vec![("BLOCKRUN_WALLET_KEY".into(), key.clone())],
            1,
        );
        let line = format!("key={key} bare={}", &key[2..]);
        let out = redact(&line, &slot.secrets);
        assert!(!out.contains(&key[2..]), "{out}");
        assert_eq!(out, "key=[redacted] bare=[redacted]");
    }

    fn config_with(env: crate::config::EnvOverrides, yaml: &str) -> Config {
        let path = std::path::PathBuf::from("test.yaml");
        let file = crate::config::parse_file(yaml, &path).expect("yaml");
        crate::config::resolve(file, Some(path), &env, &Default::default()).expect("config")
    }

    #[test]
    fn the_proxy_argv_runs_the_pinned_version() {
        let argv = proxy_argv(&config_with(Default::default(), "")).expect("argv");
        assert_eq!(
            argv,
            [
                "npx",
                "-y",
                "@blockrun/clawrouter@0.12.246",
                "--port",
                "8404"
            ]
        );
        let env = crate::config::EnvOverrides {
            proxy_version: Some("0.12.250".into()),
            proxy_port: Some("9100".into()),
            ..Default::default()
        };
        let argv = proxy_argv(&config_with(env, "")).expect("argv");
        assert_eq!(
            argv,
            [
                "npx",
                "-y",
                "@blockrun/clawrouter@0.12.250",
                "--port",
                "9100"
            ]
        );
    }

    #[test]
    fn a_command_of_the_users_own_overrides_the_pin() {
        let env = crate::config::EnvOverrides {
            proxy_command: Some("npx -y @blockrun/clawrouter@latest".into()),
            ..Default::default()
        };
        let argv = proxy_argv(&config_with(env, "proxy:\n  version: 0.12.250\n")).expect("argv");
        assert_eq!(
            argv,
            ["npx", "-y", "@blockrun/clawrouter@latest", "--port", "8404"]
        );
        let env = crate::config::EnvOverrides {
            proxy_command: Some(" ".into()),
            ..Default::default()
        };
        let mut cfg = config_with(Default::default(), "");
        cfg.proxy.command = env.proxy_command;
        let err = proxy_argv(&cfg).unwrap_err();
        assert!(
            err.contains("npx -y @blockrun/clawrouter@0.12.246"),
            "{err}"
        );
    }

    #[test]
    fn status_descriptions_name_code_or_signal() {
        assert_eq!(
            describe_status(ExitStatus::from_raw(3 << 8)),
            "exited with exit code 3"
        );
        assert_eq!(
            describe_status(ExitStatus::from_raw(9)),
            "was killed by signal 9 (SIGKILL)"
        );
    }
}
