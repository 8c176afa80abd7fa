//! `cairn backup`

use super::{human, print_json};
use anyhow::Result;
use cairn::ops::backup::{backup, BackupOptions};
use cairn::source::sqlite::capture::{CheckLevel, MethodChoice};
use cairn::source::CaptureOptions;
use cairn::Repository;
use std::path::PathBuf;

/// `--sqlite-method` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// `sqlite_dbpage` when the library has it, else the backup API.
    Auto,
    Dbpage,
    BackupApi,
}

/// `--sqlite-check` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckArg {
    /// `PRAGMA quick_check` inside the read transaction (~0.6 s per GB).
    Quick,
    /// `PRAGMA integrity_check` (~1.3 s per GB; also checks index contents).
    Full,
    Off,
}

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cairn backup /srv/scripts sqlite:/srv/app.db chroma:/srv/chroma\n  cairn backup --stack            (the stack in ./cairn.toml)\n  cairn backup -e '*.tmp' --exclude-if-present .nobackup /srv/scripts\n  pg_dump app | cairn backup --stdin --stdin-filename app.sql"
)]
pub struct Args {
    /// Files or directories to back up, SQLite databases as sqlite:PATH,
    /// Chroma persist directories as chroma:DIR and Redis servers as
    /// redis://HOST:PORT[/DB]; each appears in the snapshot under its base
    /// name (a server as redis-HOST-PORT-DB).
    #[arg(required_unless_present_any = ["stack", "files_from", "stdin"])]
    paths: Vec<PathBuf>,
    /// Back up the whole stack a stack file describes (./cairn.toml when
    /// no FILE is given) as one stack snapshot; see examples/cairn.toml.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "cairn.toml", conflicts_with = "paths")]
    pub stack: Option<PathBuf>,
    /// With --stack: only this component (repeatable).
    #[arg(long, value_name = "NAME", requires = "stack")]
    only: Vec<String>,
    /// SQLite: end the read transaction and fail (writing no snapshot) rather
    /// than hold it, or wait for a lock, longer than this many seconds. In
    /// rollback-journal mode writers wait while the pages are read.
    #[arg(long, value_name = "SECONDS")]
    max_hold: Option<f64>,
    /// SQLite: how pages are read (auto: sqlite_dbpage, else the backup API).
    #[arg(long, value_enum, default_value_t = MethodArg::Auto)]
    sqlite_method: MethodArg,
    /// SQLite: integrity check run in the read transaction; a failure is a
    /// warning recorded in the snapshot.
    #[arg(long, value_enum, default_value_t = CheckArg::Quick)]
    sqlite_check: CheckArg,
    /// SQLite: read pages through read() instead of a memory map: peak RSS
    /// stays small (the map counts the database file, shared page cache,
    /// in cairn's RSS) at about 0.3 s more per GiB.
    #[arg(long)]
    sqlite_no_mmap: bool,
    /// Chroma: reads of a directory that changes while it is read, before
    /// the backup fails (each after a pause twice as long as the last).
    #[arg(long, value_name = "N", default_value_t = 5)]
    chroma_attempts: u32,
    #[command(flatten)]
    select: super::selection::Selection,
    /// Redis: read the server's password from this file (else
    /// CAIRN_REDIS_PASSWORD; never put it in the URL, where `ps` shows it).
    #[arg(long, value_name = "FILE")]
    redis_password_file: Option<PathBuf>,
    /// Redis: fail (writing no snapshot) if the RDB has not arrived within
    /// this many seconds (a diskless server first waits
    /// repl-diskless-sync-delay, 5 s by default).
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    redis_timeout: f64,
    /// Redis: take the RDB with BGSAVE and read the server's dump file
    /// (found by CONFIG GET dir and dbfilename) instead of over the
    /// replication protocol; needs read access to that file.
    #[arg(long)]
    redis_bgsave: bool,
    /// Redis, with --redis-bgsave: the dump file's path (for a server that
    /// renames CONFIG, or whose files are mounted elsewhere).
    #[arg(long, value_name = "FILE", requires = "redis_bgsave")]
    redis_dump: Option<PathBuf>,
    /// Tag the snapshot (repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Snapshot time (default: now): RFC 3339, a local "2026-01-31 12:00", or "2h ago".
    #[arg(long)]
    time: Option<String>,
    /// Host name to record (default: this machine's).
    #[arg(long)]
    host: Option<String>,
    /// Compare files with this snapshot (an id or prefix) instead of the
    /// newest of the same host and sources.
    #[arg(long, value_name = "ID")]
    parent: Option<String>,
    /// Re-read every file even if unchanged since the last snapshot.
    #[arg(long)]
    force: bool,
    /// Print the summary as JSON (schema in README).
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct Summary<'a> {
    snapshot_id: String,
    time: String,
    hostname: &'a str,
    tags: &'a [String],
    sources: Vec<&'a str>,
    files_new: u64,
    files_changed: u64,
    files_unmodified: u64,
    dirs: u64,
    symlinks: u64,
    bytes_logical: u64,
    bytes_read: u64,
    blobs_new: u64,
    bytes_new_raw: u64,
    bytes_new_stored: u64,
    packs_written: u64,
    seconds: f64,
    /// One array per source kind's report group (`databases`, ...).
    #[serde(flatten)]
    groups: serde_json::Map<String, serde_json::Value>,
    warnings: &'a [String],
}

/// A time given to `flag` (which the error names): RFC 3339
/// (`2026-01-31T12:00:00Z`), a civil time in the local zone
/// (`2026-01-31 12:00`), `now`, `today` or `yesterday` (local midnight), or
/// a span `ago` (`2h ago`, `3 days ago`).
pub fn parse_time(flag: &str, s: &str) -> Result<jiff::Timestamp> {
    let bad = |why: String| -> anyhow::Error {
        cairn::Error::InvalidArgument(format!(
            "{flag} {s:?} is not a time: give RFC 3339 like 2026-01-31T12:00:00Z, a local time like \"2026-01-31 12:00\", today, yesterday or \"2h ago\" ({why})"
        ))
        .into()
    };
    let now = jiff::Zoned::now();
    let t = s.trim();
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    let midnight = |z: &jiff::Zoned| z.start_of_day().map(|d| d.timestamp()).map_err(|e| bad(e.to_string()));
    match t {
        "now" => return Ok(now.timestamp()),
        "today" => return midnight(&now),
        "yesterday" => return midnight(&now.yesterday().map_err(|e| bad(e.to_string()))?),
        _ => {}
    }
    if let Some(span) = t.strip_suffix(" ago") {
        let span: jiff::Span = span.trim().parse().map_err(|e: jiff::Error| bad(e.to_string()))?;
        return now.checked_sub(span).map(|z| z.timestamp()).map_err(|e| bad(e.to_string()));
    }
    match t.parse::<jiff::civil::DateTime>() {
        Ok(dt) => dt.to_zoned(now.time_zone().clone()).map(|z| z.timestamp()).map_err(|e| bad(e.to_string())),
        Err(e) => Err(bad(e.to_string())),
    }
}

impl Args {
    /// `stack` is the loaded stack file when `--stack` was given.
    pub fn run(
        self,
        repo: &Repository,
        stack: Option<&cairn::stack::StackFile>,
        metrics: &std::sync::Mutex<cairn::metrics::Metrics>,
    ) -> Result<i32> {
        let time = self.time.as_deref().map(|t| parse_time("--time", t)).transpose()?;
        let max_hold = match self.max_hold {
            Some(s) if !(s.is_finite() && s > 0.0 && s <= 86400.0) => {
                let msg =
                    format!("--max-hold {s} is out of range: give seconds between 0 and 86400, e.g. --max-hold 5");
                return Err(cairn::Error::InvalidArgument(msg).into());
            }
            s => s.map(std::time::Duration::from_secs_f64),
        };
        let mmap_bytes = if self.sqlite_no_mmap { 0 } else { cairn::source::sqlite::capture::DEFAULT_MMAP_BYTES };
        let method = match self.sqlite_method {
            MethodArg::Auto => MethodChoice::Auto,
            MethodArg::Dbpage => MethodChoice::Dbpage,
            MethodArg::BackupApi => MethodChoice::BackupApi,
        };
        let check = match self.sqlite_check {
            CheckArg::Quick => CheckLevel::Quick,
            CheckArg::Full => CheckLevel::Full,
            CheckArg::Off => CheckLevel::Off,
        };
        let sqlite = cairn::source::sqlite::CaptureOptions { max_hold, method, check, mmap_bytes };
        if self.chroma_attempts == 0 {
            anyhow::bail!("--chroma-attempts 0 would never read the directory: give 1 or more");
        }
        let chroma = cairn::source::chroma::CaptureOptions { attempts: self.chroma_attempts, ..Default::default() };
        let exclude = self.select.exclude()?;
        let mut redis = redis_options(self.redis_password_file.as_deref(), self.redis_timeout)?;
        if self.redis_bgsave {
            redis.method = cairn::source::redis::Method::Bgsave { dump: self.redis_dump.clone() };
        }
        let capture = CaptureOptions { force: self.force, exclude, sqlite, chroma, redis };
        if let Some(stack) = stack {
            let o = cairn::stack::backup::StackBackupOptions {
                only: self.only,
                capture,
                tags: self.tags,
                time,
                host: self.host,
            };
            return super::stack::backup(repo, stack, &o, self.json, metrics);
        }
        let opts = BackupOptions {
            sources: self.select.sources(&self.paths)?,
            capture,
            tags: self.tags,
            time,
            host: self.host,
            stack: None,
            parent: self.parent.as_deref().map(|p| repo.resolve_snapshot(p).map(|(id, _)| id)).transpose()?,
        };
        let r = backup(repo, &opts)?;
        super::metrics::backup(metrics, repo, &r);
        for w in &r.warnings {
            eprintln!("warning: {w}");
        }
        let s = Summary {
            snapshot_id: r.id.to_hex(),
            time: r.snapshot.time_string(),
            hostname: &r.snapshot.hostname,
            tags: &r.snapshot.tags,
            sources: r.snapshot.sources.iter().map(|s| s.path.as_str()).collect(),
            files_new: r.stats.files_new,
            files_changed: r.stats.files_changed,
            files_unmodified: r.stats.files_unmodified,
            dirs: r.stats.dirs,
            symlinks: r.stats.symlinks,
            bytes_logical: r.snapshot.summary.bytes,
            // Every page of a database is read (and hashed) each time.
            bytes_read: r.stats.bytes_read,
            blobs_new: r.written.blobs_new,
            bytes_new_raw: r.written.bytes_new_raw,
            bytes_new_stored: r.written.bytes_new_stored,
            packs_written: r.written.packs,
            seconds: r.seconds,
            groups: cairn::source::report_groups(r.reports.iter()),
            warnings: &r.warnings,
        };
        if self.json {
            print_json(&s);
        } else {
            // A backup of databases or servers only has no files to speak of.
            let files = s.files_new + s.files_changed + s.files_unmodified + s.dirs + s.symlinks;
            if files > 0 || r.snapshot.sources.iter().any(|x| x.kind == cairn::format::snapshot::SourceKind::FILES) {
                println!(
                    "files: {} new, {} changed, {} unmodified; {} dirs",
                    s.files_new, s.files_changed, s.files_unmodified, s.dirs
                );
            }
            println!(
                "read {} of {}; stored {} new chunks: {} raw, {} in {} pack(s)",
                human(s.bytes_read),
                human(s.bytes_logical),
                s.blobs_new,
                human(s.bytes_new_raw),
                human(s.bytes_new_stored),
                s.packs_written
            );
            for p in &r.reports {
                println!("{}", p.text);
            }
            println!("snapshot {} saved in {:.2}s", r.id.short(), r.seconds);
        }
        Ok(0)
    }
}

/// The Redis options: the password from `file`, else CAIRN_REDIS_PASSWORD.
pub fn redis_options(
    file: Option<&std::path::Path>,
    timeout: f64,
) -> anyhow::Result<cairn::source::redis::CaptureOptions> {
    if !(timeout > 0.0 && timeout.is_finite()) {
        anyhow::bail!("--redis-timeout {timeout} is not a positive number of seconds");
    }
    let password = match file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| anyhow::anyhow!("cannot read --redis-password-file {}: {e}", f.display()))?;
            Some(text.trim_end_matches(['\r', '\n']).to_string())
        }
        None => std::env::var("CAIRN_REDIS_PASSWORD").ok().filter(|p| !p.is_empty()),
    };
    let timeout = std::time::Duration::from_secs_f64(timeout);
    Ok(cairn::source::redis::CaptureOptions { password, timeout, ..Default::default() })
}
