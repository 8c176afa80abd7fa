//! The load scenario shared by `tests/load.rs` (bounded, in CI) and
//! `benches/load.rs` (longer): several backup processes on trees that change
//! between their runs, beside a `forget --keep-last N --prune` loop with a
//! short grace, all in one repository with small packs. Afterwards every
//! snapshot must restore byte-exact and `check --read-data` must be clean.
#![allow(dead_code)]

use super::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct LoadOptions {
    pub backups: usize,
    pub seconds: u64,
    /// Passed to `--grace`; must exceed the longest backup.
    pub grace_secs: f64,
    pub keep_last: u32,
}

#[derive(Debug, Default)]
pub struct LoadReport {
    pub backups_ok: usize,
    /// Backups that refused to commit with the documented "run the backup again".
    pub backups_refused: usize,
    pub prunes_ok: usize,
    /// Restores of the newest snapshot of a tree while the others run.
    pub restores_ok: usize,
    /// Any other failure: command and stderr.
    pub failures: Vec<String>,
    pub longest_backup: f64,
    pub longest_prune: f64,
    pub snapshots_at_end: usize,
    pub snapshots_restored: usize,
    pub packs_deleted: u64,
}

/// Change a tree a little: rewrite two files, add one, delete one, and
/// edit the middle of a large file (content-defined chunks shift locally).
fn mutate(dir: &Path, rng: &mut cairn::sample::Rng, round: u64) {
    let mut names: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    let small: Vec<&PathBuf> = names.iter().filter(|p| p.file_name().unwrap() != "big.bin").collect();
    for _ in 0..2 {
        if let Some(p) = small.get(rng.below(small.len().max(1) as u64) as usize) {
            let mut data = vec![0u8; 3000 + rng.below(40_000) as usize];
            rng.fill(&mut data);
            fs::write(p, data).unwrap();
        }
    }
    if small.len() > 8 {
        let _ = fs::remove_file(small[rng.below(small.len() as u64) as usize]);
    }
    let mut data = vec![0u8; 2000 + rng.below(30_000) as usize];
    rng.fill(&mut data);
    fs::write(dir.join(format!("new-{round:05}.bin")), data).unwrap();
    let big = dir.join("big.bin");
    let mut b = fs::read(&big).unwrap();
    let at = rng.below(b.len() as u64 - 5000) as usize;
    let mut patch = vec![0u8; 4096];
    rng.fill(&mut patch);
    b.splice(at..at, patch);
    fs::write(&big, b).unwrap();
}

fn seed_tree(dir: &Path, seed: u64) {
    fs::create_dir_all(dir).unwrap();
    let mut rng = cairn::sample::Rng::new(seed);
    for i in 0..20 {
        let mut data = vec![0u8; 3000 + rng.below(40_000) as usize];
        rng.fill(&mut data);
        fs::write(dir.join(format!("file-{i:02}.bin")), data).unwrap();
    }
    let mut big = vec![0u8; 600_000];
    rng.fill(&mut big);
    fs::write(dir.join("big.bin"), big).unwrap();
}

/// Path → (size, BLAKE3) of every file in a tree.
type Contents = BTreeMap<PathBuf, (u64, String)>;

fn contents(dir: &Path) -> Contents {
    digest(dir)
}

/// Run the scenario in `tmp`; panics only on setup errors, reports the rest.
pub fn run_load(tmp: &Path, o: &LoadOptions) -> LoadReport {
    let repo = tmp.join("repo");
    init_small(&repo);
    let expected: Arc<Mutex<BTreeMap<String, Contents>>> = Default::default();
    let report = Arc::new(Mutex::new(LoadReport::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(o.seconds);
    let mut workers = Vec::new();
    for w in 0..o.backups {
        let (repo, expected, report, stop) = (repo.clone(), expected.clone(), report.clone(), stop.clone());
        let dir = tmp.join(format!("tree-{w}"));
        seed_tree(&dir, 1000 + w as u64);
        workers.push(std::thread::spawn(move || {
            let mut rng = cairn::sample::Rng::new(77 + w as u64);
            let mut round = 0u64;
            while Instant::now() < deadline {
                let before = contents(&dir);
                let start = Instant::now();
                let out = run(cairn(&repo).args(["backup", "--json"]).arg(&dir));
                let secs = start.elapsed().as_secs_f64();
                let mut r = report.lock().unwrap();
                r.longest_backup = r.longest_backup.max(secs);
                if out.status.success() {
                    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                    expected.lock().unwrap().insert(v["snapshot_id"].as_str().unwrap().to_string(), before);
                    r.backups_ok += 1;
                } else {
                    let err = String::from_utf8_lossy(&out.stderr).into_owned();
                    if err.contains("nothing was committed: run the backup again") {
                        r.backups_refused += 1;
                    } else {
                        r.failures.push(format!("backup of tree-{w}: {err}"));
                    }
                }
                drop(r);
                round += 1;
                mutate(&dir, &mut rng, round);
            }
            stop.store(true, Ordering::SeqCst);
        }));
    }
    let pruner = {
        let (repo, report, grace, keep) = (repo.clone(), report.clone(), o.grace_secs, o.keep_last);
        std::thread::spawn(move || {
            while Instant::now() < deadline {
                let start = Instant::now();
                let out = run(cairn(&repo)
                    .args(["forget", "--keep-last", &keep.to_string(), "--prune", "--json", "--grace"])
                    .arg(format!("{grace}s")));
                let secs = start.elapsed().as_secs_f64();
                let mut r = report.lock().unwrap();
                r.longest_prune = r.longest_prune.max(secs);
                if out.status.success() {
                    r.prunes_ok += 1;
                    let text = String::from_utf8_lossy(&out.stdout).into_owned();
                    if let Some(line) = text.lines().nth(1) {
                        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
                        r.packs_deleted += v["result"]["packs_deleted"].as_u64().unwrap_or(0);
                    }
                } else {
                    r.failures.push(format!("forget --prune: {}", String::from_utf8_lossy(&out.stderr)));
                }
                drop(r);
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let restorer = {
        let (repo, report, expected, tmp) = (repo.clone(), report.clone(), expected.clone(), tmp.to_path_buf());
        let trees = o.backups;
        std::thread::spawn(move || {
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let tree = tmp.join(format!("tree-{}", n % trees as u64));
                let target = tmp.join(format!("live-restore-{n}"));
                let out = run(cairn(&repo)
                    .args(["restore", "latest", "--json", "--source"])
                    .arg(&tree)
                    .arg("--target")
                    .arg(&target));
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                let err = String::from_utf8_lossy(&out.stderr).into_owned();
                if !out.status.success() {
                    // Before the first backup of that tree there is nothing to restore.
                    if !err.contains("no snapshot of source") && !err.contains("no snapshots yet") {
                        report.lock().unwrap().failures.push(format!("restore during load: {err}"));
                    }
                } else {
                    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
                    let id = v["snapshot_id"].as_str().unwrap().to_string();
                    // The backup that committed it may not have reported yet.
                    let mut want = None;
                    for _ in 0..100 {
                        want = expected.lock().unwrap().get(&id).cloned();
                        if want.is_some() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    let got = contents(&target.join(tree.file_name().unwrap()));
                    let mut r = report.lock().unwrap();
                    match want {
                        Some(w) if w == got => r.restores_ok += 1,
                        _ => r.failures.push(format!("restore during load of {id}: contents differ")),
                    }
                }
                let _ = fs::remove_dir_all(&target);
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    for w in workers {
        w.join().unwrap();
    }
    pruner.join().unwrap();
    restorer.join().unwrap();
    let mut r = Arc::try_unwrap(report).unwrap().into_inner().unwrap();

    // Every snapshot still in the repository restores to what was backed up.
    let expected = expected.lock().unwrap();
    let ids: Vec<String> = serde_json::from_str::<serde_json::Value>(&ok(cairn(&repo).args(["snapshots", "--json"])))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    r.snapshots_at_end = ids.len();
    for id in &ids {
        let target = tmp.join(format!("restore-{}", &id[..12]));
        let out = run(cairn(&repo).args(["restore", id, "--target"]).arg(&target));
        if !out.status.success() {
            r.failures.push(format!("restore {id}: {}", String::from_utf8_lossy(&out.stderr)));
            continue;
        }
        let tree = fs::read_dir(&target).unwrap().next().unwrap().unwrap().path();
        match expected.get(id) {
            Some(want) if *want == contents(&tree) => r.snapshots_restored += 1,
            Some(_) => r.failures.push(format!("snapshot {id} restores different contents")),
            None => r.failures.push(format!("snapshot {id} was never reported by a backup")),
        }
        let _ = fs::remove_dir_all(&target);
    }
    let out = run(cairn(&repo).args(["check", "--read-data"]));
    if !out.status.success() {
        r.failures.push(format!("check --read-data: {}", String::from_utf8_lossy(&out.stdout)));
    }
    r
}
