//! Sub-commands, one file each. Each clap struct converts into the library's
//! option type and prints the result (plain text, or JSON with `--json`).

mod backup;
mod cat;
mod check;
mod completion;
mod copy;
mod demo;
mod demo_stack;
mod diff;
mod drill;
mod dump;
mod filter;
mod find;
mod forget;
mod from;
mod init;
mod integrity;
mod key;
mod location;
mod ls;
pub mod metrics;
mod mount;
mod notify;
mod password;
pub mod progress;
mod protect;
mod prune;
mod repair;
mod restore;
mod select;
mod selection;
mod snapshots;
mod stack;
mod stats;
mod tag;
pub mod words;

use anyhow::Result;
use cairn::Repository;
use clap::{Parser, Subcommand};
use password::Password;
pub use password::{get_password, PasswordSource};
use std::path::PathBuf;

/// cairn: deduplicating, content-addressed snapshots of an application's data.
#[derive(Parser)]
#[command(name = "cairn", version, about, long_about = None)]
pub struct Cli {
    /// Repository: a directory, s3:http(s)://ENDPOINT/BUCKET[/PREFIX] or
    /// s3://BUCKET[/PREFIX] (or set CAIRN_REPOSITORY).
    #[arg(long, short = 'r', global = true, env = "CAIRN_REPOSITORY")]
    repo: Option<PathBuf>,
    /// Read the repository password from this file. Without it:
    /// --password-command, CAIRN_PASSWORD, CAIRN_PASSWORD_FILE,
    /// CAIRN_PASSWORD_COMMAND, then a prompt on the terminal.
    #[arg(long, global = true)]
    password_file: Option<PathBuf>,
    /// Run this shell command and use its output as the password (a
    /// secret manager: `pass show cairn`); or set CAIRN_PASSWORD_COMMAND.
    #[arg(long, global = true, value_name = "COMMAND", conflicts_with = "password_file")]
    password_command: Option<String>,
    /// More output: -v logs progress when stderr is not a terminal, -vv
    /// also every item.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors and the requested output: no progress, no notes.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// No progress display, even on a terminal.
    #[arg(long, global = true)]
    no_progress: bool,
    /// Progress even when stderr is not a terminal: timestamped lines (a
    /// CI log); with --json, JSON status lines on stdout.
    #[arg(long, global = true, conflicts_with = "no_progress")]
    progress: bool,
    /// Show times in UTC instead of the local time zone.
    #[arg(long, global = true)]
    utc: bool,
    /// Write this run's metrics (Prometheus text format, with the guide's
    /// backup_job_success and backup_last_success_timestamp) to FILE, for
    /// node_exporter's textfile collector.
    #[arg(long, global = true, value_name = "FILE", env = "CAIRN_METRICS_FILE")]
    metrics_file: Option<PathBuf>,
    /// Push this run's metrics to the Pushgateway at URL, grouped by job
    /// and instance (this host).
    #[arg(long, global = true, value_name = "URL", env = "CAIRN_PUSHGATEWAY")]
    pushgateway: Option<String>,
    /// The metrics' job label (default: the command, e.g. `backup`).
    #[arg(long, global = true, value_name = "NAME")]
    metrics_job: Option<String>,
    #[command(flatten)]
    storage: location::Storage,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new, empty repository.
    Init(init::Args),
    /// Take a snapshot of files, directories and SQLite databases (sqlite:PATH).
    Backup(backup::Args),
    /// List snapshots, oldest first.
    Snapshots(snapshots::Args),
    /// List the entries of a snapshot.
    Ls(ls::Args),
    /// Restore a snapshot (or part of it) into a directory, or a database to a path.
    Restore(restore::Args),
    /// Show what changed between two snapshots (files, database pages,
    /// vector-index elements).
    Diff(diff::Args),
    /// Write one file of a snapshot to stdout; a directory as tar, a
    /// database as a consistent .db file.
    Dump(dump::Args),
    /// Find files, directories or databases by name or path across snapshots.
    Find(find::Args),
    /// Browse the snapshots as a read-only file system (FUSE): by id,
    /// time, tag and host.
    Mount(mount::Args),
    /// Copy snapshots from another repository (made with `init
    /// --from-repo`), storing only what this one lacks.
    Copy(copy::Args),
    /// Print a repository object as JSON: config, snapshot ID or tree ID.
    Cat(cat::Args),
    /// Show logical and stored sizes and the dedup and compression ratios.
    Stats(stats::Args),
    /// Remove snapshots by a retention policy (default: 24 hourly, 30 daily,
    /// 12 weekly, 12 monthly); --prune then reclaims their data.
    Forget(forget::Args),
    /// Reclaim the space of data no snapshot references (two-phase: mark, then delete after --grace).
    Prune(prune::Args),
    /// Protect a snapshot: forget never removes it.
    Protect(protect::Args),
    /// Remove a snapshot's protection.
    Unprotect(protect::Args),
    /// Add, remove or set the tags of snapshots.
    Tag(tag::Args),
    /// Verify the repository's structure, and with --read-data all its data.
    Check(check::Args),
    /// Rebuild damaged repository metadata.
    #[command(subcommand, after_help = "Examples:\n  cairn repair index\n  cairn repair snapshots --dry-run")]
    Repair(repair::Command),
    /// Check the live data of a stack (databases, vector store, Redis,
    /// files), writing nothing to it: the guide's daily integrity check.
    Integrity(integrity::Args),
    /// Rehearse a recovery of a stack snapshot in a scratch directory and
    /// hold it against the stack's RTO and RPO targets.
    Drill(drill::Args),
    /// Run the whole job on a generated sample data set and explain what happened.
    Demo(demo::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion(completion::Completion),
    /// Print the man page, or write one per command into a directory.
    Man(completion::Man),
    /// Print the version and what this build reads and writes.
    #[command(after_help = "Examples:\n  cairn version\n  cairn version --json")]
    Version {
        /// Print {version, format_version, sqlite, os, arch} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Manage the passwords (key files) of an encrypted repository.
    #[command(
        subcommand,
        after_help = "Examples:\n  cairn key list\n  CAIRN_NEW_PASSWORD_FILE=/etc/cairn/pw2 cairn key add\n  cairn key remove 5e1c"
    )]
    Key(key::Command),
}

/// Run the command `name`: print its error (one line, `error: …`), hand
/// its metrics and outcome to the sink the flags name, report a failure
/// to the webhook; the process's exit code.
pub fn run(cli: Cli, cancel: cairn::progress::Cancel, name: &str) -> i32 {
    let started = std::time::Instant::now();
    let sink = metrics::Sink {
        file: cli.metrics_file.clone(),
        pushgateway: cli.pushgateway.clone(),
        job: cli.metrics_job.clone().unwrap_or_else(|| name.to_string()),
    };
    let recorder = std::sync::Mutex::new(cairn::metrics::Metrics::default());
    let own_webhook = cli.command.notifies_itself();
    let (requests, verbose) = (cli.storage.requests.clone(), cli.verbose);
    let r = run_command(cli, cancel, &recorder);
    let code = match &r {
        Ok(c) => *c,
        Err(e) => e.downcast_ref::<cairn::Error>().map(|e| e.exit_code()).unwrap_or(1),
    };
    // The error first, then what the wrappers have to say about delivering it.
    let message = r.as_ref().err().map(words::message);
    if let Some(m) = &message {
        eprintln!("error: {m}");
    }
    metrics::requests(&recorder, &requests, verbose > 0);
    sink.finish(&recorder, code, started);
    if code != 0 && !own_webhook {
        notify::failure(name, code, message.as_deref().unwrap_or(&format!("exit code {code}")));
    }
    code
}

fn run_command(
    cli: Cli,
    cancel: cairn::progress::Cancel,
    metrics: &std::sync::Mutex<cairn::metrics::Metrics>,
) -> Result<i32> {
    if cli.utc {
        // Local times are shown in $TZ's zone, so UTC is TZ=UTC; set
        // before any thread starts or any time is formatted.
        std::env::set_var("TZ", "UTC");
    }
    let shown =
        progress::Shown { verbose: cli.verbose, quiet: cli.quiet, no_progress: cli.no_progress, force: cli.progress };
    let json = cli.command.prints_json();
    let password = Password { file: cli.password_file, command: cli.password_command };
    let (repo, pw) = (cli.repo, Session { password, shown, cancel, json, storage: cli.storage });
    match cli.command {
        Command::Init(a) => a.run(repo, &pw),
        Command::Backup(a) => {
            let st = a.stack.as_deref().map(cairn::stack::load).transpose()?;
            let repo = repo.or_else(|| st.as_ref().and_then(|s| s.repository.clone()));
            a.run(&open(repo, &pw)?, st.as_ref(), metrics)
        }
        Command::Snapshots(a) => a.run(&open_without_index(repo, &pw)?),
        Command::Ls(a) => a.run(&open(repo, &pw)?),
        Command::Restore(a) => {
            let st = a.stack.as_deref().map(cairn::stack::load).transpose()?;
            let repo = repo.or_else(|| st.as_ref().and_then(|s| s.repository.clone()));
            a.run(&open(repo, &pw)?, st.as_ref())
        }
        Command::Cat(a) => a.run(&open(repo, &pw)?),
        Command::Diff(a) => a.run(&open(repo, &pw)?),
        Command::Copy(a) => a.run(&open(repo, &pw)?, &pw.storage),
        Command::Dump(a) => a.run(&open(repo, &pw)?),
        Command::Find(a) => a.run(&open(repo, &pw)?),
        Command::Mount(a) => a.run(open(repo, &pw)?, &pw.cancel),
        Command::Stats(a) => a.run(&open(repo, &pw)?),
        Command::Check(a) => a.run(location::backend(repo, &pw.storage, false)?, &pw, metrics),
        // Prune reads its own index after listing the snapshots.
        Command::Forget(a) => {
            let st = a.stack.as_deref().map(cairn::stack::load).transpose()?;
            let repo = repo.or_else(|| st.as_ref().and_then(|s| s.repository.clone()));
            a.run(&open_without_index(repo, &pw)?, st.as_ref())
        }
        Command::Prune(a) => a.run(&open_without_index(repo, &pw)?),
        Command::Protect(a) => a.run(&open_without_index(repo, &pw)?, true),
        Command::Unprotect(a) => a.run(&open_without_index(repo, &pw)?, false),
        Command::Tag(a) => a.run(&open_without_index(repo, &pw)?),
        Command::Repair(c) if c.needs_index() => c.run(&open(repo, &pw)?),
        Command::Repair(c) => c.run(&open_without_index(repo, &pw)?),
        Command::Demo(a) => a.run(),
        Command::Completion(a) => a.run(),
        Command::Man(a) => a.run(),
        Command::Version { json } => completion::version(json),
        Command::Integrity(a) => a.run(),
        Command::Drill(a) => {
            let st = cairn::stack::load(&a.stack)?;
            let repo = repo.or_else(|| st.repository.clone());
            a.run(&open(repo, &pw)?, &st, metrics)
        }
        Command::Key(c) => c.run(&open_without_index(repo, &pw)?),
    }
}

impl Cli {
    /// True if the command stops cleanly on SIGINT/SIGTERM (it polls the
    /// stop flag and cleans up); any other keeps the default, ending at
    /// once, which is safe: every command survives SIGKILL at any point.
    pub fn stops_cleanly(&self) -> bool {
        matches!(self.command, Command::Backup(_) | Command::Restore(_) | Command::Mount(_) | Command::Copy(_))
    }
}

impl Command {
    /// True if the command reports to its stack file's webhook itself.
    fn notifies_itself(&self) -> bool {
        match self {
            Command::Backup(a) => a.stack.is_some(),
            Command::Restore(a) => a.stack.is_some(),
            Command::Integrity(_) | Command::Drill(_) => true,
            _ => false,
        }
    }

    /// True if the command was asked for JSON output (progress then comes
    /// as JSON status lines).
    fn prints_json(&self) -> bool {
        match self {
            Command::Backup(a) => a.json,
            Command::Restore(a) => a.json,
            Command::Check(a) => a.json,
            Command::Prune(a) => a.json,
            Command::Copy(a) => a.json,
            _ => false,
        }
    }
}

/// What every command that opens a repository needs besides its own
/// arguments: the password's source, how progress is shown, the stop flag.
pub struct Session {
    pub password: Password,
    pub shown: progress::Shown,
    pub cancel: cairn::progress::Cancel,
    pub json: bool,
    pub storage: location::Storage,
}

impl Session {
    pub fn get(&self) -> cairn::Result<String> {
        self.password.get()
    }
    pub fn get_new(&self) -> cairn::Result<String> {
        self.password.get_new()
    }
    /// Give an opened repository this session's progress display and stop flag.
    pub fn attach(&self, repo: &mut Repository) {
        repo.set_progress(progress::observer(self.shown, self.json));
        repo.set_cancel(self.cancel.clone());
    }
}

/// Open with the index loaded; index files that could not be read are
/// warned about (what they listed is then stored again by a backup, or
/// missing to a restore that needs it).
fn open(repo: Option<PathBuf>, pw: &Session) -> Result<Repository> {
    let mut r = Repository::open(location::backend(repo, &pw.storage, true)?, Some(&|| pw.get()))?;
    pw.attach(&mut r);
    for p in r.index_problems() {
        eprintln!("warning: {p}; skipped (its packs count as unindexed until `cairn repair index`)");
    }
    Ok(r)
}

fn open_without_index(repo: Option<PathBuf>, pw: &Session) -> Result<Repository> {
    let backend = location::backend(repo, &pw.storage, true)?;
    let mut r = Repository::open_without_index(backend, Some(&|| pw.get()))?;
    pw.attach(&mut r);
    Ok(r)
}

/// Bytes in binary units, for people.
pub use cairn::sys::human;

/// A time for people: in the local time zone (`TZ`; UTC with `--utc`),
/// to the second, with its offset.
pub fn local_time(ns: i64) -> String {
    match jiff::Timestamp::from_nanosecond(ns as i128) {
        Ok(t) => t.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%d %H:%M:%S %:z").to_string(),
        Err(_) => format!("{ns} ns"),
    }
}

/// Print `value` as one line of JSON.
pub fn print_json<T: serde::Serialize>(value: &T) {
    println!("{}", serde_json::to_string(value).expect("serialisable"));
}

#[cfg(test)]
mod tests {
    /// Clap checks its definitions (conflicts, requirements, names) only in
    /// debug builds; this runs those checks in any build.
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
