//! # secondaryd — a secondary DNS server
//!
//! secondaryd keeps copies of zones that live on other servers (the
//! *primaries*). This crate root is the map; the logic lives in the modules.
//!
//! ## Parts
//! - [`config`]: the TOML file → a validated [`config::Config`] (every key has a
//!   default, unknown keys are errors).
//! - [`store`]: SQLite, owned by one thread; async code hands it closures.
//!   Primaries, zones, the ordered links between them (and zone data, journal and
//!   timers as transfers land); nameserver sets, custom nameservers and each
//!   zone's NS settings, kept apart from the transferred data. The writer keeps
//!   in memory what the NOTIFY check needs (`store::notify_acl`) and each
//!   primary's linked zones (`store::links`), both by SQLite triggers; reads
//!   that must not wait behind a write go to a second connection.
//! - [`api`]: the control API, HTTP/JSON in the shape of DNSimple API v2, served
//!   on a Unix socket (all accounts) and optionally on TCP (bearer token → one
//!   account). Handlers validate, write the store and schedule; they never
//!   transfer. `api::serve` bounds connections, header and request time.
//! - [`zone`]: zone names, timer arithmetic, the engine that runs zone events
//!   (the refresh handler: SOA check, IXFR/AXFR, commit; and expiry), and
//!   `zone::publish`: the records we publish are the stored ones with the
//!   zone's NS settings applied as an overlay (API listing, export, answers),
//!   and `zone::serve`, which keeps each zone's serving view in step with the
//!   store (built at start-up, after each full transfer, and from the previous
//!   view and the diff after each IXFR).
//! - [`view`]: what queries read: per zone an immutable view (a compact
//!   sorted base plus a persistent delta of changed names) behind one atomic
//!   pointer, so a query never waits for a writer or touches SQLite.
//! - [`wire`]: the DNS codec every other part shares: names, the message
//!   reader and builders, presentation text, TSIG, serial arithmetic. It
//!   imports nothing of ours.
//! - [`xfr`]: the transfer core: SOA query, a sans-IO AXFR/IXFR interpreter
//!   and a thin tokio I/O loop. It knows neither SQLite nor HTTP.
//! - [`scheduler`]: one time-ordered queue of zone events; merges requests,
//!   runs one event per zone at a time and at most N overall, urgent first.
//! - [`dns`]: the UDP/TCP listener: authoritative answers from the views
//!   (`dns::answer` decides, `dns::query` writes them within the size limit,
//!   `dns::rrl` rate-limits UDP), and NOTIFY, which only schedules a refresh.
//! - [`metrics`]: the optional Prometheus endpoint (`GET /metrics`): reads
//!   the figures the other parts keep (the DNS listener's atomics, the
//!   engine's transfer counters, the scheduler, each zone's row) at scrape
//!   time; it counts nothing itself.
//! - [`daemon`]: ordered start-up and shutdown, signals, systemd readiness.
//! - [`model`]: the control API's request and response bodies as serde
//!   structs, the one definition the handlers produce and the client,
//!   `secondaryctl` and the tests read. It imports nothing of ours.
//! - [`client`]: the HTTP client of the control API used by `secondaryctl` and
//!   the integration tests.
//! - [`tls`]: HTTPS of the TCP control API (rustls): the certificate and key
//!   files, a listener that handshakes before axum serves, the client's CA.
//!
//! ## Data flow
//! ```text
//! secondaryctl ──HTTP/JSON──► api ──► store (SQLite thread)
//!                              │
//!                              ├──read──► zone::publish (stored records + NS settings → what we publish)
//!                              └──schedule──► zone events ──► xfr ◄──► primaries
//!                                                 │ commit, then swap
//!                                                 ▼
//! resolvers ──UDP/TCP──► dns (answer, query) ──► view (one atomic pointer per zone)
//! ```
//! Imports run one way: binaries → daemon → (api, dns, metrics) → zone → (xfr, view,
//! store) → wire; `xfr`, `view` and `store` import nothing above them, `wire`
//! and `model` nothing at all.

pub mod api;
pub mod client;
pub mod config;
pub mod daemon;
pub mod dns;
pub mod metrics;
pub mod model;
pub mod scheduler;
pub mod store;
pub mod tls;
pub mod view;
pub mod wire;
pub mod xfr;
pub mod zone;
