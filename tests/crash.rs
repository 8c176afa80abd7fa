//! Crash safety: a backup killed with SIGKILL at chosen points leaves a
//! repository in which every earlier snapshot restores byte-exact, `check`
//! passes, and the next backup succeeds.

mod common;
use common::*;
use std::process::Stdio;
use std::time::Duration;

fn crash_at(point: Option<&str>, kill_after: Option<Duration>) {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    cairn::sample::generate(&src, 16, 3).unwrap();
    init_small(&repo);
    let first = backup(&repo, &[&src]);
    let snapshot = tmp.path().join("data-at-first");
    copy_tree(&src, &snapshot);
    cairn::sample::modify(&src, 3).unwrap();
    let mut more = vec![0u8; 3 << 20];
    cairn::sample::Rng::new(77).fill(&mut more);
    std::fs::write(src.join("more.bin"), more).unwrap(); // about a dozen new packs

    let mut cmd = cairn(&repo);
    cmd.args(["backup", "--force"]).arg(&src).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(p) = point {
        cmd.env("CAIRN_FAILPOINT", p);
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(d) = kill_after {
        std::thread::sleep(d);
        let _ = child.kill(); // SIGKILL
    }
    let status = child.wait().unwrap();
    if point.is_some() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "failpoint {point:?} was not reached");
    }
    // The first snapshot is intact and restores byte-exact.
    ok(cairn(&repo).arg("check").arg("--read-data"));
    let target = tmp.path().join("r1");
    ok(cairn(&repo).args(["restore", &first, "--target"]).arg(&target));
    cairn::sample::compare_trees(&snapshot, &target.join("data")).unwrap();
    // The next backup succeeds and restores.
    let next = backup(&repo, &[&src]);
    restore_and_compare(&repo, &next, &src, tmp.path());
    ok(cairn(&repo).arg("check").arg("--read-data"));
}

#[test]
fn killed_while_writing_a_pack() {
    crash_at(Some("put-partial:3"), None);
}

#[test]
fn killed_after_some_packs() {
    crash_at(Some("pack-written:2"), None);
}

#[test]
fn killed_before_the_index() {
    crash_at(Some("before-index"), None);
}

#[test]
fn killed_before_the_snapshot() {
    crash_at(Some("before-snapshot"), None);
}

#[test]
fn killed_at_arbitrary_times() {
    for ms in [5, 30, 80] {
        crash_at(None, Some(Duration::from_millis(ms)));
    }
}
