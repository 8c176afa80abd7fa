//! Progress as a user sees it: a live line under a pseudo-terminal
//! (`script(1)` provides one), nothing when stderr is a file, timestamped
//! lines with `-v`, and JSON status lines with `--json --progress`.

mod common;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// 16 files of 12 MiB random data (192 MiB): long enough for several redraws.
fn source(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    for i in 0..16u64 {
        let mut data = vec![0u8; 12 << 20];
        cairn::sample::Rng::new(i).fill(&mut data);
        fs::write(src.join(format!("f{i:02}")), data).unwrap();
    }
    src
}

fn repo_at(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    ok(cairn(&repo).arg("init").args(FAST_KDF));
    repo
}

/// Run `cairn --repo REPO ARGS` under a pseudo-terminal; what the terminal showed.
fn under_terminal(repo: &Path, args: &str) -> String {
    let line = format!("{} --repo {} {args}", env!("CARGO_BIN_EXE_cairn"), repo.display());
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]).env("CAIRN_PASSWORD", PASSWORD).env("COLUMNS", "150");
    String::from_utf8_lossy(&ok(&mut cmd).into_bytes()).into_owned()
}

#[test]
fn a_terminal_shows_a_live_line_and_a_file_gets_none() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path());
    let repo = repo_at(tmp.path());

    let shown = under_terminal(&repo, &format!("backup {}", src.display()));
    let redraws = shown.matches("backup [").count();
    assert!(redraws >= 2, "no live backup line on a terminal ({redraws} draws): {shown}");
    assert!(shown.contains("ETA") || shown.contains("/s"), "no rate in the live line: {shown}");
    assert!(shown.contains("snapshot"), "no summary after the live line: {shown}");

    let target = tmp.path().join("out");
    let shown = under_terminal(&repo, &format!("restore latest --target {}", target.display()));
    assert!(shown.matches("restore [").count() >= 1, "no live restore line: {shown}");
    assert!(shown.contains('%'), "restore knows its total, yet no percent: {shown}");
    cairn::sample::compare_trees(&src, &target.join("src")).unwrap();

    // stderr to a file: no live line, no carriage returns, only the summary on stdout.
    fs::write(src.join("f00"), b"changed").unwrap();
    let out = run(cairn(&repo).arg("backup").arg(&src));
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("backup [") && !err.contains('\r'), "progress drawn into a file: {err:?}");
    assert!(err.is_empty() && String::from_utf8_lossy(&out.stdout).contains("snapshot"), "{out:?}");

    // -v without a terminal: timestamped lines, the start and the end.
    for cmd in [&["check", "--read-data"][..], &["prune"][..]] {
        let out = run(cairn(&repo).arg("-v").args(cmd));
        assert!(out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.lines().count() >= 2, "-v {cmd:?} logged nothing: {err}");
        assert!(err.contains(&format!(" {} started", if cmd[0] == "check" { "check" } else { "prune" })), "{err}");
        for l in err.lines() {
            let stamp = l.split(' ').take(2).collect::<Vec<_>>().join(" ");
            assert!(jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", &stamp).is_ok(), "not timestamped: {l}");
        }
    }

    // --progress into a file: timestamped lines (indicatif would draw nothing there).
    let out = run(cairn(&repo).args(["--progress", "check", "--read-data"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains(" check started") && !err.contains('\r'), "{err}");

    // -q: nothing on stderr even when asked to force progress.
    let out = run(cairn(&repo).args(["-q", "--progress", "check"]));
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
}

#[test]
fn json_progress_lines_parse_and_end_with_the_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path());
    let repo = repo_at(tmp.path());
    let out = ok(cairn(&repo).args(["--progress", "backup", "--json"]).arg(&src));
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (summary, status) = lines.split_last().unwrap();
    assert!(summary["snapshot_id"].is_string(), "the last line is not the summary: {summary}");
    assert!(status.len() >= 2, "fewer than two status lines: {out}");
    let mut last = 0;
    for s in status {
        assert_eq!(s["message_type"], "status", "{s}");
        assert_eq!(s["operation"], "backup", "{s}");
        let done = s["bytes_done"].as_u64().unwrap();
        assert!(done >= last, "bytes_done went backwards: {s}");
        last = done;
    }
    assert_eq!(last, 16 * (12 << 20), "the last status does not count every byte");

    // A second backup knows its total (the parent's size): percent rises to 1.
    let out = ok(cairn(&repo).args(["--progress", "backup", "--json"]).arg(&src));
    let status: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["message_type"] == "status")
        .collect();
    assert_eq!(status.last().unwrap()["percent_done"].as_f64(), Some(1.0), "{out}");
    assert_eq!(status.last().unwrap()["total_files"].as_u64(), Some(16), "{out}");
}
