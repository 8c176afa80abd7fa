//! `cairn drill --stack FILE`: rehearse a recovery in a scratch directory
//! (never the live data) and print the verdict per component against its
//! RTO and RPO; any miss exits 4 and is sent to the stack's webhook.

use super::print_json;
use anyhow::Result;
use cairn::stack::drill::{drill, DrillOptions, Scenario};
use cairn::stack::StackFile;
use cairn::Repository;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ScenarioArg {
    /// The guide's scenario 1: rows lost from a database; its SQLite
    /// components restored, and the rows that would come back counted.
    Partial,
    /// The guide's scenario 2: the whole stack lost and restored.
    Full,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  cairn drill --stack\n  cairn drill --stack --at yesterday --json")]
pub struct Args {
    /// Stack snapshot to recover: an id or prefix (default: the latest; or --at).
    #[arg(long, value_name = "ID")]
    snapshot: Option<String>,
    /// The newest stack snapshot taken at or before this time (RFC 3339).
    #[arg(long)]
    at: Option<String>,
    /// The stack file (./cairn.toml when no FILE is given).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "cairn.toml", default_value = "cairn.toml")]
    pub stack: PathBuf,
    #[arg(long, value_enum, default_value_t = ScenarioArg::Full)]
    scenario: ScenarioArg,
    /// Override every RTO target (e.g. 5m).
    #[arg(long, value_name = "DURATION")]
    rto: Option<String>,
    /// Override every RPO target (e.g. 6h).
    #[arg(long, value_name = "DURATION")]
    rpo: Option<String>,
    /// List the drills recorded in the repository (when recovery was last
    /// proven, and how long it took) instead of running one.
    #[arg(long)]
    history: bool,
    /// Where to restore (a new directory is made inside; removed after).
    #[arg(long, value_name = "DIR")]
    scratch: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

impl Args {
    pub fn run(
        self,
        repo: &Repository,
        stack: &StackFile,
        metrics: &std::sync::Mutex<cairn::metrics::Metrics>,
    ) -> Result<i32> {
        if self.history {
            return history(repo, stack, self.json);
        }
        let d = |v: &Option<String>, flag: &str| {
            cairn::stack::file::duration(v.as_deref(), flag).map_err(|e| anyhow::anyhow!("--{e}"))
        };
        let (rto, rpo) = (d(&self.rto, "rto")?, d(&self.rpo, "rpo")?);
        let at = self.at.as_deref().map(|t| super::backup::parse_time("--at", t)).transpose()?;
        let q = cairn::ops::select::Query {
            spec: self.snapshot.clone(),
            at,
            stack: Some((stack.name.clone(), vec![])),
            ..Default::default()
        };
        let sel = cairn::ops::select::select(repo, &q)?;
        let base = self.scratch.clone().unwrap_or_else(std::env::temp_dir);
        let scratch = tempfile::Builder::new()
            .prefix("cairn-drill-")
            .tempdir_in(&base)
            .map_err(|e| anyhow::anyhow!("--scratch {}: cannot make a directory there: {e}", base.display()))?;
        let scenario = match self.scenario {
            ScenarioArg::Partial => Scenario::Partial,
            ScenarioArg::Full => Scenario::Full,
        };
        let password = std::env::var("CAIRN_REDIS_PASSWORD").ok().filter(|p| !p.is_empty());
        let integrity = cairn::stack::integrity::IntegrityOptions { full: false, redis_password: password };
        let o = DrillOptions { scenario, rto, rpo, integrity };
        let r = drill(repo, stack, &sel.id, &sel.snapshot, scratch.path(), &o)?;
        {
            let mut m = metrics.lock().expect("metrics");
            m.set("cairn_drill_success", "1 if the drill met every objective", &[], if r.ok { 1.0 } else { 0.0 });
            m.set("cairn_drill_restore_seconds", "How long the drill's whole recovery took", &[], r.total_s);
            m.set("cairn_drill_rto_seconds", "The recovery time objective the drill was held to", &[], r.rto_s);
            for c in &r.components {
                let l = [("component", c.name.as_str())];
                m.set(
                    "cairn_drill_component_restore_seconds",
                    "A component's verified restore and checks",
                    &l,
                    c.restore_s,
                );
                m.set(
                    "cairn_drill_component_age_seconds",
                    "Age of the component's newest snapshot (its RPO exposure)",
                    &l,
                    c.age_s,
                );
            }
        }
        // The drill's one write: its record.
        if let Err(e) = cairn::repo::drills::save(repo, &r.record(&sel.id)) {
            eprintln!("warning: the drill's record was not saved: {e}");
        }
        if !r.ok {
            if let Some(url) = stack.webhook_url() {
                let text = format!("cairn drill of stack {} FAILED: {}", stack.name, r.misses.join("; "));
                let body =
                    serde_json::json!({"text": text, "stack": stack.name, "event": "drill", "ok": false, "result": r});
                if let Err(e) = cairn::stack::notify::post(&url, &body) {
                    eprintln!("warning: {e}");
                }
            }
        }
        if self.json {
            print_json(&r);
        } else {
            print(&r, &sel.snapshot);
        }
        if r.ok {
            Ok(0)
        } else {
            Err(cairn::Error::DrillFailed(r.misses.len()).into())
        }
    }
}

fn print(r: &cairn::stack::drill::DrillReport, snap: &cairn::format::snapshot::Snapshot) {
    let secs = |v: Option<f64>| v.map(|s| cairn::ops::select::human_duration(s as u64)).unwrap_or_else(|| "-".into());
    println!(
        "drill ({:?}) of stack {} from snapshot {} ({})",
        r.scenario,
        r.stack,
        &r.snapshot[..8],
        snap.time_string()
    );
    println!(
        "{:<12} {:>10} {:>8} {:>10} {:>8} {:>7}  verdict",
        "component", "age", "RPO", "restore s", "RTO", "checks"
    );
    for c in &r.components {
        let passed = c.checks.iter().filter(|k| k.ok).count();
        let verdict = if c.ok { "ok".to_string() } else { format!("MISSED: {}", c.misses.join("; ")) };
        println!(
            "{:<12} {:>10} {:>8} {:>10.2} {:>8} {:>3}/{:<3}  {verdict}",
            c.name,
            cairn::ops::select::human_duration(c.age_s as u64),
            secs(c.rpo_s),
            c.restore_s,
            secs(c.rto_s),
            passed,
            c.checks.len()
        );
        for (t, restored, live) in &c.rows {
            println!("    {t}: {restored} rows would come back (live now: {live})");
        }
    }
    let verdict = if r.ok { "every objective met" } else { "objectives missed" };
    println!("whole recovery {:.2}s against an RTO of {}: {verdict}", r.total_s, secs(Some(r.rto_s)));
}

/// `--history`: the stack's recorded drills, oldest first.
fn history(repo: &Repository, stack: &StackFile, json: bool) -> Result<i32> {
    let (records, bad) = cairn::repo::drills::list(repo)?;
    for b in &bad {
        eprintln!("warning: {b}; skipped");
    }
    let mine: Vec<_> = records.into_iter().filter(|r| r.stack == stack.name).collect();
    let time = |ns: i64| jiff::Timestamp::from_nanosecond(ns as i128).map(|t| t.to_string()).unwrap_or_default();
    if json {
        let rows: Vec<_> = mine
            .iter()
            .map(|r| {
                serde_json::json!({"time": time(r.time_ns), "hostname": r.hostname, "snapshot": r.snapshot.to_hex(),
                    "scenario": if r.scenario == 1 { "partial" } else { "full" }, "ok": r.ok,
                    "total_s": r.total_us as f64 / 1e6, "rto_s": r.rto_s, "misses": r.misses})
            })
            .collect();
        print_json(&rows);
        return Ok(0);
    }
    println!("{:<32} {:<8} {:<9} {:>10}  verdict", "time", "snapshot", "scenario", "recovery");
    for r in &mine {
        let verdict = if r.ok { "ok".to_string() } else { format!("MISSED: {}", r.misses.join("; ")) };
        let scenario = if r.scenario == 1 { "partial" } else { "full" };
        println!(
            "{:<32} {:<8} {:<9} {:>9.2}s  {verdict}",
            time(r.time_ns),
            r.snapshot.short(),
            scenario,
            r.total_us as f64 / 1e6
        );
    }
    match mine.iter().rev().find(|r| r.ok) {
        Some(r) => println!("recovery last proven {} in {:.2}s", time(r.time_ns), r.total_us as f64 / 1e6),
        None => println!("recovery of stack {} has not been proven by a drill yet", stack.name),
    }
    Ok(0)
}
