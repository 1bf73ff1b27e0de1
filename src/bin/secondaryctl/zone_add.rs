//! `secondaryctl zone add` of many zones (`--primary`, several ZONEs,
//! `--from FILE`): each zone is created linked to the primary (one request
//! each, `primaries` on zone create), a few
//! requests in flight on connections kept open, with a progress line on a
//! terminal and a summary at the end.
//!
//! A zone that fails is reported with the API's message and the others go
//! on. Re-running the same command is safe: a zone that is there already and
//! linked to the primary counts as done, and one an interrupted run created
//! but did not link (no primary at all) is linked now.

use std::collections::HashSet;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use secondaryd::client::{ClientError, Connection, Response};
use secondaryd::model::{NewZone, PrimaryServer, Zone, ZoneLink};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::primary::PRIMARIES;
use crate::{seg, Ctl, Failure};

/// Requests in flight: one per connection.
const CONNECTIONS: usize = 4;

/// How often the progress line is redrawn.
const REDRAW: Duration = Duration::from_millis(100);

/// What became of one zone.
enum Outcome {
    /// Created (and linked), or linked now.
    Added,
    /// There already (and linked to the primary).
    Already,
    /// The API's message.
    Failed(String),
}

/// What the workers share: the names, the next one to take, where they go.
struct Job {
    account: i64,
    primary: Option<PrimaryServer>,
    names: Vec<String>,
    next: AtomicUsize,
}

/// The summary printed with `--json`.
#[derive(Serialize)]
struct Summary<'a> {
    added: Vec<&'a str>,
    already: Vec<&'a str>,
    failed: Vec<Failed<'a>>,
}

#[derive(Serialize)]
struct Failed<'a> {
    zone: &'a str,
    message: &'a str,
}

pub async fn run(
    ctl: &Ctl,
    mut names: Vec<String>,
    primary: Option<String>,
    from: Option<PathBuf>,
) -> Result<(), Failure> {
    if let Some(path) = &from {
        names.extend(read_names(path)?);
    }
    let names = distinct(names);
    let primary = match primary {
        Some(p) => Some(ctl.get_data::<PrimaryServer>(&format!("{PRIMARIES}/{}", seg(&p))).await?),
        None => None,
    };
    let job = Arc::new(Job { account: ctl.account, primary, names, next: AtomicUsize::new(0) });
    let total = job.names.len();

    let (tx, mut rx) = mpsc::unbounded_channel();
    for _ in 0..CONNECTIONS.min(total) {
        let (job, tx, mut conn) = (job.clone(), tx.clone(), ctl.client.connection());
        tokio::spawn(async move {
            loop {
                let i = job.next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = job.names.get(i) else { break };
                let outcome = add_one(&mut conn, &job, name).await;
                let fatal = outcome.is_err();
                if tx.send((i, outcome)).is_err() || fatal {
                    break;
                }
            }
        });
    }
    drop(tx);

    let progress = std::io::stderr().is_terminal();
    let mut outcomes: Vec<Option<Outcome>> = (0..total).map(|_| None).collect();
    let (mut done, mut failed) = (0, 0);
    let mut unreachable = None;
    let mut drawn: Option<Instant> = None;
    while let Some((i, outcome)) = rx.recv().await {
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                // The daemon went away (or answers nonsense): stop taking zones.
                job.next.store(total, Ordering::Relaxed);
                unreachable.get_or_insert(e);
                continue;
            }
        };
        done += 1;
        if let Outcome::Failed(message) = &outcome {
            failed += 1;
            eprintln!("{}secondaryctl: {}: {message}", if progress { "\r\x1b[K" } else { "" }, job.names[i]);
        }
        outcomes[i] = Some(outcome);
        if progress && (done == total || drawn.is_none_or(|t| t.elapsed() >= REDRAW)) {
            let failures = if failed > 0 { format!(", {failed} failed") } else { String::new() };
            eprint!("\r\x1b[K{done}/{total} zones added{failures}");
            drawn = Some(Instant::now());
        }
    }
    if progress && drawn.is_some() {
        eprint!("\r\x1b[K");
    }

    // When the daemon could not be reached at all, the error says it all.
    if unreachable.is_none() || done > 0 {
        print_summary(ctl, &job, &outcomes);
    }
    match unreachable {
        Some(e) => Err(e.into()),
        None if failed > 0 => Err(Failure::Refused),
        None => Ok(()),
    }
}

/// What became of the zones, in the order they were given.
fn print_summary(ctl: &Ctl, job: &Job, outcomes: &[Option<Outcome>]) {
    let mut summary = Summary { added: Vec::new(), already: Vec::new(), failed: Vec::new() };
    for (name, outcome) in job.names.iter().zip(outcomes) {
        match outcome {
            Some(Outcome::Added) => summary.added.push(name),
            Some(Outcome::Already) => summary.already.push(name),
            Some(Outcome::Failed(message)) => summary.failed.push(Failed { zone: name, message }),
            None => {}
        }
    }
    if ctl.json {
        println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
        return;
    }
    let linked = job.primary.as_ref().map(|p| format!(" and linked to {}", p.name)).unwrap_or_default();
    let zones = |n: usize| if n == 1 { "1 zone".to_string() } else { format!("{n} zones") };
    println!(
        "{} added{linked}, {} already there, {} failed",
        zones(summary.added.len()),
        summary.already.len(),
        summary.failed.len()
    );
}

/// Zone names from a file or standard input (`-`), one per line, without
/// blank lines and `#` comments.
fn read_names(path: &Path) -> Result<Vec<String>, Failure> {
    let mut text = String::new();
    let read = if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    read.map_err(|e| Failure::Usage(format!("cannot read zone names from {}: {e}", path.display())))?;
    Ok(names_in(&text))
}

fn names_in(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split_once('#').map_or(line, |(before, _)| before).trim())
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// The names without repeats (case and a trailing dot do not matter), in order.
fn distinct(names: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    names.into_iter().filter(|n| seen.insert(n.trim_end_matches('.').to_ascii_lowercase())).collect()
}

/// Creates one zone and links it; an error is the connection's, not the zone's.
async fn add_one(conn: &mut Connection, job: &Job, name: &str) -> Result<Outcome, ClientError> {
    let zones = format!("/v2/{}/secondary_dns/zones", job.account);
    // Created and linked in one request (and one transaction).
    let primaries = job.primary.iter().map(|p| p.id.to_string()).collect();
    let created =
        conn.send("POST", &zones, Some(&NewZone { name: name.to_string(), catalog: None, primaries })).await?;
    if created.is_success() {
        return Ok(Outcome::Added);
    }
    // Not created: is it this account's already?
    let existing = conn.send::<()>("GET", &format!("/v2/{}/zones/{}", job.account, seg(name)), None).await?;
    if !existing.is_success() {
        return Ok(failed(&created));
    }
    let zone: Zone = existing.data()?;
    match &job.primary {
        None => Ok(Outcome::Already),
        Some(p) if zone.primaries.iter().any(|zp| zp.id == p.id) => Ok(Outcome::Already),
        // Created by a run that stopped before linking it.
        Some(p) if zone.primaries.is_empty() && zone.catalog_member.is_none() => link(conn, job, p, &zone.name).await,
        Some(_) => Ok(failed(&created)),
    }
}

async fn link(conn: &mut Connection, job: &Job, primary: &PrimaryServer, zone: &str) -> Result<Outcome, ClientError> {
    let path = format!("/v2/{}{PRIMARIES}/{}/link", job.account, primary.id);
    let linked = conn.send("PUT", &path, Some(&ZoneLink { zone: zone.to_string() })).await?;
    Ok(if linked.is_success() { Outcome::Added } else { failed(&linked) })
}

fn failed(resp: &Response) -> Outcome {
    Outcome::Failed(resp.error_message())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_skip_blank_lines_and_comments_and_repeats() {
        let text = "# zones of customer 7\nA.example\n\n  b.example  # moved here in May\n#c.example\na.example.\r\n";
        assert_eq!(distinct(names_in(text)), ["A.example", "b.example"]);
    }
}
