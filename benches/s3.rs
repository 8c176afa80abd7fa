//! Object storage: backup and restore throughput against a Garage server on
//! loopback vs the local backend, beside restic (Debian's) against the same
//! server, in the same run, rounds interleaved; S3 requests per GiB for
//! both, counted by Garage itself. Then cairn alone: pack sizes and
//! connections on S3, and the time to open (`snapshots`) a repository of
//! 1,000 snapshots with and without the metadata cache.
//!
//!   cargo bench --bench s3            (CAIRN_BENCH_MIB=256, CAIRN_BENCH_ROUNDS=3)

mod common;
#[path = "../tests/common/garage.rs"]
#[allow(dead_code)]
mod garage;

use garage::{delta, Garage};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");

/// S3 requests by operation, as Garage counts them.
type Counts = BTreeMap<String, u64>;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

struct Tool {
    name: &'static str,
    s3: bool,
    restic: bool,
}

impl Tool {
    fn repo(&self, g: &Garage, w: &Path, round: usize) -> String {
        let name = format!("{}-{round}", self.name);
        match self.s3 {
            true => g.repo(&name),
            false => w.join(name).display().to_string(),
        }
    }
    fn cmd(&self, g: &Garage, w: &Path, repo: &str) -> Command {
        let mut c = Command::new(if self.restic { "restic" } else { CAIRN });
        g.env(&mut c);
        c.env("CAIRN_PASSWORD", "pw").env("RESTIC_PASSWORD", "pw").env("RESTIC_CACHE_DIR", w.join("restic-cache"));
        c.args(["-r", repo]).stdout(Stdio::null()).stderr(Stdio::null());
        if self.restic {
            c.args(["-q", "-o", "s3.region=garage", "-o", "s3.bucket-lookup=path"]);
        }
        c
    }
}

fn run(c: &mut Command) {
    let st = c.status().unwrap();
    assert!(st.success(), "{c:?} failed");
}

fn main() {
    let mib = env_or("CAIRN_BENCH_MIB", 256);
    let rounds = env_or("CAIRN_BENCH_ROUNDS", 3);
    assert!(Command::new("restic").arg("version").output().is_ok(), "restic is missing: apt-get install restic");
    let g = Garage::start();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let data = w.join("data");
    cairn::sample::generate(&data, mib, 7).unwrap();
    let bytes = common::dir_size(&data) as f64;
    let gib = bytes / (1u64 << 30) as f64;
    println!("# {:.0} MiB of sample data, {rounds} rounds, medians\n", bytes / (1 << 20) as f64);

    let tools = [
        Tool { name: "cairn-local", s3: false, restic: false },
        Tool { name: "cairn-s3", s3: true, restic: false },
        Tool { name: "restic-local", s3: false, restic: true },
        Tool { name: "restic-s3", s3: true, restic: true },
    ];
    let mut times: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    let mut reqs: BTreeMap<&str, (Counts, Counts)> = BTreeMap::new();
    for round in 0..rounds {
        for t in &tools {
            let repo = t.repo(&g, w, round);
            let mut init = t.cmd(&g, w, &repo);
            init.arg("init");
            if !t.restic {
                init.args(["--kdf-memory-kib", "65536"]);
            }
            run(&mut init);
            let before = g.requests();
            let (b, _, _) = common::measure(t.cmd(&g, w, &repo).arg("backup").arg(&data));
            let mid = g.requests();
            let target = w.join(format!("out-{}-{round}", t.name));
            let (r, _, _) = common::measure(t.cmd(&g, w, &repo).args(["restore", "latest", "--target"]).arg(&target));
            let after = g.requests();
            std::fs::remove_dir_all(&target).unwrap();
            if !t.s3 {
                std::fs::remove_dir_all(&repo).unwrap();
            }
            let e = times.entry(t.name).or_default();
            e.0.push(b);
            e.1.push(r);
            reqs.insert(t.name, (delta(&before, &mid), delta(&mid, &after)));
        }
    }
    println!("| tool | backup MB/s | restore MB/s | backup PUT / LIST per GiB | restore GET / LIST per GiB |");
    println!("|---|---|---|---|---|");
    let per = |m: &BTreeMap<String, u64>, op: &str| *m.get(op).unwrap_or(&0) as f64 / gib;
    for t in &tools {
        let (b, r) = times.get_mut(t.name).unwrap();
        let (rb, rr) = &reqs[t.name];
        let mbs = |s: f64| bytes / 1e6 / s;
        let cost = match t.s3 {
            true => (
                format!("{:.0} / {:.0}", per(rb, "PutObject"), per(rb, "ListObjectsV2")),
                format!("{:.0} / {:.0}", per(rr, "GetObject"), per(rr, "ListObjectsV2")),
            ),
            false => ("—".into(), "—".into()),
        };
        println!("| {} | {:.0} | {:.0} | {} | {} |", t.name, mbs(median(b)), mbs(median(r)), cost.0, cost.1);
    }
    println!("\nrequests, last round: {reqs:?}\n");

    // Pack size and connections for S3 (cairn alone).
    println!("| cairn on S3 | backup MB/s | restore MB/s |\n|---|---|---|");
    let cairn_s3 = &tools[1];
    for (v, (label, init_args, flags)) in [
        ("pack 4 MiB, 4 connections", vec!["--pack-size", "4194304"], vec![]),
        ("pack 16 MiB, 2 connections", vec![], vec!["--s3-connections", "2"]),
        ("pack 16 MiB, 4 connections (default)", vec![], vec![]),
        ("pack 16 MiB, 8 connections", vec![], vec!["--s3-connections", "8"]),
        ("pack 64 MiB, 4 connections", vec!["--pack-size", "67108864"], vec![]),
    ]
    .into_iter()
    .enumerate()
    {
        let (mut b, mut r) = (vec![], vec![]);
        for round in 0..rounds {
            let repo = g.repo(&format!("variant-{v}-{round}"));
            run(cairn_s3.cmd(&g, w, &repo).arg("init").args(["--kdf-memory-kib", "65536"]).args(&init_args));
            b.push(common::measure(cairn_s3.cmd(&g, w, &repo).args(&flags).arg("backup").arg(&data)).0);
            let target = w.join("out-variant");
            r.push(
                common::measure(
                    cairn_s3.cmd(&g, w, &repo).args(&flags).args(["restore", "latest", "--target"]).arg(&target),
                )
                .0,
            );
            std::fs::remove_dir_all(&target).unwrap();
        }
        println!("| {label} | {:.0} | {:.0} |", bytes / 1e6 / median(&mut b), bytes / 1e6 / median(&mut r));
    }

    open_many(&g, w);
}

/// Time `snapshots` on a repository of 1,000 snapshots: warm cache, no cache, cold cache.
fn open_many(g: &Garage, w: &Path) {
    let n = env_or("CAIRN_BENCH_SNAPSHOTS", 1000);
    let repo = g.repo("thousand");
    let t = Tool { name: "cairn-s3", s3: true, restic: false };
    run(t.cmd(g, w, &repo).arg("init").args(["--kdf-memory-kib", "64", "--kdf-iterations", "1"]));
    let small: PathBuf = w.join("small");
    std::fs::create_dir_all(&small).unwrap();
    std::fs::write(small.join("f"), "x").unwrap();
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for k in 0..4 {
            let (t, repo, small) = (&t, &repo, &small);
            s.spawn(move || {
                for i in (k..n).step_by(4) {
                    run(t.cmd(g, w, repo).args(["backup", "--tag", &format!("n{i}")]).arg(small));
                }
            });
        }
    });
    println!("\n{n} snapshots made in {:.0} s (4 writers)\n", start.elapsed().as_secs_f64());
    let cache = w.join("cache-thousand");
    let time = |flags: &[&str], clear: bool| {
        let mut v = vec![];
        let mut gets = 0;
        for _ in 0..5 {
            if clear {
                let _ = std::fs::remove_dir_all(&cache);
            }
            let before = g.requests();
            let mut c = t.cmd(g, w, &repo);
            c.env("CAIRN_CACHE_DIR", &cache).args(flags).arg("snapshots");
            v.push(common::measure(&mut c).0);
            gets = delta(&before, &g.requests()).get("GetObject").copied().unwrap_or(0);
        }
        (median(&mut v), gets)
    };
    let _ = time(&[], false); // fills the cache
    let warm = time(&[], false);
    let none = time(&["--no-cache"], false);
    let cold = time(&[], true);
    println!("| open {n} snapshots (`snapshots`) | seconds | GET requests |\n|---|---|---|");
    println!("| cache warm | {:.2} | {} |", warm.0, warm.1);
    println!("| cache emptied first | {:.2} | {} |", cold.0, cold.1);
    println!("| --no-cache | {:.2} | {} |", none.0, none.1);
}
