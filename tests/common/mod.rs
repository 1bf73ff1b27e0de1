//! Test harness: start the real `secondaryd` binary with its own config in a
//! temp dir, wait until its control socket answers, stop it with SIGTERM.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use secondaryd::client::{Client, Endpoint, Response};
use serde_json::Value;

/// A port free for both UDP and TCP on 127.0.0.1.
pub fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a free TCP port");
        let port = tcp.local_addr().expect("local addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub socket: PathBuf,
    pub tcp: Option<SocketAddr>,
    pub dns_port: u16,
    child: Option<Child>,
}

impl Daemon {
    /// Starts a daemon whose config is the default test config plus `extra`
    /// (more TOML sections, e.g. `[[token]]`).
    pub async fn start(extra: &str) -> Daemon {
        Self::start_with(extra, false).await
    }

    /// Like [`Daemon::start`], with the TCP API on a free port.
    pub async fn start_with_tcp(extra: &str) -> Daemon {
        Self::start_with(extra, true).await
    }

    async fn start_with(extra: &str, tcp: bool) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("control.sock");
        let dns_port = free_port();
        let tcp = tcp.then(|| SocketAddr::from(([127, 0, 0, 1], free_port())));
        let listen = tcp.map(|a| format!("listen = \"{a}\"\n")).unwrap_or_default();
        let config = format!(
            "[store]\npath = \"secondaryd.db\"\n[control]\nsocket = \"control.sock\"\n{listen}\
             [dns]\nlisten = [\"127.0.0.1:{dns_port}\"]\n{extra}\n"
        );
        let config_path = dir.path().join("secondaryd.toml");
        std::fs::write(&config_path, config).expect("write config");
        let mut d = Daemon { dir, config_path, socket, tcp, dns_port, child: None };
        d.spawn().await;
        d
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("secondaryd.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("open daemon log");
        let child = Command::new(env!("CARGO_BIN_EXE_secondaryd"))
            .arg("--config")
            .arg(&self.config_path)
            .env("RUST_LOG", "secondaryd=debug,info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn secondaryd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("secondaryd exited during start-up with {status}; log:\n{}", self.log());
                }
            }
            if let Ok(r) = self.client().get("/v2/whoami").await {
                if r.status == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "secondaryd did not answer on its socket in 20 s; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the daemon with SIGTERM and waits for it to exit cleanly.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        assert!(status.success(), "secondaryd exited with {status}; log:\n{}", self.log());
                        return;
                    }
                    Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                    _ => {
                        let _ = child.kill();
                        panic!("secondaryd did not stop within 20 s of SIGTERM; log:\n{}", self.log());
                    }
                }
            }
        }
    }

    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    pub fn client(&self) -> Client {
        Client::new(Endpoint::Unix(self.socket.clone()))
    }

    pub fn tcp_client(&self, token: Option<&str>) -> Client {
        let addr = self.tcp.expect("daemon started with a TCP API");
        Client::new(Endpoint::Tcp { addr, token: token.map(str::to_string) })
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        self.client().request(method, path, body.as_ref()).await.expect("API call")
    }

    /// Runs `secondaryctl --socket <ours> ARGS…` and returns (exit code, stdout, stderr).
    pub fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        ctl_with(&self.socket, args)
    }
}

pub fn ctl_with(socket: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_secondaryctl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("run secondaryctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
