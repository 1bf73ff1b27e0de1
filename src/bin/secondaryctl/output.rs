//! What the commands print: aligned tables and `key: value` blocks for
//! people, the API's JSON with `--json`.

use std::fmt::Display;

use serde::Serialize;

use crate::Ctl;

impl Ctl {
    /// One object: `show` prints it for people; `--json` prints it as the API has it.
    pub fn print_object<T: Serialize>(&self, v: &T, show: fn(&T)) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        } else {
            show(v);
        }
    }

    /// A list: a table of `row`s under `headers`, or a JSON array with `--json`.
    pub fn print_list<T: Serialize>(&self, items: &[T], headers: &[&str], row: fn(&T) -> Vec<String>) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(items).unwrap_or_default());
        } else {
            table(headers, items.iter().map(row).collect());
        }
    }
}

pub fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
}

/// A value that may be absent: `-` when it is.
pub fn opt<T: Display>(v: &Option<T>) -> String {
    match v {
        Some(v) => v.to_string(),
        None => "-".to_string(),
    }
}

/// Items joined by `sep`, or `-` when there are none.
pub fn joined<T: Display>(items: &[T], sep: &str) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.iter().map(ToString::to_string).collect::<Vec<_>>().join(sep)
    }
}

pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Unix seconds as the API writes times (RFC 3339, UTC).
pub fn unix_time(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}
