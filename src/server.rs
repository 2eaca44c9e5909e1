//! Builds and runs the Pingora server from a validated [`Config`]: Pingora's `ServerConf` is
//! derived here (the user never writes Pingora keys), the listener is checked before start so
//! a busy port is one clear error, and SIGINT/SIGTERM stop the bridge within the grace period.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::proxy::http_proxy;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use pingora::services::background::GenBackgroundService;
use pingora::services::listening::Service;
use tokio::sync::oneshot;

use crate::config::Config;
use crate::connection_guard::ConnectionGuard;
use crate::proxy::{Bridge, InitError};

/// Why the bridge could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another process listens on the address.
    #[error("cannot listen on {addr}: the port is already in use (another clawrouter-codex or ClawRouter?); stop it, or choose another port with PORT=… or `listen:` in the config")]
    PortInUse {
        /// The listen address.
        addr: SocketAddr,
    },
    /// The address cannot be listened on for another reason.
    #[error(
        "cannot listen on {addr}: {source}; choose another address with `listen:` in the config"
    )]
    Listen {
        /// The listen address.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// The in-process bridge did not start listening in time.
    #[error("the bridge did not start listening on {addr} within {secs} s")]
    NotListening {
        /// The listen address.
        addr: SocketAddr,
        /// How long the start was waited for.
        secs: u64,
    },
    /// The service could not be built (no secret key, a bad shared key).
    #[error("cannot start the bridge: {0}")]
    Init(#[from] InitError),
}

/// Checks that the listen address can be bound (and releases it at once).
pub fn check_listen(addr: SocketAddr) -> Result<(), StartError> {
    match TcpListener::bind(addr) {
        Ok(listener) => {
            drop(listener);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(StartError::PortInUse { addr }),
        Err(source) => Err(StartError::Listen { addr, source }),
    }
}

/// Time-outs longer than this use Tokio's timers instead of Pingora's fast ones (Pingora's
/// `ServerConf::fast_timeout_to_tokio_threshold_seconds`, which the server applies at start).
///
/// Pingora's fast timer keeps one timer per 10 ms of each time-out until its deadline passes,
/// even when the read it guarded ended long before: with the upstream's 600 s read time-out the
/// bridge's memory grew for ten minutes under load (`scripts/soak.sh`: 24 → 41.6 MiB at ~850
/// requests/s). Tokio's timers are freed when cancelled, and the long time-outs here (upstream
/// reads and writes, idle keep-alive, request bodies) are nearly always cancelled. Short ones
/// (the 10 s header and connect time-outs) stay on the cheaper fast timer. Pingora's own
/// default is 15 minutes.
const FAST_TIMER_LIMIT_SECS: u64 = 30;

/// Pingora's own settings, derived from ours.
fn server_conf(config: &Config) -> ServerConf {
    let scratch = std::env::temp_dir();
    let port = config.listen.port();
    ServerConf {
        threads: config.threads,
        daemon: false,
        // SIGTERM: stop accepting at once, give in-flight requests the configured grace.
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(config.shutdown_grace.as_secs()),
        // Pass-through: one attempt per upstream (a refused connection moves on to the next,
        // `Bridge::fail_to_connect`), plus pooled connections closed unread, replaced
        // (`Bridge::error_while_proxy`).
        max_retries: crate::proxy::passthrough::max_attempts(config.upstreams.len()),
        fast_timeout_to_tokio_threshold_seconds: Some(FAST_TIMER_LIMIT_SECS),
        pid_file: scratch
            .join(format!("clawrouter-codex-{port}.pid"))
            .display()
            .to_string(),
        upgrade_sock: scratch
            .join(format!("clawrouter-codex-{port}.sock"))
            .display()
            .to_string(),
        ..ServerConf::default()
    }
}

/// The client connection's transport buffers: none for reading, Pingora's default for writing.
const CLIENT_BUFFERS: L4BufferSettings = L4BufferSettings {
    read: Some(0),
    write: None,
};

/// Builds the Pingora server with the bridge service listening on `config.listen`.
pub fn build_server(config: Arc<Config>) -> Result<Server, StartError> {
    let bridge = Bridge::new(config.clone())?;
    let mut server = Server::new_with_opt_and_conf(None, server_conf(&config));
    server.bootstrap();
    let listen = config.listen.to_string();
    let metrics = bridge.metrics.clone();
    if let Some(balancer) = bridge.upstreams.balancer() {
        // Team mode: the upstreams' health checks run in the background.
        server.add_service(GenBackgroundService::new(
            "upstream health checks".to_owned(),
            balancer,
        ));
    }
    let proxy = http_proxy(&server.configuration, bridge);
    let guarded = ConnectionGuard::new(proxy, config.connections, metrics);
    let mut service = Service::new("clawrouter-codex".to_owned(), guarded);
    // No read buffer under Pingora's HTTP reader: it would be 64 KiB per connection, taken
    // before the connection guard sees it, so a flood of refused connections cost 64 KiB each
    // (docs/ARCHITECTURE.md, "Client connections"). Plain TCP needs none: the HTTP reader has
    // its own buffers.
    service.add_listener(ListenerConfig::tcp(&listen).l4_buffer(CLIENT_BUFFERS));
    server.add_service(service);
    Ok(server)
}

/// Runs the bridge in the foreground until SIGINT or SIGTERM.
pub fn run(config: Arc<Config>) -> Result<(), StartError> {
    check_listen(config.listen)?;
    log::info!(
        "clawrouter-codex {} listening on http://{} → upstream {}",
        env!("CARGO_PKG_VERSION"),
        config.listen,
        config.upstream.url
    );
    build_server(config)?.run(RunArgs {
        shutdown_signal: Box::new(SignalWatch),
    });
    Ok(())
}

/// SIGINT → immediate stop; SIGTERM → stop accepting, finish in-flight requests within the
/// grace period. (SIGQUIT, Pingora's live upgrade, is not used.)
struct SignalWatch;

#[async_trait]
impl ShutdownSignalWatch for SignalWatch {
    async fn recv(&self) -> ShutdownSignal {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            log::error!("cannot install signal handlers; the bridge stops only when killed");
            return std::future::pending().await;
        };
        tokio::select! {
            _ = interrupt.recv() => ShutdownSignal::FastShutdown,
            _ = terminate.recv() => ShutdownSignal::GracefulTerminate,
        }
    }
}

/// A bridge running on a background thread (tests, and a supervisor running it in-process).
/// Dropping it stops the bridge.
pub struct RunningBridge {
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RunningBridge {
    /// Starts the bridge and waits until it accepts connections.
    pub fn start(config: Arc<Config>) -> Result<RunningBridge, StartError> {
        let addr = config.listen;
        check_listen(addr)?;
        let (stop, stopped) = oneshot::channel();
        let server = build_server(config)?;
        let thread = std::thread::spawn(move || {
            server.run(RunArgs {
                shutdown_signal: Box::new(StopWatch(std::sync::Mutex::new(Some(stopped)))),
            })
        });
        let running = RunningBridge {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                return Err(StartError::NotListening { addr, secs: 10 });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(running)
    }
}

impl Drop for RunningBridge {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Shutdown watch fired by [`RunningBridge`]'s drop.
struct StopWatch(std::sync::Mutex<Option<oneshot::Receiver<()>>>);

#[async_trait]
impl ShutdownSignalWatch for StopWatch {
    async fn recv(&self) -> ShutdownSignal {
        let receiver = self.0.lock().ok().and_then(|mut r| r.take());
        if let Some(receiver) = receiver {
            let _ = receiver.await;
        }
        ShutdownSignal::FastShutdown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{resolve, CliOverrides, EnvOverrides, FileConfig};

    #[test]
    fn long_time_outs_use_timers_that_are_freed_when_cancelled() {
        // The soak's memory growth: every time-out longer than the limit must be one Tokio
        // frees on cancel, or the fast timer wheel holds it until its deadline.
        let config = resolve(
            FileConfig::default(),
            None,
            &EnvOverrides::default(),
            &CliOverrides::default(),
        )
        .expect("the built-in defaults");
        let limit = server_conf(&config)
            .fast_timeout_to_tokio_threshold_seconds
            .expect("a limit");
        for (name, time_out) in [
            ("upstream reads", config.upstream.read_timeout),
            ("idle keep-alive", config.connections.idle_timeout),
            ("request bodies", config.connections.body_timeout),
        ] {
            assert!(time_out.as_secs() > limit, "{name}: {time_out:?}");
        }
        assert!(limit < 60, "{limit}");
    }
}
