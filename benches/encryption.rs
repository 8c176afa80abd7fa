//! What encryption costs: first-backup time of an encrypted repository
//! against a `--no-encryption` one, on the e2e benchmark's data, in the same
//! run, alternating. The Argon2id unlock (a fixed ~0.4 s per command with
//! the default costs) is kept out with cheap KDF settings, so the figure is
//! the per-byte cost of XChaCha20-Poly1305 and keyed BLAKE3.
//!
//! `cargo bench --bench encryption` (env: BENCH_MIB=1024, BENCH_RUNS=5,
//! BENCH_DIR=target/bench).

#[path = "common.rs"]
mod common;
use common::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--exact") {
        return;
    }
    let mib: usize = env_or("BENCH_MIB", 1024);
    let runs: usize = env_or("BENCH_RUNS", 5);
    let base = PathBuf::from(env_or("BENCH_DIR", "target/bench".to_string()));
    let Some(data) = bench_data(&base, mib) else { return };
    let cairn = |repo: &PathBuf| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
        c.arg("--repo").arg(repo).env("CAIRN_PASSWORD", "bench").stdout(Stdio::null());
        c
    };
    let modes: [(&str, &[&str]); 2] =
        [("plaintext", &["--no-encryption"]), ("encrypted", &["--kdf-memory-kib", "64", "--kdf-iterations", "1"])];
    let mut wall = [vec![], vec![]];
    let mut cpu = [vec![], vec![]];
    for run in 0..runs {
        for (i, (name, args)) in modes.iter().enumerate() {
            let repo = base.join(format!("enc-{name}-{run}"));
            let _ = std::fs::remove_dir_all(&repo);
            measure(cairn(&repo).arg("init").args(*args));
            warm(&data);
            let (t, _, c) = measure(cairn(&repo).arg("backup").arg(&data));
            eprintln!("run {run} {name:<9} first backup {t:.2}s ({c:.2} CPU s)");
            wall[i].push(t);
            cpu[i].push(c);
        }
    }
    for run in 0..runs {
        for (name, _) in &modes {
            let _ = std::fs::remove_dir_all(base.join(format!("enc-{name}-{run}")));
        }
    }
    let (wp, we) = (median(wall[0].clone()), median(wall[1].clone()));
    let (cp, ce) = (median(cpu[0].clone()), median(cpu[1].clone()));
    println!("\nfirst backup of {mib} MiB, medians of {runs} runs");
    println!("{:<12}{:>12}{:>12}{:>14}", "", "plaintext", "encrypted", "cost");
    println!("{:<12}{wp:>12.2}{we:>12.2}{:>13.1}%", "wall s", (we / wp - 1.0) * 100.0);
    println!("{:<12}{cp:>12.2}{ce:>12.2}{:>13.1}%", "CPU s", (ce / cp - 1.0) * 100.0);
}
