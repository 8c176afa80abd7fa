//! How progress is shown, chosen once from the global flags: a live bar on
//! a terminal (indicatif), JSON status lines with `--json` (restic's
//! `"message_type": "status"`), timestamped log lines with `-v` when
//! stderr is not a terminal, or nothing. The library reports counts
//! through `cairn::progress::Progress`; everything about drawing is here.

use cairn::progress::{Progress, Totals};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The global flags that decide how progress is shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shown {
    pub verbose: u8,
    pub quiet: bool,
    pub no_progress: bool,
    /// Show progress even when stderr is not a terminal (a CI log).
    pub force: bool,
}

/// The observer for a command, `json` if it prints JSON.
pub fn observer(shown: Shown, json: bool) -> Arc<dyn Progress> {
    let terminal = std::io::stderr().is_terminal();
    let live = !shown.quiet && !shown.no_progress && (shown.force || terminal);
    match (live, json) {
        (true, true) => Arc::new(JsonStatus::default()),
        (true, false) if terminal => Arc::new(Bar::default()),
        // Forced into a log (indicatif draws nothing there): lines, not redraws.
        (true, false) => Arc::new(Log { items: shown.verbose > 1, ..Log::default() }),
        (false, _) if shown.verbose > 0 && !shown.quiet => Arc::new(Log { items: shown.verbose > 1, ..Log::default() }),
        _ => Arc::new(cairn::progress::Silent),
    }
}

/// Counts shared by every way of showing them.
#[derive(Default)]
struct Counts {
    operation: Mutex<String>,
    totals: Mutex<Totals>,
    bytes: AtomicU64,
    items: AtomicU64,
    current: Mutex<String>,
    started: Mutex<Option<Instant>>,
}

impl Counts {
    fn start(&self, operation: &str, totals: Totals) {
        *self.operation.lock().expect("counts") = operation.to_string();
        *self.totals.lock().expect("counts") = totals;
        self.bytes.store(0, Ordering::Relaxed);
        self.items.store(0, Ordering::Relaxed);
        *self.started.lock().expect("counts") = Some(Instant::now());
    }
    fn elapsed(&self) -> f64 {
        self.started.lock().expect("counts").map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0)
    }
}

/// A live line on the terminal: bytes and items done of the total where
/// known, rate, ETA, the current item.
#[derive(Default)]
struct Bar {
    bar: Mutex<Option<ProgressBar>>,
    items: AtomicU64,
}

impl Progress for Bar {
    fn start(&self, operation: &str, totals: Totals) {
        let template = match totals.bytes {
            Some(_) => {
                "{prefix} [{elapsed_precise}] {bytes}/{total_bytes} {percent}% {binary_bytes_per_sec} ETA {eta} {msg}"
            }
            None => "{prefix} [{elapsed_precise}] {bytes} {binary_bytes_per_sec} {msg}",
        };
        let bar = ProgressBar::with_draw_target(totals.bytes, ProgressDrawTarget::stderr_with_hz(10));
        bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
        bar.set_prefix(operation.to_string());
        bar.enable_steady_tick(Duration::from_millis(250));
        self.items.store(0, Ordering::Relaxed);
        *self.bar.lock().expect("bar") = Some(bar);
    }
    fn item(&self, name: &str) {
        if let Some(b) = self.bar.lock().expect("bar").as_ref() {
            let done = self.items.load(Ordering::Relaxed);
            b.set_message(format!("{done} items, {}", tail(name, 40)));
        }
    }
    fn advance(&self, bytes: u64, items: u64) {
        self.items.fetch_add(items, Ordering::Relaxed);
        if let Some(b) = self.bar.lock().expect("bar").as_ref() {
            b.inc(bytes);
            // A backup's total is the parent's size, a guess it may pass.
            if b.length().is_some_and(|l| b.position() > l) {
                b.set_length(b.position());
            }
        }
    }
    fn finish(&self) {
        if let Some(b) = self.bar.lock().expect("bar").take() {
            b.finish_and_clear();
        }
    }
}

/// The last `n` characters of a path (the file name matters most).
fn tail(s: &str, n: usize) -> String {
    let count = s.chars().count();
    match count > n {
        true => format!("…{}", s.chars().skip(count - n).collect::<String>()),
        false => s.to_string(),
    }
}

/// One JSON object per line on stdout, at most every `JSON_EVERY`, and one
/// when the operation ends; the command's summary object follows.
#[derive(Default)]
struct JsonStatus {
    counts: Counts,
    last: Mutex<Option<Instant>>,
}

const JSON_EVERY: Duration = Duration::from_millis(200);

impl JsonStatus {
    fn emit(&self, force: bool) {
        let mut last = self.last.lock().expect("status clock");
        if !force && last.is_some_and(|t| t.elapsed() < JSON_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let c = &self.counts;
        let totals = *c.totals.lock().expect("counts");
        let bytes = c.bytes.load(Ordering::Relaxed);
        let percent = totals.bytes.filter(|t| *t > 0).map(|t| (bytes as f64 / t as f64).min(1.0));
        let v = serde_json::json!({
            "message_type": "status",
            "operation": *c.operation.lock().expect("counts"),
            "seconds_elapsed": c.elapsed(),
            "percent_done": percent,
            "total_bytes": totals.bytes,
            "bytes_done": bytes,
            "total_files": totals.items,
            "files_done": c.items.load(Ordering::Relaxed),
            "current_files": [*c.current.lock().expect("counts")],
        });
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{v}");
    }
}

impl Progress for JsonStatus {
    fn start(&self, operation: &str, totals: Totals) {
        self.counts.start(operation, totals);
        self.emit(true);
    }
    fn item(&self, name: &str) {
        *self.counts.current.lock().expect("counts") = name.to_string();
        self.emit(false);
    }
    fn advance(&self, bytes: u64, items: u64) {
        self.counts.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.counts.items.fetch_add(items, Ordering::Relaxed);
        self.emit(false);
    }
    fn finish(&self) {
        self.emit(true);
    }
}

/// Timestamped lines on stderr (`-v` without a terminal): the start, the
/// end, a status every `LOG_EVERY`, and with `-vv` every item.
#[derive(Default)]
struct Log {
    counts: Counts,
    items: bool,
    last: Mutex<Option<Instant>>,
}

const LOG_EVERY: Duration = Duration::from_secs(10);

impl Log {
    fn line(&self, text: &str) {
        let now = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S");
        eprintln!("{now} {} {text}", self.counts.operation.lock().expect("counts"));
    }
    fn status(&self) -> String {
        let c = &self.counts;
        format!(
            "{} and {} items done in {:.1} s",
            super::human(c.bytes.load(Ordering::Relaxed)),
            c.items.load(Ordering::Relaxed),
            c.elapsed()
        )
    }
}

impl Progress for Log {
    fn start(&self, operation: &str, totals: Totals) {
        self.counts.start(operation, totals);
        *self.last.lock().expect("log clock") = Some(Instant::now());
        let of = totals.bytes.map(|b| format!(" (about {})", super::human(b))).unwrap_or_default();
        self.line(&format!("started{of}"));
    }
    fn item(&self, name: &str) {
        if self.items {
            self.line(name);
        }
    }
    fn advance(&self, bytes: u64, items: u64) {
        self.counts.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.counts.items.fetch_add(items, Ordering::Relaxed);
        let mut last = self.last.lock().expect("log clock");
        if last.is_some_and(|t| t.elapsed() >= LOG_EVERY) {
            *last = Some(Instant::now());
            drop(last);
            self.line(&self.status());
        }
    }
    fn finish(&self) {
        self.line(&format!("ended: {}", self.status()));
    }
}
