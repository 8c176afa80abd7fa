//! Proof of recoverability, timed: `check --read-data` beside `restic check
//! --read-data` on the same data, and `drill` recovering the whole sample
//! stack, in one run (medians of BENCH_RUNS, alternating tools).
//!
//! It reuses what `cargo bench --bench whole_stack` leaves in
//! BENCH_DIR/whole-stack (a 526 MiB SQLite database, a 50,000-item Chroma
//! directory, 2,000 files and a 100,000-key Redis dump, backed up by cairn
//! and by restic with the guide's copies): run that first.
//! `cargo bench --bench verify` (env: BENCH_RUNS=3, BENCH_DIR=target/bench).

#[path = "common.rs"]
mod common;
use common::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn shell(cmd: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", cmd]).stdout(Stdio::null());
    c.env("CAIRN_PASSWORD", "bench").env("RESTIC_PASSWORD", "bench");
    c
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--exact") {
        return;
    }
    let runs: usize = env_or("BENCH_RUNS", 3);
    let base = std::path::absolute(PathBuf::from(env_or("BENCH_DIR", "target/bench".to_string())).join("whole-stack"))
        .unwrap();
    let (cairn_repo, restic_repo, stack) =
        (base.join("repo-cairn-0"), base.join("repo-restic-0"), base.join("cairn.toml"));
    assert!(
        cairn_repo.exists() && restic_repo.exists() && stack.exists(),
        "{} has no whole-stack repositories: run `cargo bench --bench whole_stack` first",
        base.display()
    );
    assert!(have("restic"), "restic is needed (apt install restic)");
    let cairn = env!("CARGO_BIN_EXE_cairn");
    let (mut c_check, mut r_check, mut drill, mut drill_wall) = (vec![], vec![], vec![], vec![]);
    for run in 0..runs {
        warm(&cairn_repo);
        warm(&restic_repo);
        c_check.push(measure(&mut shell(&format!("{cairn} -r {} check --read-data", cairn_repo.display()))).0);
        r_check.push(measure(&mut shell(&format!("restic -q -r {} check --read-data", restic_repo.display()))).0);
        let start = std::time::Instant::now();
        let out = shell(&format!("{cairn} -r {} drill --stack {} --json", cairn_repo.display(), stack.display()))
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        drill_wall.push(start.elapsed().as_secs_f64());
        // Exit 4 (an objective missed) is a result too; the report says which.
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a drill report");
        drill.push(v["total_s"].as_f64().unwrap());
        if run == 0 {
            for c in v["components"].as_array().unwrap() {
                eprintln!("  {} restore+checks {:.2}s, ok {}", c["name"], c["restore_s"].as_f64().unwrap(), c["ok"]);
            }
            eprintln!("  drill verdict ok: {} {}", v["ok"], v["misses"]);
        }
    }
    let mib = |p: &std::path::Path| dir_size(p) as f64 / 1048576.0;
    let (cm, rm) = (mib(&cairn_repo), mib(&restic_repo));
    let (c, r) = (median(c_check), median(r_check));
    println!("\nverification benchmark: medians of {runs} runs");
    println!("{:<40}{:>12}{:>12}{:>14}", "metric", "cairn", "restic", "restic/cairn");
    println!("{:<40}{:>12.2}{:>12.2}{:>14.2}", "check --read-data s", c, r, r / c);
    println!("{:<40}{:>12.1}{:>12.1}{:>14}", "repository MiB", cm, rm, "-");
    println!("{:<40}{:>12.1}{:>12.1}{:>14.2}", "read MiB/s", cm / c, rm / r, (rm / r) / (cm / c));
    println!("{:<40}{:>12.2}{:>12}{:>14}", "drill: whole-stack recovery s (report)", median(drill), "-", "-");
    println!("{:<40}{:>12.2}{:>12}{:>14}", "drill: command wall s", median(drill_wall), "-", "-");
}
