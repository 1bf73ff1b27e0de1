//! `secondaryctl`: a thin client of the control API for people (tables) and
//! scripts (`--json`). Exit codes: 0 ok, 1 the API refused, 2 usage or
//! config error (clap's too), 3 cannot reach the daemon.
//!
//! One module per command group; answers are read into the API's shapes
//! ([`secondaryd::model`]), so a field renamed there is found by the compiler
//! here. `output` has the tables and the `--json` printing they share; `cli`
//! has the command line, which build.rs turns into the man page and completions.

mod cli;
mod custom_ns;
mod nameserver_set;
mod output;
mod primary;
mod reload;
mod status;
mod zone;
mod zone_add;
mod zone_ns;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use cli::{Args, Command};
use secondaryd::client::{Client, ClientError, Endpoint, Response};
use secondaryd::config::{Config, DEV_DIR};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Percent-encodes one path segment (primary names may contain spaces).
pub fn seg(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What every command has: the API, the account, and how to print.
pub struct Ctl {
    pub client: Client,
    pub account: i64,
    pub json: bool,
}

pub enum Failure {
    Api(Response),
    Unreachable(String),
    /// The daemon answered something that is not the API's shape.
    Unexpected(String),
    /// Bad input that clap cannot see (a file that cannot be read).
    Usage(String),
    /// The operation ran and failed; its outcome was printed.
    Refused,
    /// The outcome was printed; exit with this status (`status --check`).
    Exit(u8),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Shape { .. } => Failure::Unexpected(e.to_string()),
            ClientError::Connect { .. } | ClientError::Tls { .. } | ClientError::Http(_) => {
                Failure::Unreachable(e.to_string())
            }
        }
    }
}

impl Ctl {
    /// `path` under `/v2/{account}`; an answer that is not a success is a [`Failure::Api`].
    pub async fn call<B: Serialize + ?Sized>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<Response, Failure> {
        let full = format!("/v2/{}{}", self.account, path);
        success(self.client.send(method, &full, body).await?)
    }

    pub async fn get(&self, path: &str) -> Result<Response, Failure> {
        self.call::<()>("GET", path, None).await
    }

    pub async fn delete(&self, path: &str) -> Result<Response, Failure> {
        self.call::<()>("DELETE", path, None).await
    }

    /// What `{"data": …}` of a GET holds.
    pub async fn get_data<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        Ok(self.get(path).await?.data()?)
    }

    /// What `{"data": …}` of a request with a body holds.
    pub async fn send_data<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &B,
    ) -> Result<T, Failure> {
        Ok(self.call(method, path, Some(body)).await?.data()?)
    }

    /// Fetches every page of a list.
    pub async fn list_all<T: DeserializeOwned>(&self, path: &str, query: &str) -> Result<Vec<T>, Failure> {
        let mut items = Vec::new();
        let mut page = 1;
        loop {
            let list = self.get(&format!("{path}?per_page=100&page={page}{query}")).await?.page::<T>()?;
            items.extend(list.data);
            if page >= list.pagination.total_pages {
                return Ok(items);
            }
            page += 1;
        }
    }
}

fn success(resp: Response) -> Result<Response, Failure> {
    if resp.is_success() {
        Ok(resp)
    } else {
        Err(Failure::Api(resp))
    }
}

async fn run(ctl: &Ctl, command: Command) -> Result<(), Failure> {
    match command {
        Command::Primary(cmd) => primary::run(ctl, cmd).await,
        Command::Link { primary, zone } => primary::link(ctl, "link", &primary, &zone).await,
        Command::Unlink { primary, zone } => primary::link(ctl, "unlink", &primary, &zone).await,
        Command::Zone(cmd) => zone::run(ctl, cmd).await,
        Command::Status { check } => status::run(ctl, check).await,
        Command::Reload => reload::run(ctl).await,
        Command::Nsset(cmd) => nameserver_set::run(ctl, cmd).await,
        Command::Ns(cmd) => custom_ns::run(ctl, cmd).await,
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("secondaryctl: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let socket = args
        .socket
        .clone()
        .or_else(|| std::env::var_os("SECONDARYD_SOCKET").map(PathBuf::from))
        .or_else(|| config.as_ref().map(|c| c.control_socket.clone()))
        .unwrap_or_else(|| {
            if args.dev {
                PathBuf::from(DEV_DIR).join("control.sock")
            } else {
                PathBuf::from("/run/secondaryd/control.sock")
            }
        });
    let account = args
        .account
        .or_else(|| std::env::var("SECONDARYD_ACCOUNT").ok().and_then(|a| a.parse().ok()))
        .or_else(|| {
            let c = config.as_ref()?;
            let first = c.tokens.first()?.account;
            c.tokens.iter().all(|t| t.account == first).then_some(first)
        })
        .unwrap_or(1);
    let ctl = Ctl { client: Client::new(Endpoint::Unix(socket)), account, json: args.json };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("secondaryctl: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&ctl, args.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Api(resp)) => {
            if ctl.json {
                let body = match resp.error() {
                    Some(error) => serde_json::to_string_pretty(&error),
                    None => serde_json::to_string_pretty(&resp.body),
                };
                println!("{}", body.unwrap_or_default());
            }
            eprintln!("secondaryctl: {}", resp.error_message());
            ExitCode::FAILURE
        }
        Err(Failure::Refused) => ExitCode::FAILURE,
        Err(Failure::Exit(code)) => ExitCode::from(code),
        Err(Failure::Unexpected(e)) => {
            eprintln!("secondaryctl: {e}");
            ExitCode::FAILURE
        }
        Err(Failure::Usage(e)) => {
            eprintln!("secondaryctl: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Unreachable(e)) => {
            eprintln!("secondaryctl: {e}");
            ExitCode::from(3)
        }
    }
}
