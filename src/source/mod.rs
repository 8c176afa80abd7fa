//! Sources: what can be captured into a snapshot and restored from one.
//!
//! Each kind is one module implementing `Source` and one line in `KINDS`.
//! A kind records its snapshots' sources under its `SourceKind` code and,
//! unless it writes plain files (the `files` kind), its data as *source
//! nodes* (`NodeKind::Source(code)`) whose one content id is a manifest
//! blob that only the kind interprets: capturing, walking (for prune, check
//! and stats) and restoring such a node all go through the kind.
//! format-spec/README.md ("Node kinds") lists the codes.

pub mod chroma;
pub mod files;
pub mod idlist;
pub mod reach;
pub mod redis;
pub mod sqlite;
pub mod stdin;

use crate::error::{Error, Result};
use crate::format::snapshot::SourceKind;
use crate::format::tree::{Node, NodeKind};
use crate::pipeline::write::BlobWriter;
use crate::repo::Repository;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Every source kind. A new kind: its module, and one line here.
pub static KINDS: &[&dyn Source] = &[&files::Files, &sqlite::Sqlite, &chroma::Chroma, &redis::Redis, &stdin::Stdin];

/// One kind of source.
pub trait Source: Sync {
    /// Its name: the `NAME:` prefix of a source argument (the files kind
    /// needs none), the `kind` of its sources in JSON, and the type of its
    /// nodes in `ls`.
    fn name(&self) -> &'static str;
    /// The code its sources are recorded under in snapshots.
    fn kind(&self) -> SourceKind;
    /// The node kind it writes (none for files: their nodes are the
    /// format's own files, directories and symlinks).
    fn node_kind(&self) -> Option<NodeKind>;
    /// The location in a source argument of this kind, if it is one: by
    /// default what follows `NAME:` (a URL kind may claim whole URLs).
    fn claim<'a>(&self, arg: &'a [u8]) -> Option<&'a [u8]> {
        arg.strip_prefix(self.name().as_bytes()).and_then(|r| r.strip_prefix(b":"))
    }
    /// The JSON group its capture and restore reports go in (`databases`,
    /// `vector_stores`, …): always present in `backup --json` and
    /// `restore --json`, empty when unused.
    fn report_group(&self) -> Option<&'static str> {
        None
    }
    /// The canonical location recorded in the snapshot (an absolute path,
    /// say) and the name of its node in the snapshot's root; checks that
    /// the source exists.
    fn resolve(&self, location: &OsStr) -> Result<(String, Vec<u8>)> {
        resolve_path(Path::new(location))
    }
    /// Capture `location` (as resolved) into a node called `name`, storing
    /// its data through `w`. `parent` is the node of the same name in the
    /// parent snapshot, if any.
    fn capture(
        &self,
        w: &mut BlobWriter,
        location: &str,
        name: Vec<u8>,
        parent: Option<&Node>,
        o: &CaptureOptions,
    ) -> Result<Captured>;
    /// Walk what a node of this kind stores (its manifest and every blob
    /// the manifest names), for `reach::walk`.
    fn reach(&self, walk: &mut reach::Walk, node: &Node, path: &Path) -> Result<()> {
        let _ = (walk, node, path);
        Ok(())
    }
    /// What a node of this kind holds, for `ls`: one entry per stored part
    /// (a database; a Chroma directory's files). Empty: the node is shown
    /// alone.
    fn parts(&self, repo: &Repository, node: &Node) -> Result<Vec<Part>> {
        let _ = (repo, node);
        Ok(vec![])
    }
    /// Whether a restore of its node writes a directory (a Chroma
    /// directory) rather than one file (a database), for `mount`.
    fn restores_to_dir(&self) -> bool {
        false
    }
    /// Restore a node of this kind to `target`, verified before it appears
    /// there.
    fn restore(&self, repo: &Repository, node: &Node, target: &Path, o: &RestoreOptions) -> Result<Report> {
        let _ = (repo, node, o);
        Err(Error::InvalidArgument(format!(
            "{}: {} sources cannot be restored one by one",
            target.display(),
            self.name()
        )))
    }
}

/// Options of each kind's capture, given by the caller.
#[derive(Debug, Clone, Default)]
pub struct CaptureOptions {
    /// Re-read every file, ignoring the parent snapshot.
    pub force: bool,
    /// Entries of files sources left out.
    pub exclude: files::exclude::Exclude,
    pub sqlite: sqlite::CaptureOptions,
    pub chroma: chroma::CaptureOptions,
    pub redis: redis::CaptureOptions,
}

/// Options of each kind's restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Replace what is at the target.
    pub overwrite: bool,
    pub sqlite: sqlite::RestoreOptions,
    pub chroma: chroma::RestoreOptions,
    pub redis: redis::RestoreOptions,
}

/// One part of a source node, as `ls` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Part {
    /// Relative to the node (`chroma.sqlite3`, `<segment>/data_level0.bin`).
    pub path: String,
    /// Bytes of the part as restored.
    pub size: u64,
    /// Bytes its distinct chunks take in packs.
    pub stored: u64,
    /// How it was chunked (`sqlite-pages`, `hnsw-records`, ...).
    pub chunking: String,
    /// What it is stored as, in order, for `diff`: one id per page (a
    /// database), per element's vector (an HNSW index), per block, or per
    /// content-defined chunk; `unit` names them.
    #[serde(skip)]
    pub units: Vec<crate::format::id::Id>,
    #[serde(skip)]
    pub unit: Unit,
}

/// What a part's `units` are. Pages, elements and blocks have fixed
/// places, so two versions compare place by place; chunks move with
/// insertions, so they compare as sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unit {
    Pages,
    Elements,
    Blocks,
    #[default]
    Chunks,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Pages => "pages",
            Unit::Elements => "elements",
            Unit::Blocks => "blocks",
            Unit::Chunks => "chunks",
        }
    }
}

/// Bytes the distinct chunks `ids` take in packs (unindexed ones count 0).
pub fn stored_bytes(repo: &Repository, ids: &[crate::format::id::Id]) -> u64 {
    // Distinct spans: the frames holding these chunks count once each, whole
    // (a frame shared with another part at its edge is counted by both).
    let spans: std::collections::HashSet<_> =
        ids.iter().filter_map(|id| repo.locate(id)).map(|l| (l.pack, l.offset, l.length)).collect();
    spans.into_iter().map(|(_, _, len)| len as u64).sum()
}

/// Counts a capture adds to the backup's summary.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CaptureStats {
    pub files_new: u64,
    pub files_changed: u64,
    pub files_unmodified: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// Bytes read from the source.
    pub bytes_read: u64,
    /// Bytes the source holds (file sizes, database sizes).
    pub bytes_logical: u64,
}

impl CaptureStats {
    pub fn add(&mut self, o: &CaptureStats) {
        self.files_new += o.files_new;
        self.files_changed += o.files_changed;
        self.files_unmodified += o.files_unmodified;
        self.dirs += o.dirs;
        self.symlinks += o.symlinks;
        self.bytes_read += o.bytes_read;
        self.bytes_logical += o.bytes_logical;
    }
}

/// A kind's own account of something it captured or restored (a database:
/// its pages, journal mode, checks), for the caller to show.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The group it is shown in (`databases`).
    pub group: &'static str,
    pub json: serde_json::Value,
    /// One line for people.
    pub text: String,
}

/// What capturing one source produced.
pub struct Captured {
    /// None when there was nothing to store (a socket, say).
    pub node: Option<Node>,
    pub stats: CaptureStats,
    pub report: Option<Report>,
    pub warnings: Vec<String>,
}

/// A source argument, parsed once: `PATH` (files and directories), or
/// `NAME:LOCATION` for another kind (`sqlite:/srv/app.db`).
#[derive(Clone)]
pub struct SourceSpec {
    pub source: &'static dyn Source,
    pub location: OsString,
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.display())
    }
}

impl SourceSpec {
    /// Parse a source argument.
    pub fn parse(arg: &OsStr) -> SourceSpec {
        for s in KINDS.iter().filter(|s| s.node_kind().is_some()) {
            if let Some(rest) = s.claim(arg.as_bytes()) {
                return SourceSpec { source: *s, location: OsStr::from_bytes(rest).to_os_string() };
            }
        }
        SourceSpec::path(arg)
    }

    /// Files and directories at `path`.
    pub fn path(path: impl AsRef<OsStr>) -> SourceSpec {
        SourceSpec { source: &files::Files, location: path.as_ref().to_os_string() }
    }

    /// As it would be written on the command line.
    pub fn display(&self) -> String {
        display(self.source, &self.location.to_string_lossy())
    }
}

/// `location` of `source` as a source argument (`sqlite:/x.db`, `/srv/scripts`).
pub fn display(source: &dyn Source, location: &str) -> String {
    match source.node_kind() {
        // A kind that claims whole arguments (URLs) is shown as them.
        Some(_) if source.claim(location.as_bytes()).is_some() => location.to_string(),
        Some(_) => format!("{}:{location}", source.name()),
        None => location.to_string(),
    }
}

/// Reports by JSON group: every kind's group (empty if unused), in kind order.
pub fn report_groups<'a>(reports: impl Iterator<Item = &'a Report>) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    for g in KINDS.iter().filter_map(|k| k.report_group()) {
        m.insert(g.to_string(), serde_json::Value::Array(vec![]));
    }
    for r in reports {
        if let Some(serde_json::Value::Array(a)) = m.get_mut(r.group) {
            a.push(r.json.clone());
        }
    }
    m
}

/// The kind recorded under `kind`.
pub fn by_kind(kind: SourceKind) -> Option<&'static dyn Source> {
    KINDS.iter().copied().find(|s| s.kind() == kind)
}

/// The type of a node as `ls` and `diff` name it: `file`, `dir`,
/// `symlink`, or its source kind's name.
pub fn kind_name(n: &Node) -> String {
    match n.kind {
        NodeKind::File => "file".into(),
        NodeKind::Dir => "dir".into(),
        NodeKind::Symlink => "symlink".into(),
        k => by_node(k).map(|s| s.name().to_string()).unwrap_or_else(|| "unknown".into()),
    }
}

/// The kind whose nodes are `kind`.
pub fn by_node(kind: NodeKind) -> Option<&'static dyn Source> {
    KINDS.iter().copied().find(|s| s.node_kind() == Some(kind))
}

/// The name of the kind recorded under `kind` (its code if unknown).
pub fn name_of(kind: SourceKind) -> String {
    by_kind(kind).map(|s| s.name().to_string()).unwrap_or_else(|| format!("kind-{}", kind.0))
}

/// The kind of a source node, or an error naming the node.
pub fn of_node(node: &Node, path: &Path) -> Result<&'static dyn Source> {
    by_node(node.kind).ok_or_else(|| {
        Error::format(
            format!("entry {}", path.display()),
            crate::format::FormatError::Invalid(format!("node kind {:?} is unknown to this cairn", node.kind)),
        )
    })
}

/// A source at a path: made absolute, checked to exist, named by its base name.
pub fn resolve_path(p: &Path) -> Result<(String, Vec<u8>)> {
    let abs = std::path::absolute(p).map_err(|e| Error::SourceRead { path: p.to_path_buf(), source: e })?;
    std::fs::symlink_metadata(&abs).map_err(|e| Error::SourceRead { path: p.to_path_buf(), source: e })?;
    let name = abs.file_name().map(|n| n.as_bytes().to_vec()).unwrap_or_else(|| b"root".to_vec());
    Ok((abs.display().to_string(), name))
}

/// `.NAME.TAG-RANDOM` beside `path`: a temporary name no one else uses
/// (restores write there first and rename into place).
pub fn sibling(path: &Path, tag: &str) -> PathBuf {
    let mut r = [0u8; 6];
    crate::format::id::random_bytes(&mut r);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{tag}-{}", hex::encode(r)))
}
