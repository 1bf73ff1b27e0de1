//! Writes the man pages and shell completions of both binaries from their clap
//! definitions, so they never drift from `--help`: `OUT_DIR/assets/` gets
//! `secondaryd.1`, `secondaryctl.1`, and `{secondaryd,secondaryctl}.{bash,fish}`
//! and `_secondaryd`, `_secondaryctl` (zsh). `scripts/package` copies them
//! into the Debian package (Cargo.toml, `[package.metadata.deb]`).
//!
//! Each binary's command line is a file of its own that depends on clap and
//! std only (`src/bin/*/cli.rs`); this script compiles the same files, and
//! runs again only when one of them changes.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

// The binaries read every field; here only the definitions are used.
#[allow(dead_code)]
#[path = "src/bin/secondaryd/cli.rs"]
mod secondaryd_cli;

#[allow(dead_code)]
#[path = "src/bin/secondaryctl/cli.rs"]
mod secondaryctl_cli;

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/bin/secondaryd/cli.rs");
    println!("cargo:rerun-if-changed=src/bin/secondaryctl/cli.rs");
    let out = std::env::var_os("OUT_DIR").map(PathBuf::from).ok_or_else(|| std::io::Error::other("OUT_DIR unset"))?;
    let assets = out.join("assets");
    std::fs::create_dir_all(&assets)?;
    write(&assets, secondaryd_cli::Args::command())?;
    write(&assets, secondaryctl_cli::Args::command())?;
    Ok(())
}

/// The man page of `cmd` and its completions. The page is clap_mangen's
/// (name, synopsis, description, options), then a COMMANDS section with each
/// command's usage, help and own options, so one page has the whole command line.
fn write(dir: &Path, mut cmd: clap::Command) -> std::io::Result<()> {
    let name = cmd.get_name().to_string();
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    let mut commands = String::new();
    for sub in visible(&cmd) {
        command_section(&mut commands, &name, sub);
    }
    if !commands.is_empty() {
        page.extend_from_slice(b".SH COMMANDS\n");
        page.extend_from_slice(commands.as_bytes());
    }
    man.render_version_section(&mut page)?;
    std::fs::write(dir.join(format!("{name}.1")), page)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd, &name, dir)?;
    }
    Ok(())
}

fn visible(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|s| s.get_name() != "help" && !s.is_hide_set())
}

/// `parent cmd` as a subsection: its usage, its help, its own arguments (the
/// global options are in OPTIONS once); then each of its subcommands.
fn command_section(out: &mut String, parent: &str, cmd: &clap::Command) {
    let full = format!("{parent} {}", cmd.get_name());
    let usage = cmd.clone().bin_name(full.clone()).render_usage().to_string();
    let usage = usage.trim_start_matches("Usage:").trim();
    out.push_str(&format!(".SS \"{}\"\n", roff(usage)));
    if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
        paragraphs(out, &about.to_string(), ".PP");
    }
    let own = cmd.get_arguments().filter(|a| !a.is_global_set() && !a.is_hide_set());
    for arg in own.filter(|a| !matches!(a.get_id().as_str(), "help" | "version")) {
        let names = if arg.get_action().takes_values() { arg.get_value_names().unwrap_or_default() } else { &[] };
        let values: Vec<String> = names.iter().map(|v| format!("\\fI{}\\fR", roff(v))).collect();
        let head = match arg.get_long() {
            Some(long) => format!("\\fB\\-\\-{}\\fR {}", roff(long), values.join(" ")),
            None => values.join(" "),
        };
        out.push_str(&format!(".TP\n{}\n", head.trim_end()));
        let mut help = arg.get_long_help().or(arg.get_help()).map(|h| h.to_string()).unwrap_or_default();
        let defaults: Vec<String> = arg.get_default_values().iter().map(|d| d.to_string_lossy().into_owned()).collect();
        if arg.get_action().takes_values() && !defaults.is_empty() && !arg.is_hide_default_value_set() {
            help.push_str(&format!(" [default: {}]", defaults.join(", ")));
        }
        paragraphs(out, help.trim(), ".IP");
    }
    for sub in visible(cmd) {
        command_section(out, &full, sub);
    }
}

/// Help text as roff paragraphs (a blank line separates them), the second
/// and later ones opened by `next` (`.PP` in a section, `.IP` in an option).
fn paragraphs(out: &mut String, text: &str, next: &str) {
    for (i, para) in text.split("\n\n").enumerate() {
        if i > 0 {
            out.push_str(next);
            out.push('\n');
        }
        out.push_str(&roff(&para.replace('\n', " ")));
        out.push('\n');
    }
}

/// Escapes text for roff: backslashes, hyphens, and a leading dot or quote.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}
