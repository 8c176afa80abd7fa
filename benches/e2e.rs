//! End-to-end benchmark: cairn beside restic (and borg, when installed) on
//! the same generated data in the same run: first backup, second backup of
//! unchanged data, restore — wall time, peak memory, repository size.
//!
//! `cargo bench --bench e2e` (env: BENCH_MIB=1024, BENCH_RUNS=3,
//! BENCH_DIR=target/bench; BENCH_CLEAN_EACH=1 deletes each run's files
//! right away, for a tmpfs BENCH_DIR; BENCH_CAIRN_BASE=PATH also times an
//! earlier cairn binary in the same run). Peers: `apt-get install restic borgbackup`.
//! All tools read from a warm page cache (the data is read once before each
//! tool's first backup); restic always encrypts, borg runs
//! with `-e none` and its default lz4, cairn with its defaults (encrypted).

#[path = "common.rs"]
mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Tool {
    name: &'static str,
    /// The program, before any argument.
    prog: fn() -> Command,
    init: fn(Command, &Path) -> Command,
    backup: fn(Command, &Path, &Path, &str) -> Command,
    restore: fn(Command, &Path, &Path, &str) -> Command,
}

fn quiet(mut c: Command, base: &Path) -> Command {
    c.stdout(Stdio::null()).stderr(Stdio::null());
    env(&mut c, base);
    c
}

fn env(c: &mut Command, base: &Path) {
    c.env("RESTIC_PASSWORD", "bench").env("CAIRN_PASSWORD", "bench").env("XDG_CACHE_HOME", base.join("cache"));
    c.env("BORG_BASE_DIR", base.join("borg-base")).env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes");
}

fn cairn_tool(name: &'static str, prog: fn() -> Command) -> Tool {
    Tool {
        name,
        prog,
        init: |mut c, r| {
            c.arg("-r").arg(r).arg("init");
            c
        },
        backup: |mut c, r, d, _| {
            c.arg("-r").arg(r).arg("backup").arg(d);
            c
        },
        restore: |mut c, r, t, _| {
            c.arg("-r").arg(r).args(["restore", "latest", "--target"]).arg(t);
            c
        },
    }
}

fn tools() -> Vec<Tool> {
    let mut t = vec![cairn_tool("cairn", || Command::new(env!("CARGO_BIN_EXE_cairn")))];
    // An earlier build beside this one, in the same run (before/after).
    if std::env::var_os("BENCH_CAIRN_BASE").is_some() {
        t.push(cairn_tool("cairn-base", || Command::new(std::env::var_os("BENCH_CAIRN_BASE").unwrap())));
    }
    if have("restic") {
        t.push(Tool {
            name: "restic",
            prog: || Command::new("restic"),
            init: |mut c, r| {
                c.arg("-r").arg(r).arg("init");
                c
            },
            backup: |mut c, r, d, _| {
                c.arg("-r").arg(r).arg("backup").arg(d);
                c
            },
            restore: |mut c, r, t, _| {
                c.arg("-r").arg(r).args(["restore", "latest", "--target"]).arg(t);
                c
            },
        });
    }
    if have("borg") {
        t.push(Tool {
            name: "borg",
            prog: || Command::new("borg"),
            init: |mut c, r| {
                c.args(["init", "-e", "none"]).arg(r);
                c
            },
            backup: |mut c, r, d, name| {
                c.arg("create").arg(format!("{}::{name}", r.display())).arg(d);
                c
            },
            restore: |mut c, r, t, _| {
                std::fs::create_dir_all(t).unwrap();
                c.arg("extract").arg(format!("{}::second", std::path::absolute(r).unwrap().display())).current_dir(t);
                c
            },
        });
    }
    t
}

/// Range reads a cairn restore of `repo` makes per GiB restored (its
/// `--json` stats), or None for a build that does not report them.
fn range_reads_per_gib(tool: &Tool, repo: &Path, work: &Path) -> Option<f64> {
    let target = work.join("restore-counted");
    let mut c = (tool.restore)((tool.prog)(), repo, &target, "second");
    c.arg("--json").stderr(Stdio::null());
    env(&mut c, work);
    let out = c.output().unwrap();
    let _ = std::fs::remove_dir_all(&target);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let (reads, bytes) = (v["stats"]["range_reads"].as_f64()?, v["stats"]["bytes"].as_f64()?);
    Some(reads / (bytes / (1u64 << 30) as f64))
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--exact") {
        return; // `cargo test --benches` probing
    }
    let mib: usize = env_or("BENCH_MIB", 1024);
    let runs: usize = env_or("BENCH_RUNS", 3);
    let base = PathBuf::from(env_or("BENCH_DIR", "target/bench".to_string()));
    let Some(data) = bench_data(&base, mib) else { return };
    let logical = dir_size(&data);
    let tools = tools();
    // metric name -> tool -> values over runs
    let mut results: BTreeMap<&str, BTreeMap<&str, Vec<f64>>> = BTreeMap::new();
    for run in 0..runs {
        for tool in &tools {
            // A fresh directory per tool and run, deleted only at the end:
            // ext4 makes file creation much slower for ~30 s after many
            // deletions (it skips recently freed inodes), which would charge
            // one tool for another's cleanup.
            let work = base.join(format!("work-{}-{run}", tool.name));
            let _ = std::fs::remove_dir_all(&work);
            std::fs::create_dir_all(&work).unwrap();
            let repo = work.join("repo");
            measure(&mut quiet((tool.init)((tool.prog)(), &repo), &work));
            warm(&data);
            let (t1, m1, c1) = measure(&mut quiet((tool.backup)((tool.prog)(), &repo, &data, "first"), &work));
            let (t2, m2, c2) = measure(&mut quiet((tool.backup)((tool.prog)(), &repo, &data, "second"), &work));
            let target = work.join("restore");
            let (t3, m3, c3) = measure(&mut quiet((tool.restore)((tool.prog)(), &repo, &target, "second"), &work));
            if run == 0 && tool.name.starts_with("cairn") {
                match range_reads_per_gib(tool, &repo, &work) {
                    Some(r) => eprintln!("run {run} {:<7} restore: {r:.0} range reads per GiB restored", tool.name),
                    None => eprintln!("run {run} {:<7} restore: range reads not reported by this build", tool.name),
                }
            }
            let size = dir_size(&repo);
            let restored = dir_size(&target);
            assert!(restored >= logical, "{}: restored {restored} of {logical} bytes", tool.name);
            eprintln!(
                "run {run} {:<7} first {t1:6.2}s ({c1:5.2} CPU) {:5} MiB | second {t2:6.2}s {:5} MiB | restore {t3:6.2}s {:5} MiB | repo {:.1} MiB",
                tool.name, m1 / 1024, m2 / 1024, m3 / 1024, size as f64 / 1048576.0
            );
            if std::env::var_os("BENCH_CLEAN_EACH").is_some() {
                // For tmpfs, which has no such penalty and little room.
                std::fs::remove_dir_all(&work).unwrap();
            }
            for (k, v) in [
                ("1 first backup s", t1),
                ("2 second backup s", t2),
                ("3 restore s", t3),
                ("4 first backup peak MiB", m1 as f64 / 1024.0),
                ("5 second backup peak MiB", m2 as f64 / 1024.0),
                ("6 restore peak MiB", m3 as f64 / 1024.0),
                ("7 repository MiB", size as f64 / 1048576.0),
                ("8 first backup CPU s", c1),
                ("9 second backup CPU s", c2),
                ("a restore CPU s", c3),
            ] {
                results.entry(k).or_default().entry(tool.name).or_default().push(v);
            }
        }
    }
    for run in 0..runs {
        for tool in &tools {
            let _ = std::fs::remove_dir_all(base.join(format!("work-{}-{run}", tool.name)));
        }
    }
    println!(
        "\ne2e benchmark: {:.0} MiB logical, {} files, medians of {runs} run(s)",
        logical as f64 / 1048576.0,
        walkdir::WalkDir::new(&data).into_iter().count()
    );
    print!("{:<26}", "metric");
    for t in &tools {
        print!("{:>12}", t.name);
    }
    for t in tools.iter().skip(1) {
        print!("{:>16}", format!("{}/cairn", t.name));
    }
    println!();
    for (metric, per_tool) in &results {
        print!("{:<26}", &metric[2..]);
        let med: Vec<f64> = tools.iter().map(|t| median(per_tool[t.name].clone())).collect();
        for m in &med {
            print!("{m:>12.2}");
        }
        for m in med.iter().skip(1) {
            print!("{:>16.2}", m / med[0]);
        }
        println!();
    }
}
