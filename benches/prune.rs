//! Prune on a repository of over a million chunks, beside `restic prune` on
//! a repository of the same data and history. Two data sets
//! (`BENCH_PRUNE_DATA`):
//!
//! - `files` (default): 2^20 small files of 0.5–1.5 KB (generated scripts
//!   and notes), one chunk each in both tools, so both repositories hold
//!   over a million chunks; history: 3 snapshots, 10% of the files
//!   rewritten and 3% deleted between them.
//! - `sqlite`: the generated application database (benches/appdb.rs), 4 GiB
//!   (`BENCH_DB_MIB`), snapshotted live by cairn (a million page chunks) and
//!   as a `sqlite3 .backup` copy by restic (a few thousand chunks of ~1 MiB),
//!   with `BENCH_HOURS` hours of activity.
//!
//! Both tools then forget all but the newest snapshot and prune (cairn with
//! `--grace 0s`, so both delete at once); wall time, CPU and peak RSS of the
//! prune are compared. `cargo bench --bench prune` (env: BENCH_DIR,
//! BENCH_FILES=1048576). Needs `restic` (and `sqlite3` for `sqlite`).

#[path = "appdb.rs"]
mod appdb;
#[path = "common.rs"]
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn cairn_cmd(repo: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
    c.arg("--repo").arg(repo).env("CAIRN_PASSWORD", "bench").args(args).stdout(Stdio::null());
    c
}

fn restic_cmd(repo: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("restic");
    c.arg("-r").arg(repo).env("RESTIC_PASSWORD", "bench").arg("-q").args(args).stdout(Stdio::null());
    c
}

fn step(args: &[String]) {
    let status =
        Command::new(std::env::current_exe().unwrap()).env("BENCH_PRUNE_STEP", args.join("\u{1f}")).status().unwrap();
    assert!(status.success(), "step {args:?} failed");
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--exact") {
        return;
    }
    // Generation and activity run in a child, so their memory is never part
    // of a measured command's peak RSS.
    if let Ok(spec) = std::env::var("BENCH_PRUNE_STEP") {
        let a: Vec<&str> = spec.split('\u{1f}').collect();
        match a[0] {
            "generate" => appdb::generate(Path::new(a[1]), a[2].parse().unwrap()),
            "files" => files(Path::new(a[1]), a[2].parse().unwrap(), a[3].parse().unwrap()),
            _ => appdb::activity(Path::new(a[1]), a[2].parse().unwrap()),
        }
        return;
    }
    if env_or("BENCH_PRUNE_DATA", "files".to_string()) == "files" {
        return files_bench();
    }
    let mib: u64 = env_or("BENCH_DB_MIB", 4096);
    let hours: u64 = env_or("BENCH_HOURS", 3);
    let base = PathBuf::from(env_or("BENCH_DIR", "target/bench".to_string())).join("prune");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let db = base.join("app.db");
    let s = |p: &Path| p.display().to_string();
    eprintln!("generating a {mib} MiB database");
    step(&["generate".into(), s(&db), mib.to_string()]);
    let peers = have("restic") && have("sqlite3");
    let (crepo, rrepo, copy) = (base.join("cairn-repo"), base.join("restic-repo"), base.join("copy.db"));
    let cairn = |args: &[&str]| cairn_cmd(&crepo, args);
    let restic = |args: &[&str]| restic_cmd(&rrepo, args);
    measure(&mut cairn(&["init"]));
    if peers {
        measure(&mut restic(&["init"]));
    }
    let src = format!("sqlite:{}", db.display());
    for h in 0..=hours {
        if h > 0 {
            step(&["activity".into(), s(&db), (2000 + h).to_string()]);
        }
        let time = format!("2026-06-01T{:02}:00:00Z", h);
        measure(&mut cairn(&["backup", "--time", &time, &src]));
        if peers {
            let _ = std::fs::remove_file(&copy);
            measure(Command::new("sqlite3").arg(&db).arg(format!(".backup '{}'", copy.display())));
            measure(&mut restic(&["backup", "--time", &time.replace('T', " ").replace('Z', ""), &s(&copy)]));
        }
        eprintln!("snapshot {h} taken");
    }
    report_prune(
        &base,
        &crepo,
        &rrepo,
        peers,
        &format!("{mib} MiB SQLite database, {} snapshots", hours + 1),
        &cairn,
        &restic,
    );
}

/// Round `round` of the small-file data set: round 0 writes every file;
/// later rounds rewrite 10% and delete 3% of what is there.
fn files(dir: &Path, n: u64, round: u64) {
    let mut rng = appdb::Rng(0x2545f4914f6cdd1d ^ round.wrapping_mul(0x9e3779b97f4a7c15) | 1);
    for i in 0..n {
        let path = dir.join(format!("{:04}/{:06}.txt", i / 1024, i));
        let r = rng.below(100);
        if round > 0 && r < 3 {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        if round > 0 && r >= 13 {
            continue;
        }
        if i % 1024 == 0 {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        }
        let mut text = format!("scene {i} round {round} {:016x}\n", rng.next());
        let len = 500 + rng.below(1000) as usize;
        while text.len() < len {
            text.push_str(appdb::WORDS[rng.below(appdb::WORDS.len() as u64) as usize]);
            text.push(' ');
        }
        std::fs::write(&path, text).unwrap();
    }
}

fn files_bench() {
    let n: u64 = env_or("BENCH_FILES", 1 << 20);
    let base = PathBuf::from(env_or("BENCH_DIR", "target/bench".to_string())).join("prune-files");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let data = base.join("scripts");
    let (crepo, rrepo) = (base.join("cairn-repo"), base.join("restic-repo"));
    let s = |p: &Path| p.display().to_string();
    let peers = have("restic");
    let cairn = |args: &[&str]| cairn_cmd(&crepo, args);
    let restic = |args: &[&str]| restic_cmd(&rrepo, args);
    measure(&mut cairn(&["init"]));
    if peers {
        measure(&mut restic(&["init"]));
    }
    for round in 0..3u64 {
        step(&["files".into(), s(&data), n.to_string(), round.to_string()]);
        let time = format!("2026-06-01T{:02}:00:00Z", round);
        let (t, _, _) = measure(&mut cairn(&["backup", "--time", &time, &s(&data)]));
        let mut line = format!("round {round}: cairn backup {t:.1}s");
        if peers {
            let (t, _, _) =
                measure(&mut restic(&["backup", "--time", &time.replace('T', " ").replace('Z', ""), &s(&data)]));
            line += &format!(", restic backup {t:.1}s");
        }
        eprintln!("{line}");
    }
    report_prune(&base, &crepo, &rrepo, peers, &format!("{n} small files, 3 snapshots"), &cairn, &restic);
}

/// Forget all but the newest snapshot in both repositories, prune, compare.
fn report_prune(
    base: &Path,
    crepo: &Path,
    rrepo: &Path,
    peers: bool,
    what: &str,
    cairn: &dyn Fn(&[&str]) -> Command,
    restic: &dyn Fn(&[&str]) -> Command,
) {
    let chunks = {
        let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .arg("--repo")
            .arg(crepo)
            .args(["stats", "--json"])
            .env("CAIRN_PASSWORD", "bench")
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["unique_blobs"].as_u64().unwrap()
    };
    measure(&mut cairn(&["forget", "--keep-last", "1"]));
    let size0 = dir_size(crepo);
    let (ct, cm, ccpu) = measure(&mut cairn(&["prune", "--grace", "0s"]));
    let size1 = dir_size(crepo);
    measure(&mut cairn(&["check"]));
    let mut rrow = None;
    if peers {
        measure(&mut restic(&["forget", "--keep-last", "1"]));
        let r0 = dir_size(rrepo);
        let (t, m, cpu) = measure(&mut restic(&["prune"]));
        rrow = Some((t, m, cpu, r0, dir_size(rrepo)));
    }
    let mb = |b: u64| b as f64 / 1048576.0;
    println!("\nprune benchmark: {what}; cairn repository {chunks} chunks before forget");
    println!("{:<28}{:>12}{:>12}{:>10}", "metric", "cairn", "restic", "ratio");
    let row = |name: &str, c: f64, r: Option<f64>| {
        let rs = r.map_or("-".into(), |v| format!("{v:.2}"));
        let ratio = r.map_or("-".into(), |v| format!("{:.2}", v / c));
        println!("{name:<28}{c:>12.2}{rs:>12}{ratio:>10}");
    };
    row("prune wall s", ct, rrow.map(|r| r.0));
    row("prune peak RSS MiB", cm as f64 / 1024.0, rrow.map(|r| r.1 as f64 / 1024.0));
    row("prune CPU s", ccpu, rrow.map(|r| r.2));
    row("repository before MiB", mb(size0), rrow.map(|r| mb(r.3)));
    row("repository after MiB", mb(size1), rrow.map(|r| mb(r.4)));
    println!("ratio = restic / cairn (above 1: cairn is faster or smaller)");
    let _ = std::fs::remove_dir_all(base);
}
