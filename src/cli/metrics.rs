//! `--metrics-file` and `--pushgateway`: after any command, its metrics
//! (`cairn::metrics`) are written and pushed by one wrapper around the
//! command, so a command only adds what it alone knows (a backup's bytes
//! and components, a check's errors) to the session's recorder. Failing to
//! write or push them is a warning: the job succeeds or fails on its own.

use cairn::metrics::{Metrics, LAST_SUCCESS, LAST_SUCCESS_HELP, SUCCESS};
use std::path::PathBuf;
use std::sync::Mutex;

/// Where a run's metrics go, from the global flags.
pub struct Sink {
    pub file: Option<PathBuf>,
    pub pushgateway: Option<String>,
    /// The `job` label; the command's name unless --metrics-job.
    pub job: String,
}

impl Sink {
    /// Complete `metrics` with the outcome (exit code 0 is success) and
    /// how long the command took, then write and push them.
    pub fn finish(&self, metrics: &Mutex<Metrics>, code: i32, started: std::time::Instant) {
        if self.file.is_none() && self.pushgateway.is_none() {
            return;
        }
        let mut m = metrics.lock().expect("metrics").clone();
        let ok = code == 0;
        m.set(SUCCESS, "1 if the job's last run succeeded, else 0", &[], if ok { 1.0 } else { 0.0 });
        if ok {
            m.set(LAST_SUCCESS, LAST_SUCCESS_HELP, &[], jiff::Timestamp::now().as_second() as f64);
        }
        m.set("cairn_job_exit_code", "Exit code of the job's last run (README: exit codes)", &[], code as f64);
        m.set("cairn_job_duration_seconds", "How long the job's last run took", &[], started.elapsed().as_secs_f64());
        m.set(
            "cairn_job_last_run_timestamp",
            "When the job last ran, seconds since the Unix epoch",
            &[],
            jiff::Timestamp::now().as_second() as f64,
        );
        if let Some(f) = &self.file {
            if let Err(e) = m.write_file(f, &self.job) {
                eprintln!("warning: {e}; the job's own result stands");
            }
        }
        if let Some(url) = &self.pushgateway {
            if let Err(e) = m.push(url, &self.job, &cairn::sys::hostname()) {
                eprintln!("warning: {e}; the job's own result stands");
            }
        }
    }
}

/// What the run asked of remote storage (nothing for a local repository):
/// `cairn_storage_requests_total` and `cairn_storage_bytes_total` by
/// operation, and with -v one line on stderr.
pub fn requests(m: &Mutex<Metrics>, r: &cairn::backend::counted::Requests, verbose: bool) {
    let totals = r.totals();
    if totals.iter().all(|t| t.1 == 0) {
        return;
    }
    let mut m = m.lock().expect("metrics");
    for &(op, n, bytes) in &totals {
        m.set(
            "cairn_storage_requests_total",
            "Requests made to the repository's object store",
            &[("operation", op)],
            n as f64,
        );
        m.set(
            "cairn_storage_bytes_total",
            "Bytes sent (put) or received (get) by those requests",
            &[("operation", op)],
            bytes as f64,
        );
    }
    if verbose {
        let line: Vec<String> = totals
            .iter()
            .filter(|t| t.1 > 0)
            .map(|&(op, n, b)| match b {
                0 => format!("{n} {op}"),
                b => format!("{n} {op} ({})", cairn::sys::human(b)),
            })
            .collect();
        eprintln!("storage requests: {}", line.join(", "));
    }
}

/// What a backup adds: bytes, files, and per stack component its time,
/// bytes and hold; the repository's size after it.
pub fn backup(m: &Mutex<Metrics>, repo: &cairn::Repository, r: &cairn::ops::backup::BackupResult) {
    let mut m = m.lock().expect("metrics");
    m.set("cairn_backup_bytes_read", "Bytes the backup read from its sources", &[], r.stats.bytes_read as f64);
    m.set(
        "cairn_backup_bytes_logical",
        "Bytes the snapshot holds (files, databases)",
        &[],
        r.snapshot.summary.bytes as f64,
    );
    m.set(
        "cairn_backup_bytes_added",
        "Bytes the backup stored (compressed, sealed)",
        &[],
        r.written.bytes_new_stored as f64,
    );
    m.set("cairn_backup_files", "Files in the snapshot", &[], r.snapshot.summary.files as f64);
    let ratio = r.snapshot.summary.bytes as f64 / (r.written.bytes_new_stored.max(1)) as f64;
    m.set("cairn_backup_dedup_ratio", "Bytes the snapshot holds per byte the backup stored", &[], ratio);
    for c in r.snapshot.stack.iter().flat_map(|s| &s.components) {
        let l = [("component", c.name.as_str())];
        m.set(
            "cairn_component_duration_seconds",
            "How long a component's capture took",
            &l,
            c.duration_us as f64 / 1e6,
        );
        m.set("cairn_component_bytes", "Bytes a component holds", &l, c.bytes as f64);
        m.set("cairn_component_bytes_read", "Bytes read to capture a component", &l, c.bytes_read as f64);
        if let Some(h) = c.hold_us {
            m.set("cairn_component_hold_seconds", "How long a component's application was held up", &l, h as f64 / 1e6);
        }
    }
    // Per database, from its capture report: pages and how long writers waited.
    for d in r.reports.iter().filter(|r| r.group == "databases") {
        let path = d.json["path"].as_str().unwrap_or_default();
        let l = [("database", path)];
        if let Some(p) = d.json["pages"].as_f64() {
            m.set("cairn_database_pages", "Pages of a database captured", &l, p);
        }
        if let Some(h) = d.json["hold_ms"].as_f64() {
            m.set("cairn_database_hold_seconds", "How long the database's read transaction was held", &l, h / 1e3);
        }
    }
    repository(&mut m, repo);
}

/// The repository's size and counts (one listing of its packs).
pub fn repository(m: &mut Metrics, repo: &cairn::Repository) {
    if let Ok(sizes) = repo.pack_sizes() {
        m.set("cairn_repository_size_bytes", "Bytes of all pack files", &[], sizes.values().sum::<u64>() as f64);
        m.set("cairn_repository_packs", "Pack files", &[], sizes.len() as f64);
    }
    m.set("cairn_repository_chunks", "Blobs the index lists", &[], repo.index().len() as f64);
    if let Ok(ids) = repo.snapshot_ids() {
        m.set("cairn_repository_snapshots", "Snapshots", &[], ids.len() as f64);
    }
}
