//! Sub-commands, one file each. Each clap struct converts into the library's
//! option type and prints the result (plain text, or JSON with `--json`).

mod backup;
mod cat;
mod check;
mod demo;
mod init;
mod ls;
mod restore;
mod snapshots;
mod stats;

use anyhow::Result;
use cairn::Repository;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// cairn: deduplicating, content-addressed snapshots of an application's data.
#[derive(Parser)]
#[command(name = "cairn", version, about, long_about = None)]
pub struct Cli {
    /// Repository directory (or set CAIRN_REPOSITORY).
    #[arg(long, short = 'r', global = true, env = "CAIRN_REPOSITORY")]
    repo: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new, empty repository.
    Init(init::Args),
    /// Take a snapshot of files and directories.
    Backup(backup::Args),
    /// List snapshots, oldest first.
    Snapshots(snapshots::Args),
    /// List the entries of a snapshot.
    Ls(ls::Args),
    /// Restore a snapshot (or part of it) into a directory.
    Restore(restore::Args),
    /// Print a repository object as JSON: config, snapshot ID or tree ID.
    Cat(cat::Args),
    /// Show logical and stored sizes and the dedup and compression ratios.
    Stats(stats::Args),
    /// Verify the repository's structure, and with --read-data all its data.
    Check(check::Args),
    /// Run the whole job on a generated sample data set and explain what happened.
    Demo(demo::Args),
}

pub fn run(cli: Cli) -> Result<i32> {
    let repo = cli.repo;
    match cli.command {
        Command::Init(a) => a.run(repo_path(repo)?),
        Command::Backup(a) => a.run(&open(repo)?),
        Command::Snapshots(a) => a.run(&open(repo)?),
        Command::Ls(a) => a.run(&open(repo)?),
        Command::Restore(a) => a.run(&open(repo)?),
        Command::Cat(a) => a.run(&open(repo)?),
        Command::Stats(a) => a.run(&open(repo)?),
        Command::Check(a) => a.run(repo_path(repo)?),
        Command::Demo(a) => a.run(),
    }
}

fn repo_path(repo: Option<PathBuf>) -> Result<PathBuf> {
    repo.ok_or_else(|| {
        cairn::Error::InvalidArgument("no repository given: pass --repo DIR or set CAIRN_REPOSITORY".into()).into()
    })
}

fn open(repo: Option<PathBuf>) -> Result<Repository> {
    Ok(Repository::open_local(&repo_path(repo)?)?)
}

/// Bytes in binary units, for people.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

/// Print `value` as one line of JSON.
pub fn print_json<T: serde::Serialize>(value: &T) {
    println!("{}", serde_json::to_string(value).expect("serialisable"));
}
