//! The repository: the config, the index, snapshots and blob reads, over a
//! backend. Write ordering lives in `backup.rs` and `store.rs`; this module
//! owns the object names and their decoding.

pub mod config;
pub mod dicts;
pub mod drills;
pub mod keys;
pub mod marks;
pub mod policies;

use crate::backend::local::LocalBackend;
use crate::backend::{Backend, BackendError, ObjectInfo};
use crate::error::{Error, FormatError, Result};
use crate::format::id::Id;
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, Tree};
use crate::format::*;
use crate::pack::frame::Opener;
use crate::pack::index::{IndexFile, IndexPack, Location, MasterIndex};
use crate::pack::pack_key;
use crate::repo::config::{Config, Encryption};
use crate::seal::crypto::{Cipher, KdfParams, MasterKey};
use crate::seal::Sealer;
use rayon::prelude::*;
use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

/// Re-listings of `index/` while reading it before giving up: each one
/// follows a prune that retired files between a listing and a read.
const MAX_RELIST: usize = 8;

/// An index read from the repository, with what it was read from.
#[derive(Default)]
pub struct IndexLoad {
    pub index: MasterIndex,
    /// Keys of the index files it holds: exactly what prune may retire.
    pub keys: Vec<String>,
    /// Index files skipped as unreadable, one line each, and their keys.
    pub problems: Vec<String>,
    pub damaged_keys: Vec<String>,
    /// Packs marked for deletion when it was read.
    pub marked: HashSet<Id>,
}

impl IndexLoad {
    fn problem(&mut self, key: &str, why: String) {
        // Decoding errors already name the object.
        let why = why.strip_prefix(&format!("{key}: ")).map(str::to_string).unwrap_or(why);
        self.problems.push(format!("index file {key} is unreadable: {why}"));
        self.damaged_keys.push(key.to_string());
    }
}

pub struct Repository {
    backend: Arc<dyn Backend>,
    pub config: Config,
    sealer: Sealer,
    index: MasterIndex,
    /// Index files skipped when `index` was loaded.
    index_problems: Vec<String>,
    /// A second look at the index, read once when a pack the first named has
    /// gone (a prune repacked it meanwhile), so long reads carry on.
    fresh_index: std::sync::OnceLock<Result<MasterIndex, String>>,
    /// Packs prune has marked for deletion: backups do not deduplicate
    /// against them (format-spec/prune.md).
    marked: HashSet<Id>,
    /// The key file that unlocked an encrypted repository.
    key_id: Option<String>,
    /// Told the progress of whatever operation runs through this handle.
    progress: Arc<dyn crate::progress::Progress>,
    /// Set to ask that operation to stop.
    cancel: crate::progress::Cancel,
}

/// Supplies the password of an encrypted repository, asked only if needed.
pub type PasswordSource<'a> = &'a dyn Fn() -> Result<String>;

/// The first key of a new encrypted repository.
pub struct NewKey {
    pub password: String,
    pub params: KdfParams,
    pub cipher: Cipher,
    /// Hash ids with this key (another repository's, for `copy`); a new
    /// random one when absent.
    pub id_key: Option<[u8; 32]>,
}

impl Repository {
    fn new(backend: Arc<dyn Backend>, config: Config, sealer: Sealer, key_id: Option<String>) -> Self {
        Repository {
            backend,
            config,
            sealer,
            index: MasterIndex::new(),
            index_problems: vec![],
            fresh_index: Default::default(),
            marked: Default::default(),
            key_id,
            progress: Arc::new(crate::progress::Silent),
            cancel: Default::default(),
        }
    }

    /// Create a repository in an empty or missing local directory.
    pub fn init_local(path: &Path, config: Config, key: Option<NewKey>) -> Result<Self> {
        Self::check_can_init(path)?;
        Self::init(Arc::new(LocalBackend::new(path)), config, key)
    }

    /// Refuse a directory that already holds files (checked before asking
    /// for a new password).
    pub fn check_can_init(path: &Path) -> Result<()> {
        if path.exists() {
            let non_empty = std::fs::read_dir(path)
                .map_err(|e| Error::Backend(BackendError::io(&path.display().to_string(), e)))?
                .next()
                .is_some();
            if non_empty {
                return Err(Error::AlreadyExists { path: path.display().to_string() });
            }
        }
        Ok(())
    }

    /// Write the key file (if encrypted), then the config, of a new
    /// repository; refuses if a config exists. The config comes last because
    /// its presence is what makes the directory a repository.
    pub fn init(backend: Arc<dyn Backend>, mut config: Config, key: Option<NewKey>) -> Result<Self> {
        check_constants();
        match backend.get(KEY_CONFIG) {
            Ok(_) => return Err(Error::AlreadyExists { path: backend.location() }),
            Err(BackendError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let (master, key_id) = match key {
            Some(k) => {
                config.encryption = Encryption::from_cipher(Some(k.cipher));
                let mut master = MasterKey::random();
                if let Some(id) = k.id_key {
                    master.id = id;
                }
                let master = Arc::new(master);
                let id = crate::repo::keys::write_key(&*backend, &master, &k.password, k.params)?;
                (Some(master), Some(id))
            }
            None => (None, None),
        };
        let sealer = config.sealer(master);
        // Created only if absent (format-spec/backends.md): of two inits
        // racing on one location, exactly one makes the repository.
        // The loser takes its key file back, which no config matches.
        if !backend.put_new(KEY_CONFIG, &config.encode(&sealer))? {
            if let Some(id) = &key_id {
                backend.delete(&format!("{PREFIX_KEYS}{id}"))?;
            }
            return Err(Error::AlreadyExists { path: backend.location() });
        }
        Ok(Repository::new(backend, config, sealer, key_id))
    }

    /// Open a plaintext repository, or an encrypted one with `password`.
    pub fn open_local(path: &Path, password: Option<PasswordSource>) -> Result<Self> {
        Self::open(Arc::new(LocalBackend::new(path)), password)
    }

    /// Open a repository and load its index.
    pub fn open(backend: Arc<dyn Backend>, password: Option<PasswordSource>) -> Result<Self> {
        let mut repo = Self::open_without_index(backend, password)?;
        repo.load_index()?;
        Ok(repo)
    }

    /// Open a repository reading only its config (and unlocking it).
    pub fn open_without_index(backend: Arc<dyn Backend>, password: Option<PasswordSource>) -> Result<Self> {
        let bytes = match backend.get(KEY_CONFIG) {
            Ok(b) => b,
            Err(BackendError::NotFound { .. }) => return Err(Error::NotARepository { path: backend.location() }),
            Err(e) => return Err(e.into()),
        };
        // Told apart before anything else, so another tool's repository
        // (restic's also has config, keys/ and data/) is not met with a
        // password prompt and a "wrong password".
        if !bytes.starts_with(CONFIG_MAGIC) {
            return Err(Error::NotCairn { path: backend.location() });
        }
        // Key files make a repository encrypted: its config is then opened
        // only with the key, so a substituted plaintext config fails
        // authentication instead of letting plaintext be written.
        let (config, sealer, key_id) = if backend.list(PREFIX_KEYS)?.is_empty() {
            let config = match Config::decode(&bytes, None) {
                Err(Error::Format { source: FormatError::NeedKey, .. }) => return Err(Error::NoKeys),
                other => other?,
            };
            let sealer = config.sealer(None);
            (config, sealer, None)
        } else {
            let password = password.ok_or(Error::PasswordRequired)?()?;
            let (master, key_id) = crate::repo::keys::unlock(&*backend, password.as_bytes())?;
            let config = Config::decode(&bytes, Some(master.clone()))?;
            let sealer = config.sealer(Some(master));
            (config, sealer, Some(key_id))
        };
        let repo = Repository::new(backend, config, sealer, key_id);
        // Blobs compressed with a dictionary name it; every reader needs them.
        dicts::load_all(&repo)?;
        Ok(repo)
    }

    /// The sealing step of this repository (encrypting if it is encrypted).
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// The key file that unlocked this repository, if encrypted.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// Report the progress of operations through this handle to `p`.
    pub fn set_progress(&mut self, p: Arc<dyn crate::progress::Progress>) {
        self.progress = p;
    }

    pub fn progress(&self) -> &dyn crate::progress::Progress {
        &*self.progress
    }

    /// Operations through this handle stop when `c` is set.
    pub fn set_cancel(&mut self, c: crate::progress::Cancel) {
        self.cancel = c;
    }

    /// `Err(Interrupted)` once a stop was asked for: long loops call this
    /// between units of work.
    pub fn check_cancel(&self) -> Result<()> {
        match self.cancel.is_set() {
            true => Err(Error::Interrupted),
            false => Ok(()),
        }
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.is_set()
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    pub fn index(&self) -> &MasterIndex {
        &self.index
    }

    /// Read and decode one index file.
    pub fn read_index_file(&self, key: &str) -> Result<IndexFile> {
        let sealed = self.backend.get(key)?;
        let raw = self.sealer.unseal(ObjectKind::Index, &sealed).map_err(|e| Error::format(key, e))?;
        IndexFile::decode(&raw).map_err(|e| Error::format(key, e))
    }

    /// Read every index file into a new in-memory index (finalized against
    /// the current deletion marks). An index file that is damaged is
    /// skipped and named in `problems` (its packs then count as unindexed
    /// until `cairn repair index`); one that disappears between listing and
    /// reading was retired by a prune, which wrote its replacement first, so
    /// the index is listed again and the new files are read.
    /// A few files are decoded at a time, so peak memory stays close to the
    /// 48 bytes per entry of the final index.
    pub fn read_index(&self) -> Result<IndexLoad> {
        let mut load = IndexLoad::default();
        let mut seen: HashSet<String> = HashSet::new();
        let mut reserved = false;
        for round in 0.. {
            let listed: Vec<ObjectInfo> =
                self.backend.list(PREFIX_INDEX)?.into_iter().filter(|o| !seen.contains(&o.key)).collect();
            if round == 0 {
                crate::failpoint::pause("index-listed");
            }
            if listed.is_empty() {
                break;
            }
            if round == MAX_RELIST {
                return Err(Error::InvalidArgument(
                    "the index kept changing while it was read (many prunes at once?): run the command again".into(),
                ));
            }
            if !reserved {
                // Each entry takes at least 32 stored bytes (its id does not
                // compress), so this bounds the number of entries from above.
                load.index.reserve(listed.iter().map(|o| o.size as usize).sum::<usize>() / 32);
                reserved = true;
            }
            let mut vanished = false;
            for group in listed.chunks(rayon::current_num_threads().max(1)) {
                let files: Vec<Result<IndexFile>> = group.par_iter().map(|o| self.read_index_file(&o.key)).collect();
                for (o, f) in group.iter().zip(files) {
                    seen.insert(o.key.clone());
                    match f.map(|f| load.index.add(&f)) {
                        Ok(Ok(())) => load.keys.push(o.key.clone()),
                        Ok(Err(why)) => load.problem(&o.key, why),
                        Err(Error::Backend(BackendError::NotFound { .. })) => vanished = true,
                        Err(e) => load.problem(&o.key, e.to_string()),
                    }
                }
            }
            if !vanished {
                break;
            }
        }
        // Of a blob stored twice (a repack, or two concurrent backups) use
        // the copy that prune has not marked for deletion.
        load.marked = crate::repo::marks::load_marks(self)?.1.into_keys().collect();
        load.index.finalize_avoiding(&load.marked);
        crate::failpoint::pause("index-loaded");
        Ok(load)
    }

    /// Load the index for this repository's own lookups (backup, restore).
    pub fn load_index(&mut self) -> Result<()> {
        let load = self.read_index()?;
        self.index = load.index;
        self.marked = load.marked;
        self.index_problems = load.problems;
        Ok(())
    }

    /// Index files that could not be read when the index was loaded.
    pub fn index_problems(&self) -> &[String] {
        &self.index_problems
    }

    /// Packs marked for deletion when the index was loaded.
    pub fn marked_packs(&self) -> &HashSet<Id> {
        &self.marked
    }

    /// Write index files for packs that are already durable, each holding
    /// at most `MAX_INDEX_BLOBS` blobs so that loading one never needs much
    /// memory beyond the index itself. Returns the keys written.
    /// On error, the files already written are deleted again.
    pub fn save_index(&self, packs: impl IntoIterator<Item = IndexPack>) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let result = self.save_index_files(packs, &mut keys);
        if result.is_err() {
            for k in &keys {
                let _ = self.backend.delete(k);
            }
        }
        result.map(|()| keys)
    }

    /// Packs are consumed one by one, so a caller can stream them.
    fn save_index_files(&self, packs: impl IntoIterator<Item = IndexPack>, keys: &mut Vec<String>) -> Result<()> {
        let mut batch: Vec<IndexPack> = Vec::new();
        let mut blobs = 0;
        for p in packs {
            if blobs + p.blobs.len() > MAX_INDEX_BLOBS && !batch.is_empty() {
                keys.push(self.save_index_file(std::mem::take(&mut batch))?);
                blobs = 0;
            }
            blobs += p.blobs.len();
            batch.push(p);
        }
        if !batch.is_empty() {
            keys.push(self.save_index_file(batch)?);
        }
        Ok(())
    }

    fn save_index_file(&self, packs: Vec<IndexPack>) -> Result<String> {
        let raw = IndexFile { packs }.encode();
        let sealed = self.sealer.seal(ObjectKind::Index, &raw);
        let key = format!("{PREFIX_INDEX}{}", Id::hash(&sealed));
        self.put_reporting_full(&key, &sealed)?;
        Ok(key)
    }

    fn put_reporting_full(&self, key: &str, data: &[u8]) -> Result<()> {
        self.backend.put(key, data).map_err(|e| {
            if e.is_storage_full() {
                Error::DiskFull { key: key.to_string() }
            } else {
                e.into()
            }
        })
    }

    /// Every pack in the backend, with its size in bytes.
    pub fn pack_sizes(&self) -> Result<std::collections::HashMap<Id, u64>> {
        Ok(self
            .backend
            .list(PREFIX_DATA)?
            .into_iter()
            .filter_map(|o| crate::pack::pack_id_from_key(&o.key).map(|id| (id, o.size)))
            .collect())
    }

    /// Seal `raw` as `kind` and store it under `key`.
    pub fn put_sealed(&self, key: &str, kind: ObjectKind, raw: &[u8]) -> Result<()> {
        self.put_reporting_full(key, &self.sealer.seal(kind, raw))
    }

    /// Read and open the object `key`, which must be a `kind`.
    pub fn get_sealed(&self, key: &str, kind: ObjectKind) -> Result<Vec<u8>> {
        let sealed = self.backend.get(key)?;
        self.sealer.unseal(kind, &sealed).map_err(|e| Error::format(key, e))
    }

    /// Where a blob is stored, if indexed (looking at a fresh copy of the
    /// index if the loaded one does not have it: see `read_blob`).
    pub fn locate(&self, id: &Id) -> Option<Location> {
        self.index.lookup(id).or_else(|| self.fresh_index()?.lookup(id))
    }

    /// Read one blob and check that it hashes to its id. A blob the loaded
    /// index lacks (a snapshot committed after it was loaded), or whose pack
    /// has gone (a concurrent prune repacked it and deleted the old pack
    /// after its grace period), is looked up once more in a freshly read
    /// index before the read fails.
    pub fn read_blob(&self, id: &Id) -> Result<Vec<u8>> {
        match self.read_blob_with(&self.index, id) {
            Err(e) if is_gone(&e) => match self.fresh_index() {
                Some(fresh) if fresh.lookup(id).is_some() && fresh.lookup(id) != self.index.lookup(id) => {
                    self.read_blob_with(fresh, id)
                }
                _ => Err(e),
            },
            r => r,
        }
    }

    fn fresh_index(&self) -> Option<&MasterIndex> {
        self.fresh_index.get_or_init(|| self.read_index().map(|l| l.index).map_err(|e| e.to_string())).as_ref().ok()
    }

    /// Read one blob located through `index` (used by `check`, which builds
    /// its own index and tolerates unreadable index files).
    pub fn read_blob_with(&self, index: &MasterIndex, id: &Id) -> Result<Vec<u8>> {
        let loc = index.lookup(id).ok_or_else(|| Error::BlobNotIndexed { kind: "data or tree", id: id.to_hex() })?;
        let key = pack_key(&loc.pack);
        let (offset, length) = (loc.offset as u64, loc.length as u64);
        let read = match loc.kind.is_metadata() {
            true => self.backend.get_range_meta(&key, offset, length),
            false => self.backend.get_range(&key, offset, length),
        };
        let sealed = match read {
            Err(BackendError::NotFound { .. }) => {
                let what = format!("{} blob {id} in pack {key}", loc.kind.name());
                return Err(Error::format(what, FormatError::Missing("the pack does not exist".into())));
            }
            other => other?,
        };
        self.open_located(id, &loc, &sealed)
    }

    /// Open the sealed bytes of blob `id` read from `loc`, checking its
    /// kind, authenticity and hash.
    pub fn open_located(&self, id: &Id, loc: &Location, sealed: &[u8]) -> Result<Vec<u8>> {
        self.open_located_with(&mut self.opener(), id, loc, sealed)
    }

    /// `open_located` for one of many blobs read in a row, through one
    /// opener (which opens a frame once for all its members).
    pub fn open_located_with(&self, o: &mut Opener, id: &Id, loc: &Location, sealed: &[u8]) -> Result<Vec<u8>> {
        o.open(&loc.entry(*id), sealed)
            .map_err(|e| Error::format(format!("{} blob {id} in pack {}", loc.kind.name(), pack_key(&loc.pack)), e))
    }

    /// An opener of this repository's sealed pack entries.
    pub fn opener(&self) -> Opener<'_> {
        Opener::new(&self.sealer)
    }

    /// All entries of a directory stored as `ids`.
    /// Names stay in strictly increasing order across the blobs too, so a
    /// directory never holds a name twice.
    pub fn load_tree(&self, ids: &[Id]) -> Result<Vec<Node>> {
        let mut nodes: Vec<Node> = Vec::new();
        for id in ids {
            let tree = self.read_tree_blob(id)?;
            crate::format::tree::check_order(nodes.last().map(|n| n.name.as_slice()), &tree.nodes)
                .map_err(|e| Error::format(format!("tree {id}"), FormatError::Invalid(e)))?;
            nodes.extend(tree.nodes);
        }
        Ok(nodes)
    }

    pub fn read_tree_blob(&self, id: &Id) -> Result<Tree> {
        Tree::decode(&self.read_blob(id)?).map_err(|e| Error::format(format!("tree {id}"), e))
    }

    pub fn read_tree_blob_with(&self, index: &MasterIndex, id: &Id) -> Result<Tree> {
        Tree::decode(&self.read_blob_with(index, id)?).map_err(|e| Error::format(format!("tree {id}"), e))
    }

    /// Commit a snapshot: call only once its packs and index are durable.
    pub fn save_snapshot(&self, snap: &Snapshot) -> Result<Id> {
        let raw = snap.encode();
        let id = self.sealer.id(&raw);
        let sealed = self.sealer.seal(ObjectKind::Snapshot, &raw);
        self.put_reporting_full(&format!("{PREFIX_SNAPSHOTS}{id}"), &sealed)?;
        Ok(id)
    }

    pub fn load_snapshot(&self, id: &Id) -> Result<Snapshot> {
        let key = format!("{PREFIX_SNAPSHOTS}{id}");
        let sealed = self.backend.get(&key)?;
        let raw = self.sealer.unseal(ObjectKind::Snapshot, &sealed).map_err(|e| Error::format(&key, e))?;
        let got = self.sealer.id(&raw);
        if got != *id {
            return Err(Error::format(&key, FormatError::HashMismatch { want: id.to_hex(), got: got.to_hex() }));
        }
        Snapshot::decode(&raw).map_err(|e| Error::format(&key, e))
    }

    pub fn snapshot_ids(&self) -> Result<Vec<Id>> {
        Ok(self
            .backend
            .list(PREFIX_SNAPSHOTS)?
            .iter()
            .filter_map(|o| o.key.strip_prefix(PREFIX_SNAPSHOTS).and_then(Id::parse))
            .collect())
    }

    /// Every snapshot, oldest first. One that disappears between listing
    /// and reading was forgotten meanwhile and is left out.
    pub fn list_snapshots(&self) -> Result<Vec<(Id, Snapshot)>> {
        let ids = self.snapshot_ids()?;
        crate::failpoint::pause("snapshots-listed");
        let loaded: Vec<Option<(Id, Snapshot)>> = ids
            .par_iter()
            .map(|id| match self.load_snapshot(id) {
                Ok(s) => Ok(Some((*id, s))),
                Err(Error::Backend(BackendError::NotFound { .. })) => Ok(None),
                Err(e) => Err(e),
            })
            .collect::<Result<_>>()?;
        let mut v: Vec<(Id, Snapshot)> = loaded.into_iter().flatten().collect();
        v.sort_by(|a, b| a.1.time_ns.cmp(&b.1.time_ns).then(a.0.cmp(&b.0)));
        Ok(v)
    }

    /// Resolve `latest`, a full id or a unique id prefix.
    pub fn resolve_snapshot(&self, spec: &str) -> Result<(Id, Snapshot)> {
        if spec == "latest" {
            return self.list_snapshots()?.pop().ok_or(Error::NoSnapshots);
        }
        let spec_l = spec.to_ascii_lowercase();
        if spec_l.is_empty() || !spec_l.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::SnapshotNotFound(spec.to_string()));
        }
        let matches: Vec<Id> = self.snapshot_ids()?.into_iter().filter(|id| id.to_hex().starts_with(&spec_l)).collect();
        match matches.len() {
            0 => Err(Error::SnapshotNotFound(spec.to_string())),
            1 => match self.load_snapshot(&matches[0]) {
                Err(Error::Backend(BackendError::NotFound { .. })) => Err(Error::SnapshotNotFound(spec.to_string())),
                other => Ok((matches[0], other?)),
            },
            n => Err(Error::AmbiguousSnapshot { prefix: spec.to_string(), count: n }),
        }
    }

    /// The node at `path` (relative, `/`-separated) below the tree `ids`,
    /// found by reading only the directories on the way.
    pub fn find_path(&self, ids: &[Id], path: &Path) -> Result<Option<Node>> {
        let mut ids = ids.to_vec();
        let mut found = None;
        for comp in path.components() {
            let name = comp.as_os_str().as_bytes();
            let Some(node) = self.load_tree(&ids)?.into_iter().find(|n| n.name == name) else { return Ok(None) };
            ids = node.subtree.clone();
            found = Some(node);
        }
        Ok(found)
    }
}

/// The blob is not where the index said, or not in it at all.
fn is_gone(e: &Error) -> bool {
    matches!(e, Error::BlobNotIndexed { .. } | Error::Format { source: FormatError::Missing(_), .. })
}
