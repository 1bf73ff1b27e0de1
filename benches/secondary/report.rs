//! The table: one row per measurement, one column per server (plus the `dig`
//! floor), each cell the median and min–max of its runs, then
//! `secondaryd / best peer` and the target for secondaryd. Lower is
//! better except in the rows of [`Unit::Rate`] (queries per second), where the
//! best peer is the highest.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::servers::Kind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Col {
    Dig,
    Server(Kind),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unit {
    /// Seconds.
    Time,
    Bytes,
    Count,
    /// Per second (queries answered): higher is better.
    Rate,
}

impl Unit {
    pub fn higher_is_better(self) -> bool {
        self == Unit::Rate
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    None,
    /// The median must be below this.
    Below(f64),
    /// The median must be at most this.
    AtMost(f64),
    /// secondaryd's median divided by the best median of `of` (the highest
    /// for a rate, else the lowest) must be at least this.
    RatioAtLeast(f64, &'static [Kind]),
    /// That ratio must be at most this.
    RatioAtMost(f64, &'static [Kind]),
}

/// Every peer, for [`Target::RatioAtLeast`] and [`Target::RatioAtMost`].
pub const PEERS: &[Kind] = &[Kind::Bind, Kind::Knot, Kind::Nsd];

#[derive(Default, Debug)]
pub struct Cell {
    pub values: Vec<f64>,
    pub errors: Vec<String>,
}

#[derive(Debug)]
pub struct Row {
    pub label: String,
    pub unit: Unit,
    pub target: Target,
    pub cells: BTreeMap<Col, Cell>,
}

impl Row {
    pub fn new(label: impl Into<String>, unit: Unit, target: Target) -> Row {
        Row { label: label.into(), unit, target, cells: BTreeMap::new() }
    }

    pub fn push(&mut self, col: Col, v: f64) {
        self.cells.entry(col).or_default().values.push(v);
    }

    pub fn fail(&mut self, col: Col, e: impl Into<String>) {
        self.cells.entry(col).or_default().errors.push(e.into());
    }

    pub fn median(&self, col: Col) -> Option<f64> {
        self.cells.get(&col).and_then(|c| median(&c.values))
    }

    /// The best median of the servers in `of` (highest for a rate, else lowest).
    pub fn best_of(&self, of: &[Kind]) -> Option<f64> {
        let meds = of.iter().filter_map(|&k| self.median(Col::Server(k)));
        if self.unit.higher_is_better() {
            meds.fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.max(v))))
        } else {
            meds.fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.min(v))))
        }
    }
}

pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 })
}

/// The `q` quantile (0..1) by nearest rank.
pub fn quantile(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    Some(s[rank - 1])
}

pub fn fmt_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Time if v.abs() >= 1.0 => format!("{v:.2} s"),
        Unit::Time if v.abs() >= 0.1 => format!("{:.0} ms", v * 1e3),
        Unit::Time if v.abs() >= 0.01 => format!("{:.1} ms", v * 1e3),
        Unit::Time => format!("{:.2} ms", v * 1e3),
        Unit::Bytes => {
            let mib = v / (1024.0 * 1024.0);
            if mib >= 10.0 {
                format!("{mib:.0} MiB")
            } else {
                format!("{mib:.1} MiB")
            }
        }
        Unit::Count if v.fract() == 0.0 => format!("{v:.0}"),
        Unit::Count => format!("{v:.1}"),
        Unit::Rate if v.abs() >= 1e6 => format!("{:.2}M q/s", v / 1e6),
        Unit::Rate if v.abs() >= 1e4 => format!("{:.0}k q/s", v / 1e3),
        Unit::Rate if v.abs() >= 1e3 => format!("{:.1}k q/s", v / 1e3),
        Unit::Rate => format!("{v:.0} q/s"),
    }
}

/// A range without repeating the unit: `2.20–2.45 s`.
fn fmt_range(unit: Unit, lo: f64, hi: f64) -> String {
    let (a, b) = (fmt_value(unit, lo), fmt_value(unit, hi));
    match (a.rsplit_once(' '), b.rsplit_once(' ')) {
        (Some((x, ua)), Some((y, ub))) if ua == ub => format!("{x}–{y}"),
        _ => format!("{a}–{b}"),
    }
}

fn fmt_cell(unit: Unit, c: Option<&Cell>, notes: &mut Vec<String>, what: &str) -> String {
    let Some(c) = c else { return "—".into() };
    let mut s = match median(&c.values) {
        None => String::new(),
        Some(m) if c.values.len() == 1 => format!("{} (1 run)", fmt_value(unit, m)),
        Some(m) => {
            let lo = c.values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = c.values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!("{} ({})", fmt_value(unit, m), fmt_range(unit, lo, hi))
        }
    };
    if !c.errors.is_empty() {
        notes.push(format!("{what}: {}", c.errors.join("; ")));
        let mark = format!("[{}]", notes.len());
        s = if s.is_empty() { format!("failed {mark}") } else { format!("{s}, {} failed {mark}", c.errors.len()) };
    }
    s
}

fn peers_text(of: &[Kind]) -> String {
    if of == PEERS {
        return if of.len() == 1 { "the peer".into() } else { "best peer".into() };
    }
    let names: Vec<&str> = of.iter().map(|k| k.label()).collect();
    format!("best of {}", names.join(", "))
}

fn target_text(row: &Row) -> String {
    let unit = row.unit;
    let ours = row.median(Col::Server(Kind::Secondaryd));
    let ratio = |of: &[Kind]| match (ours, row.best_of(of)) {
        (Some(o), Some(b)) if b > 0.0 => Some(o / b),
        _ => None,
    };
    let (text, met) = match row.target {
        Target::None => return String::new(),
        Target::Below(x) => (format!("< {}", fmt_value(unit, x)), ours.map(|m| m < x)),
        Target::AtMost(x) => (format!("≤ {}", fmt_value(unit, x)), ours.map(|m| m <= x)),
        Target::RatioAtLeast(x, of) => {
            let r = ratio(of);
            let shown = r.map(|r| format!(" ({r:.2}×)")).unwrap_or_default();
            (format!("≥ {x:.1}× {}{shown}", peers_text(of)), r.map(|r| r >= x))
        }
        Target::RatioAtMost(x, of) => {
            let r = ratio(of);
            let shown = r.map(|r| format!(" ({r:.2}×)")).unwrap_or_default();
            (format!("≤ {x:.1}× {}{shown}", peers_text(of)), r.map(|r| r <= x))
        }
    };
    match met {
        Some(true) => format!("{text}: met"),
        Some(false) => format!("{text}: **missed**"),
        None => text,
    }
}

fn ratio_text(row: &Row) -> String {
    let ours = row.median(Col::Server(Kind::Secondaryd));
    let best = row.best_of(PEERS);
    match (ours, best) {
        (Some(o), Some(b)) if b > 0.0 && o >= 0.0 => format!("{:.2}×", o / b),
        (Some(o), Some(b)) if o == b => "= (both 0)".into(),
        // A difference where a ratio means nothing (a best of 0 or below).
        (Some(o), Some(b)) if o > b => format!("+{} vs best", fmt_value(row.unit, o - b)),
        (Some(o), Some(b)) => format!("−{} vs best", fmt_value(row.unit, b - o)),
        _ => "—".into(),
    }
}

/// The Markdown table and its numbered notes (failures).
pub fn table(rows: &[Row], kinds: &[Kind]) -> String {
    let mut cols = vec![Col::Dig];
    cols.extend(kinds.iter().map(|&k| Col::Server(k)));
    let mut out = String::from("| measurement | `dig axfr` |");
    for k in kinds {
        let _ = write!(out, " {} |", k.label());
    }
    out.push_str(" secondaryd / best peer | target (secondaryd) |\n|---|");
    for _ in &cols {
        out.push_str("---|");
    }
    out.push_str("---|---|\n");
    let mut notes = Vec::new();
    for row in rows {
        let _ = write!(out, "| {} |", row.label);
        for &c in &cols {
            let what = match c {
                Col::Dig => format!("dig, {}", row.label),
                Col::Server(k) => format!("{}, {}", k.label(), row.label),
            };
            let _ = write!(out, " {} |", fmt_cell(row.unit, row.cells.get(&c), &mut notes, &what));
        }
        let _ = writeln!(out, " {} | {} |", ratio_text(row), target_text(row));
    }
    if !notes.is_empty() {
        out.push('\n');
        for (i, n) in notes.iter().enumerate() {
            let _ = writeln!(out, "[{}] {}", i + 1, n.replace('|', "/"));
        }
    }
    out
}
