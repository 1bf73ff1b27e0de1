//! The daemon's life: ordered start-up (config → logs → store → bind → READY),
//! then, on SIGTERM/SIGINT, reverse shutdown (stop accepting, drain requests,
//! remove the socket file, close the store).

use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinSet;

mod reload;

pub use reload::Reloader;

use crate::api::{self, App};
use crate::config::Config;
use crate::dns::{self, DnsServer, DnsStats};
use crate::scheduler::Scheduler;
use crate::store::{zonedata, Store, StoreError};
use crate::tls::TlsListener;
use crate::zone::Engine;

/// Why the daemon could not start or stopped abnormally.
#[derive(Debug)]
pub enum DaemonError {
    Store {
        path: PathBuf,
        error: StoreError,
    },
    Bind {
        what: &'static str,
        addr: String,
        error: std::io::Error,
    },
    AlreadyRunning {
        socket: PathBuf,
    },
    /// Another daemon holds the store's lock file.
    StoreInUse {
        lock: PathBuf,
    },
    Signals(std::io::Error),
    Config(String),
}

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DaemonError::Store { path, error } => write!(f, "cannot open the store {}: {error}", path.display()),
            DaemonError::Bind { what, addr, error } => write!(f, "cannot listen for {what} on {addr}: {error}"),
            DaemonError::AlreadyRunning { socket } => {
                write!(f, "another secondaryd is already answering on {}", socket.display())
            }
            DaemonError::StoreInUse { lock } => write!(
                f,
                "another secondaryd is running on this store (it holds the lock {}); stop it first",
                lock.display()
            ),
            DaemonError::Signals(e) => write!(f, "cannot install signal handlers: {e}"),
            DaemonError::Config(e) => write!(f, "configuration: {e}"),
        }
    }
}

impl std::error::Error for DaemonError {}

/// The log filter in force, which a config reload changes (`log.level`);
/// unset when `RUST_LOG` chose the filter, or when logging was set up by
/// someone else (tests).
static LOG_FILTER: std::sync::OnceLock<
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>,
> = std::sync::OnceLock::new();

/// Logs go to stderr, one line per event, without colours. When stderr is
/// the systemd journal ([`stderr_is_journal`]), each line starts with its
/// syslog priority (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug and
/// trace; sd-daemon(3)), so `journalctl -p warning` filters by level, and
/// carries no time stamp (the journal keeps its own); elsewhere a line starts
/// with its UTC time. The filter is `RUST_LOG` when set, else `level`
/// (`log.level`).
pub fn init_logging(level: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let from_env = std::env::var_os("RUST_LOG").is_some();
    let filter = match tracing_subscriber::EnvFilter::try_from_default_env() {
        Ok(f) => f,
        Err(_) => {
            tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        }
    };
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    let journal = stderr_is_journal();
    let to_journal = journal.then(|| {
        let format = Prioritized(tracing_subscriber::fmt::format().without_time());
        tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(false).event_format(format)
    });
    let plain = (!journal).then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(false));
    if tracing_subscriber::registry().with(filter).with(to_journal).with(plain).try_init().is_ok() && !from_env {
        let _ = LOG_FILTER.set(handle);
    }
}

/// Whether stderr is the stream of the systemd journal: `JOURNAL_STREAM`
/// (systemd.exec(5)) names its device and inode, and they are stderr's
/// (a child whose stderr was redirected elsewhere inherits the variable).
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else { return false };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else { return false };
    std::fs::metadata("/proc/self/fd/2").is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

/// A line format with the event's syslog priority in front, as the journal
/// reads it on a service's stderr (`SyslogLevelPrefix=`, on by default).
struct Prioritized<F>(F);

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for Prioritized<F>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let priority = match *event.metadata().level() {
            tracing::Level::ERROR => 3,
            tracing::Level::WARN => 4,
            tracing::Level::INFO => 6,
            _ => 7,
        };
        write!(writer, "<{priority}>")?;
        self.0.format_event(ctx, writer, event)
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<(), DaemonError> {
    let config = Arc::new(config);
    tracing::info!(config = %config.source, store = %config.store_path.display(), "secondaryd starting");

    raise_file_limit();
    // One daemon per store: two would each schedule and write the same zones.
    let _lock = lock_store(&config.store_path)?;
    let path = config.store_path.clone();
    let max = config.store_max_bytes;
    let store = tokio::task::spawn_blocking(move || Store::open_bounded(&path, max))
        .await
        .map_err(|e| DaemonError::Store { path: config.store_path.clone(), error: StoreError::Setup(e.to_string()) })?
        .map_err(|error| DaemonError::Store { path: config.store_path.clone(), error })?;

    match store.call(zonedata::collect_garbage).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, "removed records left by interrupted transfers or deleted zones"),
        Err(error) => return Err(DaemonError::Store { path: config.store_path.clone(), error }),
    }

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let scheduler = Scheduler::new(config.transfer.concurrency);
    let engine = Engine::new(store.clone(), config.clone(), scheduler.clone()).map_err(DaemonError::Config)?;
    let zones =
        engine.replan_all().await.map_err(|error| DaemonError::Store { path: config.store_path.clone(), error })?;
    tracing::info!(zones, "zone timers planned from the store");
    let started = std::time::Instant::now();
    let (served, records) =
        engine.load_views().await.map_err(|error| DaemonError::Store { path: config.store_path.clone(), error })?;
    tracing::info!(zones = served, records, ms = started.elapsed().as_millis() as u64, "zones loaded for serving");
    engine
        .load_zone_downstreams()
        .await
        .map_err(|error| DaemonError::Store { path: config.store_path.clone(), error })?;
    let catalogs = engine
        .load_consumed_catalogs()
        .await
        .map_err(|error| DaemonError::Store { path: config.store_path.clone(), error })?;
    if catalogs > 0 {
        tracing::info!(catalogs, "catalog zones consumed");
    }
    engine.start_catalog().await.map_err(|error| DaemonError::Store { path: config.store_path.clone(), error })?;
    let workers = config.dns.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let listeners = dns::bind(&config.dns_listen, workers).await.map_err(|(addr, error)| DaemonError::Bind {
        what: "DNS",
        addr: addr.to_string(),
        error,
    })?;
    let dns_stats = Arc::new(DnsStats::new(config.dns.rate_limit));
    let dns_server = DnsServer::new(engine.clone(), dns_stats.clone());
    let dns_task = tokio::spawn(dns_server.clone().serve(listeners, shutdown_rx.clone()));
    let tls_configs: Option<crate::tls::ServerConfigs> =
        config.control_tls.as_ref().map(|t| Arc::new(arc_swap::ArcSwap::new(t.server.clone())));
    let reloader = Arc::new(Reloader::new(config.file.clone(), engine.clone(), dns_server, tls_configs.clone()));
    let app = App { store: store.clone(), engine: engine.clone(), dns: dns_stats.clone(), reload: reloader.clone() };
    let mut tasks = JoinSet::new();
    let scheduler_task = tokio::spawn(scheduler.clone().run(engine.handler(), shutdown_rx.clone()));

    if let Some(addr) = config.metrics_listen {
        let tcp = TcpListener::bind(addr).await.map_err(|error| DaemonError::Bind {
            what: "the metrics endpoint (metrics.listen)",
            addr: addr.to_string(),
            error,
        })?;
        let exporter = Arc::new(crate::metrics::Exporter::new(engine.clone(), dns_stats));
        let router = crate::metrics::router(exporter);
        tasks.spawn(api::serve::serve(tcp, router, crate::metrics::CONNECTIONS, shutdown_rx.clone()));
        tracing::info!(%addr, "metrics listening (GET /metrics, Prometheus text and OpenMetrics)");
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "the metrics endpoint has no authentication and names every zone: keep it on \
                loopback or a management network");
        }
    }

    if let Some(addr) = config.control_listen {
        let tcp = bind_tcp(addr).await?;
        let router = api::tcp_router(app.clone());
        let (max, stop) = (api::serve::TCP_CONNECTIONS, shutdown_rx.clone());
        match &tls_configs {
            Some(configs) => {
                let tls = TlsListener::new(tcp, configs.clone()).map_err(|error| DaemonError::Bind {
                    what: "the TCP control API",
                    addr: addr.to_string(),
                    error,
                })?;
                tasks.spawn(api::serve::serve(tls, router, max, stop));
                tracing::info!(%addr, "control API listening on TCP, HTTPS only (bearer tokens required)");
            }
            None => {
                tasks.spawn(api::serve::serve(tcp, router, max, stop));
                tracing::info!(%addr, "control API listening on TCP, plain HTTP (bearer tokens required)");
                if !addr.ip().is_loopback() {
                    tracing::warn!(
                        %addr,
                        "the TCP control API is plain HTTP on a non-loopback address: bearer tokens and \
                         data travel unencrypted; set control.tls_cert and control.tls_key for HTTPS"
                    );
                }
            }
        }
    }

    // Last: once the socket answers (what tests and scripts wait for), every
    // other listener is bound.
    let unix = bind_control_socket(&config.control_socket).await?;
    let unix_inode = std::fs::metadata(&config.control_socket).map(|m| m.ino()).unwrap_or(0);
    let router = api::unix_router(app.clone());
    tasks.spawn(api::serve::serve(unix, router, api::serve::UNIX_CONNECTIONS, shutdown_rx.clone()));
    tracing::info!(socket = %config.control_socket.display(), "control API listening on the Unix socket");

    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tracing::info!("secondaryd ready");

    wait_for_signal(&reloader).await?;
    tracing::info!("shutting down");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    let _ = shutdown_tx.send(true);
    while tasks.join_next().await.is_some() {}
    if let Err(e) = dns_task.await {
        tracing::error!(error = %e, "the DNS listener failed");
    }
    // Running transfers finish (or fail and are discarded); nothing new starts.
    if let Err(e) = scheduler_task.await {
        tracing::error!(error = %e, "the scheduler task failed");
    }
    // Only our own socket: a file of that name bound since by someone else stays.
    let ours = std::fs::metadata(&config.control_socket).ok().map(|m| m.ino()) == Some(unix_inode);
    if ours {
        if let Err(e) = std::fs::remove_file(&config.control_socket) {
            tracing::warn!(socket = %config.control_socket.display(), error = %e, "could not remove the control socket");
        }
    }
    drop(app);
    drop(engine);
    drop(store);
    tracing::info!("secondaryd stopped");
    Ok(())
}

impl api::Reload for Reloader {
    fn reload(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<crate::model::Reloaded, String>> + Send + '_>> {
        Box::pin(Reloader::reload(self))
    }
}

/// Waits for SIGTERM or SIGINT. SIGHUP (what `systemctl reload` sends)
/// reloads the config.
async fn wait_for_signal(reloader: &Reloader) -> Result<(), DaemonError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
    loop {
        tokio::select! {
            _ = term.recv() => {
                tracing::info!(signal = "SIGTERM", "signal received");
                return Ok(());
            }
            _ = int.recv() => {
                tracing::info!(signal = "SIGINT", "signal received");
                return Ok(());
            }
            _ = hup.recv() => {
                tracing::info!(signal = "SIGHUP", "signal received: reloading the config");
                // The outcome is logged by the reload itself.
                let _ = reloader.reload().await;
            }
        }
    }
}

/// Raises the soft limit of open files to the hard one: every zone transfer,
/// downstream and API client is a descriptor, and the soft default (often
/// 1024) is a limit of another era. The API's connections are bounded
/// besides, so they cannot use up what transfers need.
fn raise_file_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                Ok(()) => tracing::debug!(from = soft, to = hard, "open file limit raised"),
                Err(e) => tracing::warn!(soft, hard, error = %e, "cannot raise the open file limit"),
            }
        }
    }
}

/// Takes the store's lock file (`<store>.lock`, held until the daemon
/// exits), so a second daemon on the same database refuses to start.
fn lock_store(store: &Path) -> Result<std::fs::File, DaemonError> {
    let mut name = store.as_os_str().to_os_string();
    name.push(".lock");
    let lock = PathBuf::from(name);
    let err = |error: std::io::Error| DaemonError::Store {
        path: store.to_path_buf(),
        error: StoreError::Setup(format!("cannot open the lock file {}: {error}", lock.display())),
    };
    if let Some(dir) = lock.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|error| DaemonError::Store {
                path: store.to_path_buf(),
                error: StoreError::Setup(if dir.exists() && !dir.is_dir() {
                    format!("{} is not a directory", dir.display())
                } else {
                    format!("cannot create the directory {}: {error}", dir.display())
                }),
            })?;
        }
    }
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock).map_err(err)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(DaemonError::StoreInUse { lock }),
        Err(std::fs::TryLockError::Error(e)) => Err(err(e)),
    }
}

/// Binds the control socket with mode 0660. A stale socket file left by a
/// crash is replaced; a live one means another daemon owns it.
async fn bind_control_socket(path: &Path) -> Result<UnixListener, DaemonError> {
    let err =
        |error: std::io::Error| DaemonError::Bind { what: "the control API", addr: path.display().to_string(), error };
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
    }
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(DaemonError::AlreadyRunning { socket: path.to_path_buf() });
        }
        std::fs::remove_file(path).map_err(err)?;
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(err)?;
    Ok(listener)
}

async fn bind_tcp(addr: SocketAddr) -> Result<TcpListener, DaemonError> {
    TcpListener::bind(addr).await.map_err(|error| DaemonError::Bind {
        what: "the TCP control API",
        addr: addr.to_string(),
        error,
    })
}
