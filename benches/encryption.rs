//! What encryption costs: first-backup time of an encrypted repository
//! against a `--no-encryption` one, on the e2e benchmark's data, in the same
//! run, alternating. The Argon2id unlock (a fixed ~0.4 s per command with
//! the default costs) is kept out with cheap KDF settings, so the figure is
//! the per-byte cost of the AEAD and keyed BLAKE3, for the default cipher
//! (XAES-256-GCM) and for XChaCha20-Poly1305.
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
    let kdf = ["--kdf-memory-kib", "64", "--kdf-iterations", "1"];
    let modes: [(&str, Vec<&str>); 3] = [
        ("plaintext", vec!["--no-encryption"]),
        ("xaes", [&kdf[..], &["--cipher", "xaes-256-gcm"]].concat()),
        ("xchacha", [&kdf[..], &["--cipher", "xchacha20-poly1305"]].concat()),
    ];
    let mut wall = vec![vec![]; modes.len()];
    let mut cpu = vec![vec![]; modes.len()];
    for run in 0..runs {
        for (i, (name, args)) in modes.iter().enumerate() {
            let repo = base.join(format!("enc-{name}-{run}"));
            let _ = std::fs::remove_dir_all(&repo);
            measure(cairn(&repo).arg("init").args(args));
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
    let wall: Vec<f64> = wall.into_iter().map(median).collect();
    let cpu: Vec<f64> = cpu.into_iter().map(median).collect();
    println!("\nfirst backup of {mib} MiB, medians of {runs} runs; cost = extra over plaintext");
    println!("{:<12}{:>10}{:>10}{:>8}{:>10}{:>8}", "", "plaintext", "xaes", "cost", "xchacha", "cost");
    for (what, v) in [("wall s", &wall), ("CPU s", &cpu)] {
        let cost = |x: f64| (x / v[0] - 1.0) * 100.0;
        println!("{what:<12}{:>10.2}{:>10.2}{:>7.1}%{:>10.2}{:>7.1}%", v[0], v[1], cost(v[1]), v[2], cost(v[2]));
    }
}
