//! `mount`: the repository through the kernel's FUSE, as a user browses
//! it: snapshots by id, time, tag and host; a file and a SQLite database
//! read byte-exact; read-only; Ctrl-C unmounts. Needs /dev/fuse and
//! fusermount3 (`./scripts/test` installs fuse3).

mod common;
use common::*;
use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn mounted(repo: &Path, at: &Path) -> Child {
    assert!(
        Path::new("/usr/bin/fusermount3").exists() || Path::new("/bin/fusermount3").exists(),
        "fusermount3 is missing: run ./scripts/test (it installs fuse3)"
    );
    let child = cairn(repo).arg("mount").arg(at).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while !at.join("ids").exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "the mount never appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// SIGINT, then wait: the mount must be gone and the process ended cleanly.
fn stop(mut child: Child, at: &Path) {
    // SAFETY: a plain syscall on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(status.success(), "mount ended with {status:?}");
    assert!(fs::read_dir(at).unwrap().next().is_none(), "still mounted after Ctrl-C");
}

#[test]
fn mount_lists_snapshots_and_reads_files_and_databases_byte_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data, db, at) =
        (tmp.path().join("repo"), tmp.path().join("data"), tmp.path().join("app.db"), tmp.path().join("mnt"));
    init_small(&repo);
    fs::create_dir_all(data.join("scripts")).unwrap();
    let mut big = vec![0u8; 3 << 20];
    cairn::sample::Rng::new(9).fill(&mut big);
    fs::write(data.join("scripts/big.bin"), &big).unwrap();
    fs::write(data.join("scripts/ep01.txt"), "INT. ROOM - DAY").unwrap();
    std::os::unix::fs::symlink("ep01.txt", data.join("scripts/latest.txt")).unwrap();
    appdb::make_app_db(&db, 800);
    let c = rusqlite::Connection::open(&db).unwrap();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    drop(c);
    let image = fs::read(&db).unwrap();
    ok(cairn(&repo)
        .args(["backup", "--tag", "nightly", "--host", "web1"])
        .arg(&data)
        .arg(format!("sqlite:{}", db.display())));
    fs::write(data.join("scripts/ep02.txt"), "EXT. STREET").unwrap();
    ok(cairn(&repo).args(["backup", "--host", "web1"]).arg(&data));
    let snaps = snapshots(&repo);
    let first = snaps[0]["short_id"].as_str().unwrap()[..8].to_string();

    fs::create_dir(&at).unwrap();
    let child = mounted(&repo, &at);
    let names = |p: &Path| {
        let mut v: Vec<String> =
            fs::read_dir(p).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        v.sort();
        v
    };
    assert_eq!(names(&at), ["hosts", "ids", "snapshots", "tags"]);
    assert_eq!(names(&at.join("ids")).len(), 2);
    assert_eq!(names(&at.join("snapshots")).len(), 2);
    assert_eq!(names(&at.join("tags")), ["nightly"]);
    assert_eq!(names(&at.join("hosts/web1")).len(), 2);
    let snap = at.join("ids").join(&first);
    assert_eq!(names(&snap), ["app.db", "data"]);
    assert_eq!(fs::read(snap.join("data/scripts/big.bin")).unwrap(), big, "a file differs through the mount");
    assert_eq!(fs::read_link(snap.join("data/scripts/latest.txt")).unwrap(), Path::new("ep01.txt"));
    assert_eq!(fs::read_to_string(snap.join("data/scripts/latest.txt")).unwrap(), "INT. ROOM - DAY");
    let via_tag = at.join("tags/nightly").join(&names(&at.join("tags/nightly"))[0]);
    assert_eq!(fs::read(via_tag.join("app.db")).unwrap(), image, "the database differs through the mount");
    let newest = at.join("snapshots").join(names(&at.join("snapshots")).last().unwrap());
    assert!(newest.join("data/scripts/ep02.txt").exists() && !snap.join("data/scripts/ep02.txt").exists());
    // Read-only.
    assert!(fs::write(snap.join("data/new"), "x").is_err());
    assert!(fs::OpenOptions::new().write(true).open(snap.join("data/scripts/ep01.txt")).is_err());
    stop(child, &at);

    // A mount point that is not an empty directory: one line, nothing mounted.
    fs::write(at.join("occupied"), "x").unwrap();
    let (code, err) = fails(cairn(&repo).arg("mount").arg(&at));
    assert_eq!(code, 1);
    one_line(&err);
    assert!(err.contains("not empty"), "{err}");
    let (_, err) = fails(cairn(&repo).arg("mount").arg(tmp.path().join("missing")));
    one_line(&err);
}
