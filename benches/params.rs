//! Parameter measurement behind the defaults in format-spec/parameters.md:
//! chunk sizes, zstd level and pack size, on the benchmark's sample data.
//!
//! `cargo bench --bench params` (env: BENCH_MIB=512, BENCH_RUNS=3). Plaintext
//! repositories, so only the parameter under test changes.
//! For each setting: first backup time, stored size, and what a second
//! backup after a small edit stores (one script edited, 64 KiB appended to
//! and 100 bytes inserted in the middle of the database file, eight 4 KiB
//! regions of an embeddings segment overwritten, one file added; `--force`
//! so every file is re-chunked), plus chunks per GiB (index memory).

#[path = "common.rs"]
mod common;
use cairn::chunker::ChunkerParams;
use cairn::ops::backup::{backup, BackupOptions};
use cairn::repo::config::Config;
use cairn::Repository;
use common::*;
use std::path::{Path, PathBuf};

fn run(data: &Path, edited: &Path, chunker: ChunkerParams, level: i32, pack: u32) -> (f64, u64, u64, u64, u64) {
    let tmp = tempfile::tempdir_in("target").unwrap();
    let repo_dir = tmp.path().join("repo");
    let mut repo = Repository::init_local(&repo_dir, Config::new(chunker, level, pack).unwrap(), None).unwrap();
    let r1 =
        backup(&repo, &BackupOptions { sources: vec![cairn::source::SourceSpec::path(data)], ..Default::default() })
            .unwrap();
    let stored = dir_size(&repo_dir);
    repo.load_index().unwrap();
    // The edited copy lives elsewhere; back it up under the same name so
    // only its content differs.
    let r2 = backup(
        &repo,
        &BackupOptions {
            sources: vec![cairn::source::SourceSpec::path(edited)],
            capture: cairn::source::CaptureOptions { force: true, ..Default::default() },
            ..Default::default()
        },
    )
    .unwrap();
    let packs = std::fs::read_dir(&repo_dir).map(|_| 0).unwrap_or(0) + r1.written.packs + r2.written.packs;
    (r1.seconds, stored, r2.written.bytes_new_stored, r1.written.blobs_new, packs)
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--exact") {
        return;
    }
    let mib: usize = env_or("BENCH_MIB", 512);
    let runs: usize = env_or("BENCH_RUNS", 3);
    let base = PathBuf::from("target/bench-params");
    let data = base.join("a/data");
    let edited = base.join("b/data");
    if !data.exists() {
        cairn::sample::generate(&data, mib, 1).unwrap();
        std::fs::create_dir_all(base.join("b")).unwrap();
        assert!(std::process::Command::new("cp").arg("-a").arg(&data).arg(&edited).status().unwrap().success());
        cairn::sample::modify(&edited, 1).unwrap();
        // In-place updates of a large binary file, as a vector store makes
        // them, and an insertion in the middle of the database file.
        let seg = edited.join("chroma/segments/seg-0.bin");
        let mut bytes = std::fs::read(&seg).unwrap();
        let mut rng = cairn::sample::Rng::new(5);
        for _ in 0..8 {
            let at = rng.below((bytes.len() - 4096) as u64) as usize;
            rng.fill(&mut bytes[at..at + 4096]);
        }
        std::fs::write(&seg, bytes).unwrap();
        let db = edited.join("app.db");
        let mut bytes = std::fs::read(&db).unwrap();
        let mid = bytes.len() / 2;
        bytes.splice(mid..mid, [7u8; 100]);
        std::fs::write(&db, bytes).unwrap();
    }
    let k = 1024u32;
    let settings: Vec<(&str, ChunkerParams, i32, u32)> = vec![
        ("cdc 64K/256K/1M  zstd3 16M", ChunkerParams { min: 64 * k, avg: 256 * k, max: 1024 * k }, 3, 16 << 20),
        ("cdc 128K/512K/2M zstd3 16M", ChunkerParams { min: 128 * k, avg: 512 * k, max: 2048 * k }, 3, 16 << 20),
        ("cdc 256K/1M/4M   zstd3 16M", ChunkerParams { min: 256 * k, avg: 1024 * k, max: 4096 * k }, 3, 16 << 20),
        ("cdc 512K/2M/8M   zstd3 16M", ChunkerParams { min: 512 * k, avg: 2048 * k, max: 8192 * k }, 3, 16 << 20),
        ("cdc 128K/512K/2M zstd1 16M", ChunkerParams::default(), 1, 16 << 20),
        ("cdc 128K/512K/2M zstd6 16M", ChunkerParams::default(), 6, 16 << 20),
        ("cdc 128K/512K/2M zstd3 4M", ChunkerParams::default(), 3, 4 << 20),
        ("cdc 128K/512K/2M zstd3 64M", ChunkerParams::default(), 3, 64 << 20),
    ];
    println!("{mib} MiB sample, medians of {runs} runs");
    println!(
        "{:<28} {:>9} {:>11} {:>14} {:>12} {:>8}",
        "setting", "first s", "stored MiB", "edit stores KiB", "chunks/GiB", "packs"
    );
    for (name, chunker, level, pack) in settings {
        let mut t = vec![];
        let mut last = (0.0, 0, 0, 0, 0);
        for _ in 0..runs {
            last = run(&data, &edited, chunker, level, pack);
            t.push(last.0);
        }
        let per_gib = last.3 as f64 * 1024.0 / mib as f64;
        println!(
            "{name:<28} {:>9.2} {:>11.1} {:>14.1} {:>12.0} {:>8}",
            median(t),
            last.1 as f64 / 1048576.0,
            last.2 as f64 / 1024.0,
            per_gib,
            last.4
        );
    }
}
