//! `cairn integrity --stack FILE`: the daily check of the live data (no
//! repository needed, nothing written to the data): a table of checks or
//! `--json`, an optional append-only log, and the webhook on failure.

use super::print_json;
use anyhow::Result;
use cairn::stack::integrity::{run, IntegrityOptions};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  cairn integrity\n  cairn integrity --stack /etc/cairn/app.toml --json")]
pub struct Args {
    /// The stack file (./cairn.toml when no FILE is given).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "cairn.toml", default_value = "cairn.toml")]
    stack: PathBuf,
    /// Only this component (repeatable).
    #[arg(long, value_name = "NAME")]
    only: Vec<String>,
    /// SQLite: `integrity_check` (also checks index contents) instead of `quick_check`.
    #[arg(long)]
    full: bool,
    /// Append one line per run to this file (the guide's
    /// /var/log/integrity-check.log).
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

impl Args {
    pub fn run(self) -> Result<i32> {
        let stack = cairn::stack::load(&self.stack)?;
        let password = std::env::var("CAIRN_REDIS_PASSWORD").ok().filter(|p| !p.is_empty());
        let checks = run(&stack, &self.only, &IntegrityOptions { full: self.full, redis_password: password })?;
        let failed: Vec<_> = checks.iter().filter(|c| !c.ok).collect();
        let summary = format!(
            "cairn integrity of stack {} on {}: {} of {} checks failed{}",
            stack.name,
            cairn::sys::hostname(),
            failed.len(),
            checks.len(),
            failed.iter().map(|c| format!("; {} {}: {}", c.component, c.check, c.detail)).collect::<String>()
        );
        if let Some(log) = &self.log {
            let line = format!("{} {}\n", jiff::Timestamp::now(), summary);
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .map_err(|e| anyhow::anyhow!("--log {}: cannot append to it: {e}", log.display()))?;
            f.write_all(line.as_bytes()).map_err(|e| anyhow::anyhow!("--log {}: {e}", log.display()))?;
        }
        if !failed.is_empty() {
            let url = stack.webhook_url();
            if let Some(url) = url {
                // Slack's incoming-webhook form (`text`), with the checks for other receivers.
                let body = serde_json::json!({"text": summary, "stack": stack.name, "event": "integrity", "ok": false,
                    "failed": failed});
                if let Err(e) = cairn::stack::notify::post(&url, &body) {
                    eprintln!("warning: {e}");
                }
            }
        }
        if self.json {
            print_json(&serde_json::json!({"stack": stack.name, "ok": failed.is_empty(), "checks": checks}));
        } else {
            println!("{:<12} {:<7} {:<28} {:<6} detail", "component", "kind", "check", "result");
            for c in &checks {
                let r = if c.ok { "ok" } else { "FAILED" };
                println!("{:<12} {:<7} {:<28} {:<6} {}", c.component, c.kind, c.check, r, c.detail);
            }
            println!("{} of {} checks passed", checks.len() - failed.len(), checks.len());
        }
        if failed.is_empty() {
            Ok(0)
        } else {
            Err(cairn::Error::Damaged(failed.len()).into())
        }
    }
}
