//! Sub-commands, one file each. Each clap struct converts into the library's
//! option type and prints the result (plain text, or JSON with `--json`).

mod backup;
mod cat;
mod check;
mod demo;
mod demo_stack;
mod drill;
mod forget;
mod init;
mod integrity;
mod key;
mod ls;
mod protect;
mod prune;
mod repair;
mod restore;
mod select;
mod snapshots;
mod stack;
mod stats;
pub mod words;

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
    /// Read the repository password from this file. Without it:
    /// CAIRN_PASSWORD, then CAIRN_PASSWORD_FILE, then a prompt on the terminal.
    #[arg(long, global = true)]
    password_file: Option<PathBuf>,
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
    /// Verify the repository's structure, and with --read-data all its data.
    Check(check::Args),
    /// Rebuild damaged repository metadata.
    #[command(subcommand)]
    Repair(repair::Command),
    /// Check the live data of a stack (databases, vector store, Redis,
    /// files), writing nothing to it: the guide's daily integrity check.
    Integrity(integrity::Args),
    /// Rehearse a recovery of a stack snapshot in a scratch directory and
    /// hold it against the stack's RTO and RPO targets.
    Drill(drill::Args),
    /// Run the whole job on a generated sample data set and explain what happened.
    Demo(demo::Args),
    /// Manage the passwords (key files) of an encrypted repository.
    #[command(subcommand)]
    Key(key::Command),
}

pub fn run(cli: Cli) -> Result<i32> {
    let (repo, pw) = (cli.repo, Password { file: cli.password_file });
    match cli.command {
        Command::Init(a) => a.run(repo_path(repo)?, &pw),
        Command::Backup(a) => {
            let st = a.stack.as_deref().map(cairn::stack::load).transpose()?;
            let repo = repo.or_else(|| st.as_ref().and_then(|s| s.repository.clone()));
            a.run(&open(repo, &pw)?, st.as_ref())
        }
        Command::Snapshots(a) => a.run(&open_without_index(repo, &pw)?),
        Command::Ls(a) => a.run(&open(repo, &pw)?),
        Command::Restore(a) => {
            let st = a.stack.as_deref().map(cairn::stack::load).transpose()?;
            let repo = repo.or_else(|| st.as_ref().and_then(|s| s.repository.clone()));
            a.run(&open(repo, &pw)?, st.as_ref())
        }
        Command::Cat(a) => a.run(&open(repo, &pw)?),
        Command::Stats(a) => a.run(&open(repo, &pw)?),
        Command::Check(a) => a.run(repo_path(repo)?, &pw),
        // Prune reads its own index after listing the snapshots.
        Command::Forget(a) => {
            let st = a.stack.as_deref().map(cairn::stack::load).transpose()?;
            let repo = repo.or_else(|| st.as_ref().and_then(|s| s.repository.clone()));
            a.run(&open_without_index(repo, &pw)?, st.as_ref())
        }
        Command::Prune(a) => a.run(&open_without_index(repo, &pw)?),
        Command::Protect(a) => a.run(&open_without_index(repo, &pw)?, true),
        Command::Unprotect(a) => a.run(&open_without_index(repo, &pw)?, false),
        Command::Repair(c) if c.needs_index() => c.run(&open(repo, &pw)?),
        Command::Repair(c) => c.run(&open_without_index(repo, &pw)?),
        Command::Demo(a) => a.run(),
        Command::Integrity(a) => a.run(),
        Command::Drill(a) => {
            let st = cairn::stack::load(&a.stack)?;
            let repo = repo.or_else(|| st.repository.clone());
            a.run(&open(repo, &pw)?, &st)
        }
        Command::Key(c) => c.run(&open_without_index(repo, &pw)?),
    }
}

/// Where the repository password comes from: --password-file, then
/// CAIRN_PASSWORD, then CAIRN_PASSWORD_FILE, then a prompt on the terminal.
pub struct Password {
    file: Option<PathBuf>,
}

impl Password {
    pub fn get(&self) -> cairn::Result<String> {
        get_password(&self.source("CAIRN_PASSWORD", "--password-file"), "repository password: ", false)
    }
    /// The password of a new repository (typed twice on a terminal).
    pub fn get_new(&self) -> cairn::Result<String> {
        get_password(&self.source("CAIRN_PASSWORD", "--password-file"), "new repository password: ", true)
    }
    fn source(&self, env: &'static str, flag: &'static str) -> PasswordSource {
        PasswordSource { flag_file: self.file.clone(), flag, env }
    }
}

/// A password given by a flag naming a file, or by the variables `env`
/// (the password) and `env`_FILE (a file holding it). A flag always wins
/// over the environment.
pub struct PasswordSource {
    pub flag_file: Option<PathBuf>,
    pub flag: &'static str,
    pub env: &'static str,
}

/// The password from `src` in that order, else typed on the terminal (twice
/// when `confirm`); a trailing newline in a file is not part of it.
pub fn get_password(src: &PasswordSource, prompt: &str, confirm: bool) -> cairn::Result<String> {
    let read_file = |f: &std::path::Path, whence: String| -> cairn::Result<String> {
        let text = std::fs::read_to_string(f)
            .map_err(|e| cairn::Error::InvalidArgument(format!("{whence} {}: cannot read it: {e}", f.display())))?;
        Ok(text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text).to_string())
    };
    if let Some(f) = &src.flag_file {
        return read_file(f, src.flag.to_string());
    }
    if let Ok(p) = std::env::var(src.env) {
        return Ok(p);
    }
    let file_var = format!("{}_FILE", src.env);
    if let Some(f) = std::env::var_os(&file_var) {
        return read_file(std::path::Path::new(&f), file_var);
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(cairn::Error::PasswordRequired);
    }
    let read = |p: &str| {
        rpassword::prompt_password(p)
            .map_err(|e| cairn::Error::InvalidArgument(format!("cannot read the password: {e}")))
    };
    let first = read(prompt)?;
    if confirm && read("again: ")? != first {
        return Err(cairn::Error::InvalidArgument("the two passwords differ: try again".into()));
    }
    Ok(first)
}

fn repo_path(repo: Option<PathBuf>) -> Result<PathBuf> {
    let repo = repo.ok_or_else(|| {
        cairn::Error::InvalidArgument("no repository given: pass --repo DIR or set CAIRN_REPOSITORY".into())
    })?;
    if let Some(scheme) = remote_scheme(&repo.to_string_lossy()) {
        return Err(cairn::Error::InvalidArgument(format!(
            "--repo {}: {scheme} repositories are not supported yet, only a local directory (write ./{} for a directory of that name)",
            repo.display(),
            repo.display()
        ))
        .into());
    }
    Ok(repo)
}

/// The scheme of a repository location that names remote storage
/// (`s3:host/bucket`, `sftp:user@host:/path`, `rest:…`, any `scheme://…`),
/// which must not silently become a local directory called `s3:host`.
fn remote_scheme(location: &str) -> Option<String> {
    const PREFIXES: [&str; 9] = ["s3", "sftp", "rest", "b2", "azure", "gs", "swift", "rclone", "http"];
    let (scheme, rest) = location.split_once(':')?;
    let plain = !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    (plain && (rest.starts_with("//") || PREFIXES.contains(&scheme.to_ascii_lowercase().as_str())))
        .then(|| scheme.to_string())
}

/// Open with the index loaded; index files that could not be read are
/// warned about (what they listed is then stored again by a backup, or
/// missing to a restore that needs it).
fn open(repo: Option<PathBuf>, pw: &Password) -> Result<Repository> {
    let r = Repository::open_local(&repo_path(repo)?, Some(&|| pw.get()))?;
    for p in r.index_problems() {
        eprintln!("warning: {p}; skipped (its packs count as unindexed until `cairn repair index`)");
    }
    Ok(r)
}

fn open_without_index(repo: Option<PathBuf>, pw: &Password) -> Result<Repository> {
    let backend = std::sync::Arc::new(cairn::backend::local::LocalBackend::new(repo_path(repo)?));
    Ok(Repository::open_without_index(backend, Some(&|| pw.get()))?)
}

/// Bytes in binary units, for people.
pub use cairn::sys::human;

/// Print `value` as one line of JSON.
pub fn print_json<T: serde::Serialize>(value: &T) {
    println!("{}", serde_json::to_string(value).expect("serialisable"));
}
