//! Index memory: bytes of memory per indexed chunk during a backup into a
//! repository holding at least one million chunks.
//!
//! `cargo bench --bench index_memory` (env: BENCH_CHUNKS=1100000).
//! Builds a real repository of that many chunks (random data, FastCDC with
//! 64/256/1024-byte chunks so it stays small), then measures the peak RSS of
//! `cairn backup` of a small directory into it, and of the same backup into
//! an empty repository with the same parameters. The difference, divided by
//! the number of indexed chunks, is the index's cost per chunk.

#[path = "common.rs"]
mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

fn cairn(repo: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
    c.arg("--repo").arg(repo).stdout(Stdio::null()).env("CAIRN_PASSWORD", "bench");
    c
}

fn init(repo: &Path) {
    // A cheap KDF: Argon2id's own memory would otherwise sit in both peaks.
    measure(cairn(repo).args(["init", "--chunk-min", "64", "--chunk-avg", "256", "--chunk-max", "1024"]).args([
        "--kdf-memory-kib",
        "64",
        "--kdf-iterations",
        "1",
    ]));
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--exact") {
        return;
    }
    let chunks: u64 = env_or("BENCH_CHUNKS", 1_100_000);
    let tmp = tempfile::tempdir_in("target").unwrap();
    let (big, empty, bulk, small) =
        (tmp.path().join("big"), tmp.path().join("empty"), tmp.path().join("bulk"), tmp.path().join("small"));
    std::fs::create_dir_all(&bulk).unwrap();
    std::fs::create_dir_all(&small).unwrap();
    let mut rng = cairn::sample::Rng::new(99);
    let mut buf = vec![0u8; 32 << 20];
    let total = chunks * 300; // the mean chunk is a little under 300 bytes
    let mut written = 0u64;
    let mut i = 0;
    while written < total {
        rng.fill(&mut buf);
        std::fs::write(bulk.join(format!("bulk-{i}.bin")), &buf).unwrap();
        written += buf.len() as u64;
        i += 1;
    }
    rng.fill(&mut buf[..1 << 20]);
    std::fs::write(small.join("new.bin"), &buf[..1 << 20]).unwrap();
    init(&big);
    init(&empty);
    let (t, _, _) = measure(cairn(&big).arg("backup").arg(&bulk));
    let stats =
        Command::new(env!("CARGO_BIN_EXE_cairn")).arg("--repo").arg(&big).args(["stats", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let indexed = v["unique_blobs"].as_u64().unwrap();
    eprintln!("repository of {indexed} chunks built in {t:.1}s");
    let mut with = vec![];
    let mut without = vec![];
    for _ in 0..3 {
        with.push(measure(cairn(&big).args(["backup", "--force"]).arg(&small)).1 as f64);
        without.push(measure(cairn(&empty).args(["backup", "--force"]).arg(&small)).1 as f64);
    }
    let (w, wo) = (median(with), median(without));
    let per_chunk = (w - wo) * 1024.0 / indexed as f64;
    println!("indexed chunks:                    {indexed}");
    println!("peak RSS, backup into that repo:   {:.1} MiB", w / 1024.0);
    println!("peak RSS, backup into empty repo:  {:.1} MiB", wo / 1024.0);
    println!(
        "index memory per chunk:            {per_chunk:.1} bytes (in-memory record: {} bytes)",
        cairn::pack::index::MasterIndex::BYTES_PER_ENTRY
    );
    println!("per TiB at the default 512 KiB average chunk: {:.0} MiB", per_chunk * (1u64 << 21) as f64 / 1048576.0);
}
