#![allow(dead_code)]
//! Shared by the stack benchmarks: generating the sample stack's parts
//! (the database through benches/appdb.rs, the Chroma directory through the
//! real chromadb and tests/chroma/tool.py, script files) in child
//! processes, so their memory is never part of a measured command's peak.

use super::appdb;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn python() -> PathBuf {
    std::env::var_os("CAIRN_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-env/venv/bin/python"))
}

pub fn tool(args: &[String]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chroma/tool.py");
    let st = Command::new(python()).arg(script).args(args).stdout(Stdio::null()).status().expect("python");
    assert!(st.success(), "tool.py {args:?} failed: is chromadb installed (./scripts/test)?");
}

/// Generation and activity run in a child process, so their memory is never
/// part of a measured command's peak RSS.
pub fn step(args: &[String]) {
    let st = Command::new(std::env::current_exe().unwrap()).env("BENCH_STACK_STEP", args.join("\u{1f}")).status();
    assert!(st.unwrap().success(), "step {args:?} failed");
}

pub fn script_files(dir: &Path, from: usize, n: usize, seed: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = cairn::sample::Rng::new(seed);
    for i in from..from + n {
        let len = 2_000 + rng.below(30_000) as usize;
        let sub = dir.join(format!("season-{}", i / 200));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("episode-{i:05}.fountain")), cairn::sample::script_text(&mut rng, len))
            .unwrap();
    }
}

pub fn run_step(spec: &str) {
    let a: Vec<&str> = spec.split('\u{1f}').collect();
    match a[0] {
        "db" => appdb::generate(Path::new(a[1]), a[2].parse().unwrap()),
        "activity" => appdb::activity(Path::new(a[1]), a[2].parse().unwrap()),
        "files" => script_files(Path::new(a[1]), a[2].parse().unwrap(), a[3].parse().unwrap(), a[4].parse().unwrap()),
        other => panic!("unknown step {other}"),
    }
}
