//! Consistent capture of a live Chroma directory without stopping Chroma
//! (format-spec/chroma.md#capture-protocol): fingerprint every segment
//! file, read `chroma.sqlite3` in one read transaction through the SQLite
//! page path (its watermarks read in the same transaction), read and store
//! the segment files, fingerprint again; accept only if nothing changed,
//! else read again after a pause, a bounded number of times.

use super::hnsw::{self, Header, HeaderError, LINK_GROUP};
use super::manifest::{ChromaManifest, Collection, Database, Dir, File, Layout, BLOCK};
use super::ChromaError;
use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::tree::Node;
use crate::format::ObjectKind;
use crate::pipeline::write::BlobWriter;
use crate::source::idlist::{self, IdLists};
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// The database Chroma keeps its queue, metadata and watermarks in.
pub const DB_NAME: &str = "chroma.sqlite3";
/// Files Chroma rewrites whole on every persist: stored as one chunk.
const WHOLE: &[&str] = &["index_metadata.pickle", "header.bin"];
/// Whole files larger than this are chunked by content anyway.
const WHOLE_MAX: u64 = 16 << 20;

#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// Reads of the directory before giving up on one that keeps changing.
    pub attempts: u32,
    /// Pause before the second read; doubled before each further one.
    pub backoff: Duration,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions { attempts: 5, backoff: Duration::from_millis(200) }
    }
}

/// What identifies a file's state without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Print {
    dir: bool,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    mode: u32,
}

/// Every entry under `dir` except the databases and their journals.
fn fingerprint(dir: &Path) -> Result<BTreeMap<String, Print>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name() {
        let e = e.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            Error::SourceRead { path, source: e.into() }
        })?;
        let rel = e.path().strip_prefix(dir).expect("under dir").to_string_lossy().into_owned();
        if e.depth() == 1 && (rel == DB_NAME || rel.starts_with(&format!("{DB_NAME}-"))) {
            continue;
        }
        let m = e.metadata().map_err(|err| Error::SourceRead { path: e.path().into(), source: err.into() })?;
        if !m.is_dir() && !m.is_file() {
            return Err(ChromaError::Unexpected(e.path().to_path_buf()).into());
        }
        let print = Print {
            dir: m.is_dir(),
            ino: m.ino(),
            size: if m.is_dir() { 0 } else { m.len() },
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
            mode: m.mode(),
        };
        out.insert(rel, print);
    }
    Ok(out)
}

/// The facts read inside the read transaction.
#[derive(Default)]
pub(super) struct Facts {
    pub collections: Vec<Collection>,
    pub watermarks: Vec<(String, i64)>,
    pub vector_segments: Vec<String>,
}

pub(super) fn read_facts(conn: &Connection, db: &Path) -> Result<Facts> {
    let sql = |e: rusqlite::Error| -> Error { ChromaError::Sql { path: db.to_path_buf(), source: e }.into() };
    let has: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name IN ('collections','segments','max_seq_id','embeddings')",
            [],
            |r| r.get(0),
        )
        .map_err(sql)?;
    if has != 4 {
        return Err(ChromaError::NotChroma(db.parent().unwrap_or(db).to_path_buf()).into());
    }
    let collections = conn
        .prepare(
            "SELECT c.id, c.name, (SELECT count(*) FROM embeddings e JOIN segments s ON e.segment_id = s.id \
             WHERE s.collection = c.id AND s.scope = 'METADATA') FROM collections c ORDER BY c.name",
        )
        .and_then(|mut s| {
            s.query_map([], |r| Ok(Collection { id: r.get(0)?, name: r.get(1)?, count: r.get::<_, i64>(2)? as u64 }))?
                .collect()
        })
        .map_err(sql)?;
    // seq_id is an INTEGER today; older Chroma wrote 8 big-endian bytes.
    let watermarks = conn
        .prepare("SELECT segment_id, seq_id FROM max_seq_id ORDER BY segment_id")
        .and_then(|mut s| {
            s.query_map([], |r| {
                let seq = match r.get_ref(1)? {
                    rusqlite::types::ValueRef::Integer(i) => i,
                    rusqlite::types::ValueRef::Blob(b) if b.len() == 8 => i64::from_be_bytes(b.try_into().expect("8")),
                    _ => -1,
                };
                Ok((r.get(0)?, seq))
            })?
            .collect()
        })
        .map_err(sql)?;
    let vector_segments = conn
        .prepare("SELECT id FROM segments WHERE scope = 'VECTOR' ORDER BY id")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(sql)?;
    Ok(Facts { collections, watermarks, vector_segments })
}

/// One read of the directory: the manifest, or the first entry that
/// changed while it was read.
fn attempt(
    w: &mut BlobWriter,
    dir: &Path,
    parent_db: Option<&Node>,
    parents: &Parents,
    o: &crate::source::CaptureOptions,
    warnings: &mut Vec<String>,
) -> Result<std::result::Result<Capture, String>> {
    let before = fingerprint(dir)?;
    let db = dir.join(DB_NAME);
    let mut facts = Facts::default();
    let captured = crate::source::sqlite::capture::capture_with(
        w,
        &db,
        DB_NAME.as_bytes().to_vec(),
        parent_db,
        &o.sqlite,
        &mut |conn| {
            facts = read_facts(conn, &db)?;
            Ok(())
        },
    )?;
    warnings.extend(captured.warnings);
    crate::failpoint::pause("chroma-after-sqlite");
    let mut m = ChromaManifest {
        databases: vec![Database {
            name: DB_NAME.to_string(),
            manifest: captured.node.content[0],
            mode: captured.node.mode,
            mtime_ns: captured.node.mtime_ns,
        }],
        dirs: vec![],
        files: vec![],
        collections: facts.collections,
        watermarks: facts.watermarks,
        vector_segments: facts.vector_segments,
        attempts: 0,
    };
    for (rel, p) in &before {
        if p.dir {
            m.dirs.push(Dir { path: rel.clone(), mode: p.mode, mtime_ns: p.mtime_ns });
        }
    }
    check_segments(dir, &m, &before)?;
    // Each file is read once; a segment's `header.bin` before the
    // `data_level0.bin` it describes (which sorts first).
    let read = |rel: &str| {
        let path = dir.join(rel);
        std::fs::read(&path).map_err(|e| Error::SourceRead { path, source: e })
    };
    let is_header = |rel: &str| rel.ends_with("/header.bin");
    let mut headers = std::collections::HashMap::new();
    for (rel, p) in before.iter().filter(|(r, p)| !p.dir && is_header(r)) {
        let data = read(rel)?;
        if data.len() as u64 != p.size {
            return Ok(Err(rel.clone()));
        }
        headers.insert(rel.clone(), data);
    }
    for (rel, p) in before.iter().filter(|(_, p)| !p.dir) {
        let data = match headers.get(rel) {
            Some(h) => h.clone(),
            None => read(rel)?,
        };
        if data.len() as u64 != p.size {
            return Ok(Err(rel.clone()));
        }
        let header = rel.strip_suffix("data_level0.bin").and_then(|seg| headers.get(&format!("{seg}header.bin")));
        let parent = parents.get(rel).map(Vec::as_slice);
        let layout = store(w, dir, rel, &data, header.map(|h| h.as_slice()), parent, warnings)?;
        let layout = layout.for_version(w.repo().config.version);
        m.files.push(File { path: rel.clone(), mode: p.mode, mtime_ns: p.mtime_ns, size: p.size, layout });
    }
    let after = fingerprint(dir)?;
    if let Some(changed) = first_difference(&before, &after) {
        return Ok(Err(changed));
    }
    let (db_bytes, hold_ms) = (captured.manifest.db_size(), captured.manifest.hold_ms);
    Ok(Ok(Capture { manifest: m, db_bytes, hold_ms }))
}

/// An accepted read of the directory.
pub struct Capture {
    pub manifest: ChromaManifest,
    /// Bytes of its databases.
    pub db_bytes: u64,
    /// How long Chroma's writers waited for the database read.
    pub hold_ms: u64,
}

fn first_difference(a: &BTreeMap<String, Print>, b: &BTreeMap<String, Print>) -> Option<String> {
    let names = a.keys().chain(b.keys());
    names.into_iter().find(|k| a.get(*k) != b.get(*k)).cloned()
}

/// Every vector segment the database names that has persisted (a
/// watermark above 0) has its directory, and every segment directory with
/// a `header.bin` has the other three files.
fn check_segments(dir: &Path, m: &ChromaManifest, files: &BTreeMap<String, Print>) -> Result<()> {
    for seg in &m.vector_segments {
        let persisted = m.watermarks.iter().any(|(s, n)| s == seg && *n > 0);
        if persisted && !files.get(seg).is_some_and(|p| p.dir) {
            return Err(ChromaError::SegmentMissing { dir: dir.join(seg), what: "the directory".into() }.into());
        }
    }
    for (rel, _) in files.iter().filter(|(r, p)| p.dir && files.contains_key(&format!("{r}/header.bin"))) {
        for f in ["data_level0.bin", "length.bin", "link_lists.bin"] {
            if !files.contains_key(&format!("{rel}/{f}")) {
                return Err(ChromaError::SegmentMissing { dir: dir.join(rel), what: f.into() }.into());
            }
        }
    }
    Ok(())
}

/// Store one file's bytes in the layout that suits it (`header`: the
/// segment's `header.bin`, for its `data_level0.bin`).
fn store(
    w: &mut BlobWriter,
    dir: &Path,
    rel: &str,
    data: &[u8],
    header: Option<&[u8]>,
    parent: Option<&[(IdLists, Vec<Id>)]>,
    warnings: &mut Vec<String>,
) -> Result<Layout> {
    // The parent's lists of the same kind (a layout's groups, in order).
    let parent_of = |n: usize| parent.and_then(|p| p.get(n)).map(|(l, ids)| (l, ids.as_slice()));
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if name == "data_level0.bin" {
        let parsed = match header {
            Some(h) => Header::parse(h, data.len() as u64),
            None => Err(HeaderError::Unusable("its segment has no header.bin".into())),
        };
        return match parsed {
            Ok(h) if parent.is_some_and(|p| p.len() == 2) => hnsw_layout(w, data, &h, parent_of(0), parent_of(1)),
            Ok(h) => hnsw_layout(w, data, &h, None, None),
            Err(HeaderError::Truncated(why)) => Err(ChromaError::Truncated { path: dir.join(rel), why }.into()),
            Err(HeaderError::Unusable(why)) => {
                warnings.push(format!("{}: stored as 4 KiB blocks, because {why}", dir.join(rel).display()));
                let ids = data.chunks(BLOCK).map(|b| w.small(b)).collect::<Result<Vec<Id>>>()?;
                let parent = parent_of(0).filter(|_| parent.is_some_and(|p| p.len() == 1));
                Ok(Layout::Blocks { lists: idlist::store(w, &ids, parent)?, why })
            }
        };
    }
    if WHOLE.contains(&name) && (data.len() as u64) <= WHOLE_MAX {
        return Ok(Layout::Chunks(vec![w.add(ObjectKind::Data, data)?]));
    }
    let chunker = w.repo().config.chunker;
    let ids = chunker.cut(data).into_iter().map(|(at, len)| w.add(ObjectKind::Data, &data[at..at + len]));
    Ok(Layout::Chunks(ids.collect::<Result<Vec<Id>>>()?))
}

/// A parent's id lists and the ids they resolve to.
type ParentLists<'a> = Option<(&'a IdLists, &'a [Id])>;

fn hnsw_layout(
    w: &mut BlobWriter,
    data: &[u8],
    h: &Header,
    links: ParentLists,
    vectors: ParentLists,
) -> Result<Layout> {
    // Every record of the file (more than the elements before the first
    // persist), so the file restores whole.
    let (groups, rest) = hnsw::split(data, h.stride as usize, h.links_len());
    let records = data.len() as u64 / h.stride;
    // In frames: the links of a persist's changed elements compress
    // together, and no element part pays an envelope of its own.
    let link_ids = groups.iter().map(|g| w.small(g)).collect::<Result<Vec<Id>>>()?;
    let vector_ids = rest.iter().map(|r| w.small(r)).collect::<Result<Vec<Id>>>()?;
    Ok(Layout::Hnsw {
        stride: h.stride as u32,
        links_len: h.links_len() as u32,
        elements: records,
        group: LINK_GROUP as u32,
        links: idlist::store(w, &link_ids, links)?,
        vectors: idlist::store(w, &vector_ids, vectors)?,
    })
}

/// Each parent file's id lists with the ids they resolve to, by path.
type Parents = std::collections::HashMap<String, Vec<(IdLists, Vec<Id>)>>;

/// The parent's lists, resolved; a file whose lists cannot be read is left
/// out (its lists are then written in full).
fn parent_lists(w: &BlobWriter, p: &ChromaManifest) -> Parents {
    let mut out = Parents::new();
    for f in &p.files {
        let groups = f.list_groups();
        if groups.is_empty() {
            continue;
        }
        let resolved: Result<Vec<_>> =
            groups.into_iter().map(|l| idlist::resolve_in(w.repo(), &l).map(|ids| (l, ids))).collect();
        if let Ok(r) = resolved {
            out.insert(f.path.clone(), r);
        }
    }
    out
}

/// Capture `dir`, reading it again while something changes during a read.
pub fn capture(
    w: &mut BlobWriter,
    dir: &Path,
    parent: Option<&ChromaManifest>,
    o: &crate::source::CaptureOptions,
    warnings: &mut Vec<String>,
) -> Result<Capture> {
    let meta = std::fs::metadata(dir).map_err(|e| Error::SourceRead { path: dir.to_path_buf(), source: e })?;
    let db = dir.join(DB_NAME);
    if !meta.is_dir() || !std::fs::metadata(&db).is_ok_and(|m| m.is_file()) {
        return Err(ChromaError::NotChroma(dir.to_path_buf()).into());
    }
    let parent_db = parent.and_then(|p| p.databases.iter().find(|d| d.name == DB_NAME)).map(Database::node);
    // Read before the capture window opens: the parent's lists, which new
    // lists are stored as patches on.
    let parents = parent.map(|p| parent_lists(w, p)).unwrap_or_default();
    let attempts = o.chroma.attempts.max(1);
    let mut pause = o.chroma.backoff;
    for n in 1..=attempts {
        match attempt(w, dir, parent_db.as_ref(), &parents, o, warnings)? {
            Ok(mut c) => {
                c.manifest.attempts = n;
                return Ok(c);
            }
            Err(changed) if n == attempts => {
                return Err(ChromaError::KeptChanging { path: dir.join(changed), attempts }.into());
            }
            Err(_) => {
                std::thread::sleep(pause);
                pause *= 2;
            }
        }
    }
    unreachable!("the last attempt returns")
}
