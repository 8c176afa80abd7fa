//! Crashes at every write of backup, forget, prune and repair, through the
//! crash-simulating backend (tests/common/crash_backend.rs): only writes
//! that returned survive, the one in flight lands or not. After each, the
//! repository opens, every snapshot restores byte-exact, `check
//! --read-data` finds no error (notes about unreferenced leftovers only),
//! and the next prune leaves it clean.

mod common;
use cairn::backend::Backend;
use cairn::repo::Repository;
use common::crash_backend::{memory, objects, CrashBackend};
use common::state;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

type Objects = BTreeMap<String, Vec<u8>>;

fn open(b: Arc<dyn Backend>) -> Repository {
    Repository::open(b, None).expect("the repository opens after the crash")
}

fn at(h: u64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_800_000_000 + h as i64 * 3600).unwrap()
}

struct World {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    data: PathBuf,
    /// Snapshot id → the hour of the data it holds.
    hours: HashMap<String, u64>,
    /// The hour a backup under way is taking: a snapshot whose write
    /// landed while its caller crashed holds it.
    pending: Option<u64>,
    digests: HashMap<u64, BTreeMap<PathBuf, (u64, String)>>,
}

impl World {
    fn digest_of(&mut self, h: u64) -> BTreeMap<PathBuf, (u64, String)> {
        let dir = self.dir.join(format!("expect-{h}"));
        self.digests
            .entry(h)
            .or_insert_with(|| {
                state(&dir, h);
                common::digest(&dir)
            })
            .clone()
    }

    fn backup(&mut self, repo: &mut Repository, h: u64) -> cairn::Result<String> {
        state(&self.data, h);
        self.pending = Some(h);
        let opts = cairn::ops::backup::BackupOptions {
            sources: vec![cairn::source::SourceSpec::path(&self.data)],
            time: Some(at(h)),
            ..Default::default()
        };
        let r = cairn::ops::backup::backup(repo, &opts)?;
        self.hours.insert(r.id.to_hex(), h);
        repo.load_index()?;
        Ok(r.id.to_hex())
    }

    /// The repository in `objects` is whole: it opens, every snapshot in it
    /// restores to the data it was taken of, and check finds no error.
    fn assert_whole(&mut self, objects: &Objects, what: &str) {
        let repo = open(Arc::new(memory(objects)));
        for (id, snap) in repo.list_snapshots().unwrap() {
            let h = self.hours.get(&id.to_hex()).copied().or(self.pending);
            let h = h.unwrap_or_else(|| panic!("{what}: unknown snapshot {id}"));
            let target = self.dir.join(format!("restore-{}", cairn::Id::random().short()));
            let opts = cairn::ops::restore::RestoreOptions { target: target.clone(), ..Default::default() };
            cairn::ops::restore::restore(&repo, &snap, &opts)
                .map(|_| ())
                .unwrap_or_else(|e| panic!("{what}: snapshot {id}: {e}"));
            assert_eq!(common::digest(&target.join("data")), self.digest_of(h), "{what}: snapshot {id} differs");
            std::fs::remove_dir_all(&target).unwrap();
        }
        let rep = cairn::ops::check::check(&repo, true).unwrap();
        assert!(rep.errors.is_empty(), "{what}: check: {:?}", rep.errors);
    }
}

fn config() -> cairn::repo::config::Config {
    let chunker = cairn::chunker::ChunkerParams { min: 4096, avg: 16384, max: 65536 };
    cairn::repo::config::Config::new(chunker, 3, 64 << 10).unwrap()
}

/// Three snapshots (hours 5, 100, 101), the first forgotten: garbage to
/// prune, sparse packs to repack.
fn world() -> (World, Objects) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let mut w =
        World { data: dir.join("data"), dir, _tmp: tmp, hours: HashMap::new(), pending: None, digests: HashMap::new() };
    let mem = Arc::new(cairn::backend::memory::MemoryBackend::new());
    let mut repo = Repository::init(mem.clone(), config(), None).unwrap();
    let first = w.backup(&mut repo, 5).unwrap();
    w.backup(&mut repo, 100).unwrap();
    w.backup(&mut repo, 101).unwrap();
    mem.delete(&format!("snapshots/{first}")).unwrap();
    w.pending = None;
    (w, objects(&*mem))
}

fn forget(repo: &Repository) -> cairn::Result<()> {
    let policy = cairn::retention::Policy { last: 1, ..Default::default() };
    let groups = cairn::ops::forget::plan(repo, &policy, Default::default(), &jiff::tz::TimeZone::UTC)?;
    cairn::ops::forget::execute(repo, &groups).map(|_| ())
}

fn prune(repo: &Repository, grace_secs: u64) -> cairn::Result<()> {
    let opts = cairn::ops::prune::PruneOptions { max_unused: 0.0, grace: std::time::Duration::from_secs(grace_secs) };
    let plan = cairn::ops::prune::plan(repo, &opts)?;
    cairn::ops::prune::run(repo, &plan).map(|_| ())
}

/// Run `step` crashing at each of its writes in turn, with the write in
/// flight lost and landed; check the survivors each time, then that the
/// next prune (and `after`, e.g. the repair again) leaves them clean.
fn every_crash(
    w: &mut World,
    base: &Objects,
    name: &str,
    step: &mut dyn FnMut(&mut World, &mut Repository) -> cairn::Result<()>,
    check_survivors: bool,
) {
    let counter = Arc::new(CrashBackend::counting(base.clone()));
    step(w, &mut open(counter.clone())).unwrap_or_else(|e| panic!("{name} fails without a crash: {e}"));
    let writes = counter.writes();
    assert!(writes > 0, "{name} wrote nothing");
    let mut crashes = 0;
    for k in 0..writes {
        for land in [false, true] {
            let what = format!("{name} crashed at write {k} of {writes} (landed: {land})");
            let b = Arc::new(CrashBackend::new(base.clone(), k, land));
            let _ = step(w, &mut open(b.clone()));
            // Blobs reach the packer in the order sealing threads finish, so
            // pack boundaries, and the count of writes, can differ by one
            // from the counting run: then the step simply finished.
            crashes += b.crashed() as usize;
            let survivors = b.survivors();
            if check_survivors {
                w.assert_whole(&survivors, &what);
            }
            // The next prune (after the step once more) finishes the job.
            let mem = Arc::new(memory(&survivors));
            let mut repo = open(mem.clone());
            step(w, &mut repo).unwrap_or_else(|e| panic!("{what}: running {name} again: {e}"));
            prune(&open(mem.clone()), 0).unwrap_or_else(|e| panic!("{what}: the next prune: {e}"));
            w.assert_whole(&objects(&*mem), &format!("{what}, then {name} and prune again"));
        }
    }
    assert!(crashes + 2 >= 2 * writes, "{name}: only {crashes} of {} crash points were reached", 2 * writes);
    eprintln!("{name}: crashed at {crashes} of {} points ({writes} writes, in flight lost or landed)", 2 * writes);
}

#[test]
fn crash_at_every_write_of_backup_forget_prune_and_repair() {
    let (mut w, base) = world();
    every_crash(&mut w, &base, "backup", &mut |w, repo| w.backup(repo, 140).map(|_| ()), true);
    every_crash(&mut w, &base, "forget", &mut |_, repo| forget(repo), true);
    every_crash(&mut w, &base, "prune (mark only)", &mut |_, repo| prune(repo, 86400), true);
    every_crash(&mut w, &base, "prune (repack and delete)", &mut |_, repo| prune(repo, 0), true);
    // Repair, after an index file was lost: the survivors may still lack
    // the lost file's entries (no worse than before); the repair run again
    // makes the repository whole.
    let mut broken = base.clone();
    let lost = broken.keys().find(|k| k.starts_with("index/")).unwrap().clone();
    broken.remove(&lost);
    let repair = &mut |_: &mut World, repo: &mut Repository| {
        cairn::ops::repair::repair_index(repo, &Default::default()).map(|_| ())
    };
    every_crash(&mut w, &broken, "repair index", repair, false);
}

#[test]
fn the_simulation_catches_a_wrong_write_order() {
    // A commit that writes the snapshot before the index it needs: crashing
    // between the two leaves a snapshot whose blobs are in no index, which
    // the checks above must call out.
    let (mut w, base) = world();
    let b = Arc::new(CrashBackend::new(base.clone(), 1, false));
    let repo = open(b.clone());
    let snap = repo.list_snapshots().unwrap().pop().unwrap().1;
    let mut moved = snap.clone();
    moved.time_ns += 1;
    let id = repo.save_snapshot(&moved).unwrap(); // write 0: the snapshot first
    w.hours.insert(id.to_hex(), 101);
    let _ = b.put("index/wrong-order", b"never written"); // write 1: crashes
    let mut survivors = b.survivors();
    // Take the index that snapshot's blobs are listed in away, as if it
    // had been the one written second.
    let needed: Vec<String> = survivors.keys().filter(|k| k.starts_with("index/")).cloned().collect();
    for k in needed {
        survivors.remove(&k);
    }
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.assert_whole(&survivors, "wrong order")));
    assert!(caught.is_err(), "a snapshot without its index passed the checks");
}
