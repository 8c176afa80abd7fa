#![allow(dead_code)]
//! Shared by the benchmarks: timing a child process with its peak memory.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Run `cmd` to completion; returns (wall seconds, peak RSS in KiB, CPU
/// seconds: user + system).
/// Dirty pages left by earlier steps are flushed first (`sync`), so no tool
/// pays for another's writeback.
pub fn measure(cmd: &mut Command) -> (f64, u64, f64) {
    // SAFETY: sync(2) takes no arguments.
    unsafe { libc::sync() };
    let start = Instant::now();
    #[allow(clippy::zombie_processes)] // reaped by wait4 below
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut status = 0;
    // SAFETY: rusage is plain data, filled in by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let secs = start.elapsed().as_secs_f64();
    assert!(rc > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{cmd:?} failed (status {status})");
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs, usage.ru_maxrss as u64, tv(usage.ru_utime) + tv(usage.ru_stime))
}

pub fn dir_size(p: &Path) -> u64 {
    walkdir::WalkDir::new(p)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum()
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub fn have(program: &str) -> bool {
    ["--version", "version"]
        .iter()
        .any(|a| Command::new(program).arg(a).output().map(|o| o.status.success()).unwrap_or(false))
}

/// Read every file under `dir` so the measured commands find it in the page
/// cache (the machine may have dropped it since the last run).
pub fn warm(dir: &Path) {
    use std::io::Read;
    let mut buf = vec![0u8; 1 << 20];
    for e in walkdir::WalkDir::new(dir).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()) {
        let mut f = std::fs::File::open(e.path()).unwrap();
        while f.read(&mut buf).unwrap() > 0 {}
    }
}

/// The benchmark data set (`BENCH_MIB` MiB from `cairn::sample::generate`)
/// under `base`, generated on first use in a child process, so the
/// generator's memory is not inherited by (and counted in the peak RSS of)
/// the measured commands. Returns `None` in that child, which should exit.
pub fn bench_data(base: &Path, mib: usize) -> Option<std::path::PathBuf> {
    let data = base.join(format!("data-{mib}"));
    if std::env::var_os("BENCH_GENERATE").is_some() {
        cairn::sample::generate(&data, mib, 1).unwrap();
        return None;
    }
    if !data.exists() {
        eprintln!("generating {mib} MiB of sample data in {}", data.display());
        let exe = std::env::current_exe().unwrap();
        assert!(Command::new(exe).env("BENCH_GENERATE", "1").status().unwrap().success());
    }
    Some(std::path::absolute(&data).unwrap())
}
