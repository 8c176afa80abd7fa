//! `mount`: the repository as a read-only file system (FUSE, through
//! `fuser`, which needs no libfuse: it mounts with `fusermount3`).
//!
//! ```text
//! DIR/ids/<short id>/…                 every snapshot by id
//! DIR/snapshots/<local time>/…         by time (`2026-12-03T09:00:00`)
//! DIR/tags/<tag>/<local time>/…        by tag
//! DIR/hosts/<host>/<local time>/…      by host
//! ```
//!
//! Below a snapshot are its files as stored; a database or Redis node is
//! a file and a Chroma node a directory, holding what the kind's restore
//! writes (verified), restored on first lookup into a private temporary
//! directory that goes with the mount. Inodes are made as directories are
//! listed; a place reached by two paths gets two inodes (the kernel does
//! not allow directory hard links). Nothing here writes to the repository.

mod fs;

use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::snapshot::Snapshot;
use crate::repo::Repository;
use std::collections::BTreeMap;
use std::path::Path;

/// Snapshots by their name in one folder: id and time.
pub(crate) type Named = BTreeMap<String, (Id, i64)>;

/// What the synthetic top of the tree shows: per folder (`ids`, `tags`),
/// its groups (a tag; one unnamed group in `ids`) of named snapshots.
pub(crate) struct Layout {
    pub folders: Vec<(String, Vec<(String, Named)>)>,
}

/// A snapshot's name by time, unique in its folder (`-2`, `-3` after it).
fn time_name(ns: i64, taken: &Named) -> String {
    let base = jiff::Timestamp::from_nanosecond(ns as i128)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_else(|_| ns.to_string());
    (1..).map(|i| if i == 1 { base.clone() } else { format!("{base}-{i}") }).find(|n| !taken.contains_key(n)).unwrap()
}

fn layout(snaps: &[(Id, Snapshot)]) -> Layout {
    let mut ids = BTreeMap::new();
    let mut times = BTreeMap::new();
    let mut tags: BTreeMap<String, Named> = BTreeMap::new();
    let mut hosts: BTreeMap<String, Named> = BTreeMap::new();
    for (id, s) in snaps {
        let v = (*id, s.time_ns);
        ids.insert(id.short(), v);
        times.insert(time_name(s.time_ns, &times), v);
        for t in s.tags.iter().filter(|t| !t.is_empty() && !t.contains('/')) {
            let m = tags.entry(t.clone()).or_default();
            m.insert(time_name(s.time_ns, m), v);
        }
        if !s.hostname.is_empty() && !s.hostname.contains('/') {
            let m = hosts.entry(s.hostname.clone()).or_default();
            m.insert(time_name(s.time_ns, m), v);
        }
    }
    Layout {
        folders: vec![
            ("ids".into(), vec![(String::new(), ids)]),
            ("snapshots".into(), vec![(String::new(), times)]),
            ("tags".into(), tags.into_iter().collect()),
            ("hosts".into(), hosts.into_iter().collect()),
        ],
    }
}

/// Mount `repo` read-only at `dir` (an empty directory) and serve it until
/// `stop` says so or the file system is unmounted (`fusermount3 -u DIR`);
/// `ready` is called once it is mounted.
pub fn mount(repo: Repository, dir: &Path, stop: &dyn Fn() -> bool, ready: &dyn Fn()) -> Result<()> {
    match std::fs::read_dir(dir).map(|mut rd| rd.next().is_none()) {
        Ok(true) => {}
        Ok(false) => {
            return Err(Error::InvalidArgument(format!(
                "mount {}: the mount point is not empty; give an empty directory",
                dir.display()
            )))
        }
        Err(e) => {
            return Err(Error::InvalidArgument(format!(
                "mount {}: not a directory ({e}); create an empty one",
                dir.display()
            )))
        }
    }
    if !Path::new("/dev/fuse").exists() {
        return Err(Error::InvalidArgument(
            "mount: /dev/fuse is missing: load the fuse module (modprobe fuse) or run where FUSE is available".into(),
        ));
    }
    let snaps = repo.list_snapshots()?;
    let fs = fs::Fs::new(repo, layout(&snaps))?;
    let options = [
        fuser::MountOption::RO,
        fuser::MountOption::FSName("cairn".into()),
        fuser::MountOption::Subtype("cairn".into()),
    ];
    let session = fuser::spawn_mount2(fs, dir, &options).map_err(|e| {
        Error::InvalidArgument(format!(
            "mount {}: FUSE refused ({e}); install fuse3 (its fusermount3) and check /dev/fuse",
            dir.display()
        ))
    })?;
    ready();
    while !stop() && !session.guard.is_finished() {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Dropping the session unmounts (if still mounted) and ends it.
    drop(session);
    Ok(())
}
