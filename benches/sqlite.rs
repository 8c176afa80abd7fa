//! SQLite snapshots beside restic backing up a `sqlite3 .backup` copy (the
//! operations guide's method), on a generated database modelled on the
//! application: projects, episodes with script bodies of 2–20 KB of mixed
//! English and Korean prose, indexes, WAL mode. Between snapshots, one
//! "hour" of activity: 0.5% of episodes inserted, 0.5% updated, 0.1% deleted.
//!
//! Measured per tool: the first snapshot, each hourly snapshot (time, peak
//! memory, bytes added to the repository) and a restore with verification
//! (cairn verifies itself; restic's restore is followed by
//! `PRAGMA integrity_check`, as the guide does). Then, offline on the same
//! page images: what one chunk per page costs against content-defined page
//! groups, and what compressing runs of new pages together would save.
//!
//! `cargo bench --bench sqlite` (env: BENCH_DB_MIB=1024, BENCH_HOURS=3,
//! BENCH_DIR=target/bench). Needs `sqlite3` and `restic` for the peer column.

#[path = "appdb.rs"]
mod appdb;
#[path = "common.rs"]
mod common;
use appdb::{activity, generate};
use common::*;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Save the committed page image, read through sqlite_dbpage as cairn
/// reads it, to `out` (raw pages back to back).
fn save_image(db: &Path, out: &Path) {
    use std::io::Write;
    let c = Connection::open(db).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    let mut st = c.prepare("SELECT data FROM sqlite_dbpage").unwrap();
    let mut rows = st.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        f.write_all(r.get_ref(0).unwrap().as_blob().unwrap()).unwrap();
    }
}

fn load_image(path: &Path, page_size: usize) -> Vec<Vec<u8>> {
    std::fs::read(path).unwrap().chunks(page_size).map(<[u8]>::to_vec).collect()
}

/// Generation, activity and images run in a child process, so their memory
/// is never part of a measured command's peak RSS (a forked child starts
/// with its parent's resident pages).
fn step(args: &[String]) {
    let status =
        Command::new(std::env::current_exe().unwrap()).env("BENCH_SQLITE_STEP", args.join("\u{1f}")).status().unwrap();
    assert!(status.success(), "step {args:?} failed");
}

fn run_step(spec: &str) {
    let a: Vec<&str> = spec.split('\u{1f}').collect();
    match a[0] {
        "generate" => generate(Path::new(a[1]), a[2].parse().unwrap()),
        "activity" => activity(Path::new(a[1]), a[2].parse().unwrap()),
        "image" => save_image(Path::new(a[1]), Path::new(a[2])),
        "study" => chunking_study(
            a[1].parse().unwrap(),
            &load_image(Path::new(a[2]), a[1].parse().unwrap()),
            &load_image(Path::new(a[3]), a[1].parse().unwrap()),
        ),
        other => panic!("unknown step {other}"),
    }
}

struct Tool {
    name: &'static str,
    first: (f64, u64),
    hourly: Vec<(f64, u64, u64)>,
    restore: (f64, u64),
    repo_mib: f64,
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--exact") {
        return;
    }
    if let Ok(spec) = std::env::var("BENCH_SQLITE_STEP") {
        return run_step(&spec);
    }
    let s = |p: &Path| p.display().to_string();
    let mib: u64 = env_or("BENCH_DB_MIB", 1024);
    let hours: usize = env_or("BENCH_HOURS", 3);
    let base = PathBuf::from(env_or("BENCH_DIR", "target/bench".to_string())).join("sqlite");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let db = base.join("app.db");
    eprintln!("generating a {mib} MiB database at {}", db.display());
    step(&["generate".into(), s(&db), mib.to_string()]);
    let db_bytes = std::fs::metadata(&db).unwrap().len();
    let peers = have("restic") && have("sqlite3");
    let cairn_bin = env!("CARGO_BIN_EXE_cairn");
    let cairn = |repo: &Path| {
        let mut c = Command::new(cairn_bin);
        c.arg("--repo").arg(repo).env("CAIRN_PASSWORD", "bench").stdout(Stdio::null());
        c
    };
    let restic = |repo: &Path| {
        let mut c = Command::new("restic");
        c.arg("-r").arg(repo).env("RESTIC_PASSWORD", "bench").arg("-q").stdout(Stdio::null());
        c
    };
    let (crepo, rrepo, copy) = (base.join("cairn-repo"), base.join("restic-repo"), base.join("copy.db"));
    measure(cairn(&crepo).arg("init"));
    if peers {
        measure(restic(&rrepo).arg("init"));
    }
    let src = format!("sqlite:{}", db.display());
    // The guide's step: `sqlite3 .backup` to a copy, then restic backs the copy up.
    let restic_step = |copy: &Path| -> (f64, u64) {
        let _ = std::fs::remove_file(copy);
        let (t1, _, _) = measure(Command::new("sqlite3").arg(&db).arg(format!(".backup '{}'", copy.display())));
        let (t2, mem, _) = measure(restic(&rrepo).arg("backup").arg(copy));
        (t1 + t2, mem)
    };
    let mut c = Tool { name: "cairn", first: (0.0, 0), hourly: vec![], restore: (0.0, 0), repo_mib: 0.0 };
    let mut r = Tool { name: "restic+.backup", first: (0.0, 0), hourly: vec![], restore: (0.0, 0), repo_mib: 0.0 };
    warm(&db);
    let (t, m, _) = measure(cairn(&crepo).arg("backup").arg(&src));
    c.first = (t, m);
    if peers {
        r.first = restic_step(&copy);
    }
    let images = [base.join("image-0"), base.join("image-1")];
    step(&["image".into(), s(&db), s(&images[0])]);
    for h in 0..hours {
        step(&["activity".into(), s(&db), (1000 + h).to_string()]);
        if h == 0 {
            step(&["image".into(), s(&db), s(&images[1])]);
        }
        warm(&db);
        let size0 = dir_size(&crepo);
        let (t, m, _) = measure(cairn(&crepo).arg("backup").arg(&src));
        c.hourly.push((t, m, dir_size(&crepo) - size0));
        if peers {
            let size0 = dir_size(&rrepo);
            let (t, m) = restic_step(&copy);
            r.hourly.push((t, m, dir_size(&rrepo) - size0));
        }
    }
    // The same hourly step without the memory map: peak RSS without the
    // mapped database file (shared page cache) in it.
    warm(&db);
    let (t, m, _) = measure(cairn(&crepo).args(["backup", "--sqlite-no-mmap"]).arg(&src));
    let no_mmap = (t, m);
    let out = base.join("restored-cairn.db");
    let (t, m, _) = measure(cairn(&crepo).args(["restore", "latest", "--sqlite-target"]).arg(&out));
    c.restore = (t, m);
    c.repo_mib = dir_size(&crepo) as f64 / 1048576.0;
    if peers {
        let target = base.join("restored-restic");
        let (t1, m, _) = measure(restic(&rrepo).args(["restore", "latest", "--target"]).arg(&target));
        let restored = walkdir::WalkDir::new(&target)
            .into_iter()
            .filter_map(Result::ok)
            .find(|e| e.file_name() == "copy.db")
            .unwrap();
        let (t2, _, _) =
            measure(Command::new("sqlite3").arg(restored.path()).arg("PRAGMA integrity_check").stdout(Stdio::null()));
        r.restore = (t1 + t2, m);
        r.repo_mib = dir_size(&rrepo) as f64 / 1048576.0;
    }
    report(mib, db_bytes, hours, &c, peers.then_some(&r));
    println!(
        "cairn hourly snapshot with --sqlite-no-mmap (no change since the last): {:.2} s, peak {:.1} MiB",
        no_mmap.0,
        no_mmap.1 as f64 / 1024.0
    );
    let page_size: i64 = Connection::open(&db).unwrap().query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    step(&["study".into(), page_size.to_string(), s(&images[0]), s(&images[1])]);
    let _ = std::fs::remove_dir_all(&base);
}

fn report(mib: u64, db_bytes: u64, hours: usize, c: &Tool, r: Option<&Tool>) {
    let med = |t: &Tool, i: usize| {
        median(t.hourly.iter().map(|h| [h.0, h.1 as f64 / 1024.0, h.2 as f64 / 1048576.0][i]).collect())
    };
    println!(
        "\nSQLite benchmark: {mib} MiB requested, database file {:.1} MiB, {hours} hourly rounds (medians)",
        db_bytes as f64 / 1048576.0
    );
    println!("{:<34}{:>14}{:>16}{:>10}", "metric", c.name, r.map_or("-", |r| r.name), "ratio");
    let rows: Vec<(&str, f64, Option<f64>)> = vec![
        ("first snapshot s", c.first.0, r.map(|r| r.first.0)),
        ("first snapshot peak MiB", c.first.1 as f64 / 1024.0, r.map(|r| r.first.1 as f64 / 1024.0)),
        ("hourly snapshot s", med(c, 0), r.map(|r| med(r, 0))),
        ("hourly snapshot peak MiB", med(c, 1), r.map(|r| med(r, 1))),
        ("hourly added MiB", med(c, 2), r.map(|r| med(r, 2))),
        (
            "hourly added % of database",
            med(c, 2) * 1048576.0 / db_bytes as f64 * 100.0,
            r.map(|r| med(r, 2) * 1048576.0 / db_bytes as f64 * 100.0),
        ),
        ("restore + verify s", c.restore.0, r.map(|r| r.restore.0)),
        ("restore peak MiB", c.restore.1 as f64 / 1024.0, r.map(|r| r.restore.1 as f64 / 1024.0)),
        ("repository MiB", c.repo_mib, r.map(|r| r.repo_mib)),
    ];
    for (name, cv, rv) in rows {
        let rs = rv.map_or("-".to_string(), |v| format!("{v:.2}"));
        let ratio = rv.map_or("-".to_string(), |v| format!("{:.2}", v / cv));
        println!("{name:<34}{cv:>14.2}{rs:>16}{ratio:>10}");
    }
    println!("ratio = peer / cairn (above 1: cairn is faster or smaller)");
}

/// Offline, on two consecutive page images: stored bytes, chunks and index
/// size for one chunk per page against content-defined page groups, and
/// per-chunk zstd against zstd over runs of consecutive new chunks.
fn chunking_study(page_size: usize, a: &[Vec<u8>], b: &[Vec<u8>]) {
    println!("\nchunking study: {} → {} pages of {page_size} B (one hour of activity)", a.len(), b.len());
    println!(
        "{:<26}{:>10}{:>12}{:>14}{:>14}{:>16}",
        "strategy", "chunks", "new chunks", "new raw MiB", "new zstd MiB", "zstd runs MiB"
    );
    for (name, avg) in [("one chunk per page", 1u64), ("page groups avg 4", 4), ("page groups avg 16", 16)] {
        let group = |img: &[Vec<u8>]| -> Vec<Vec<u8>> {
            let mut out = Vec::new();
            let mut cur: Vec<u8> = Vec::new();
            for p in img {
                cur.extend_from_slice(p);
                let n = cur.len() / page_size;
                let h = blake3::hash(p);
                let cut = avg == 1
                    || (n as u64 >= avg / 4 && u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap()) % avg == 0)
                    || n as u64 >= avg * 4;
                if cut {
                    out.push(std::mem::take(&mut cur));
                }
            }
            if !cur.is_empty() {
                out.push(cur);
            }
            out
        };
        let (ga, gb) = (group(a), group(b));
        let known: std::collections::HashSet<blake3::Hash> = ga.iter().map(|c| blake3::hash(c)).collect();
        let mut seen = std::collections::HashSet::new();
        let new: Vec<&Vec<u8>> =
            gb.iter().filter(|c| !known.contains(&blake3::hash(c)) && seen.insert(blake3::hash(c))).collect();
        let raw: usize = new.iter().map(|c| c.len()).sum();
        let z: usize = new.iter().map(|c| zstd::bulk::compress(c, 3).unwrap().len().min(c.len())).sum();
        let runs: usize = new
            .chunks(64)
            .map(|run| {
                zstd::bulk::compress(&run.iter().flat_map(|c| c.iter().copied()).collect::<Vec<u8>>(), 3).unwrap().len()
            })
            .sum();
        let distinct: std::collections::HashSet<blake3::Hash> = ga.iter().map(|c| blake3::hash(c)).collect();
        let mib = |x: usize| x as f64 / 1048576.0;
        println!(
            "{name:<26}{:>10}{:>12}{:>14.2}{:>14.2}{:>16.2}   index {:.1} MiB",
            distinct.len(),
            new.len(),
            mib(raw),
            mib(z),
            mib(runs),
            mib(distinct.len() * 48)
        );
    }
}
