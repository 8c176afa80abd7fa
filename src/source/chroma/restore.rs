//! Restoring a Chroma directory (format-spec/chroma.md#restore-protocol):
//! everything is written into a new directory beside the target, every
//! chunk checked against its id, then verified as a whole — the database
//! by the SQLite restore's checks, the facts recorded at capture against
//! the restored database, each HNSW header against its files — and only
//! then swapped in with one atomic exchange. A failure at any step removes
//! the new directory and leaves the target as it was.

use super::capture::{read_facts, DB_NAME};
use super::hnsw;
use super::manifest::{ChromaManifest, File, Layout, BLOCK};
use super::ChromaError;
use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::tree::Node;
use crate::pipeline::read::read_blobs;
use crate::repo::Repository;
use crate::source::idlist::resolve_in;
use crate::source::sibling;
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Keep the replaced directory (its path is reported) after success.
    pub keep_rollback: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ChromaRestoreReport {
    pub path: PathBuf,
    /// The replaced directory, when kept.
    pub rollback: Option<PathBuf>,
    pub files: usize,
    pub bytes: u64,
    pub collections: usize,
    pub checks: Vec<String>,
}

/// Load the manifest a Chroma node names.
pub fn load_manifest(repo: &Repository, node: &Node) -> Result<ChromaManifest> {
    let id = node.content.first().ok_or_else(|| Error::InvalidArgument("a Chroma node names no manifest".into()))?;
    ChromaManifest::decode(id, &repo.read_blob(id)?)
}

/// Where each chunk of a file goes: (id, offset, scatter as link group of
/// hnswlib records starting at that element).
pub(super) enum Place {
    At(u64),
    Links(usize),
}

/// A file's units for `diff`, from its plan: an HNSW file's element
/// vectors (one per element, in element order), a block file's blocks, or
/// its chunks.
pub(super) fn units(f: &File, plan: Vec<(Id, Place)>) -> (crate::source::Unit, Vec<Id>) {
    use crate::source::Unit;
    match &f.layout {
        Layout::Chunks(_) => (Unit::Chunks, plan.into_iter().map(|p| p.0).collect()),
        _ if f.layout.hnsw().is_some() => {
            (Unit::Elements, plan.into_iter().filter(|p| matches!(p.1, Place::At(_))).map(|p| p.0).collect())
        }
        _ => (Unit::Blocks, plan.into_iter().map(|p| p.0).collect()),
    }
}

pub(super) fn plan(repo: &Repository, f: &File) -> Result<Vec<(Id, Place)>> {
    Ok(match &f.layout {
        Layout::Chunks(ids) => {
            let mut off = 0u64;
            let mut v = Vec::with_capacity(ids.len());
            for id in ids {
                v.push((*id, Place::At(off)));
                off += repo.locate(id).map(|l| l.raw_length as u64).unwrap_or(0);
            }
            v
        }
        _ => {
            let groups = f.list_groups();
            let mut ids = groups.iter().map(|l| resolve_in(repo, l)).collect::<Result<Vec<_>>>()?.into_iter();
            match f.layout.hnsw() {
                None => {
                    let blocks = ids.next().unwrap_or_default();
                    blocks.into_iter().enumerate().map(|(i, id)| (id, Place::At((i * BLOCK) as u64))).collect()
                }
                Some(s) => {
                    let (links, vectors) = (ids.next().unwrap_or_default(), ids.next().unwrap_or_default());
                    let g = s.group as usize;
                    let mut v: Vec<(Id, Place)> =
                        links.into_iter().enumerate().map(|(i, id)| (id, Place::Links(i * g))).collect();
                    let at = |i: usize| (i as u64) * s.stride as u64 + s.links_len as u64;
                    v.extend(vectors.into_iter().enumerate().map(|(i, id)| (id, Place::At(at(i)))));
                    v
                }
            }
        }
    })
}

/// Read a file's chunks (pack by pack) into its bytes; every byte must be
/// written exactly once.
fn assemble(repo: &Repository, f: &File) -> Result<Vec<u8>> {
    let places = plan(repo, f)?;
    let mut wanted: HashMap<Id, Vec<&Place>> = HashMap::new();
    for (id, p) in &places {
        wanted.entry(*id).or_default().push(p);
    }
    let out = Mutex::new((vec![0u8; f.size as usize], 0u64, None::<String>));
    let ids: Vec<Id> = wanted.keys().copied().collect();
    let (stride, links_len) = f.layout.hnsw().map_or((0, 0), |s| (s.stride as usize, s.links_len as usize));
    read_blobs(repo, &ids, &|id, got| {
        let mut o = out.lock().expect("file buffer");
        let data = match got {
            Ok(d) => d,
            Err(e) => {
                o.2.get_or_insert(format!("chunk {id}: {e}"));
                return;
            }
        };
        for p in &wanted[id] {
            let placed = match p {
                Place::At(at) => {
                    let at = *at as usize;
                    match o.0.get_mut(at..at + data.len()) {
                        Some(dst) => {
                            dst.copy_from_slice(data);
                            Ok(())
                        }
                        None => Err(format!("chunk {id} reaches past the file's {} bytes", f.size)),
                    }
                }
                Place::Links(first) => hnsw::place_links(&mut o.0, data, *first, stride, links_len),
            };
            match placed {
                Ok(()) => o.1 += data.len() as u64,
                Err(why) => {
                    o.2.get_or_insert(why);
                }
            }
        }
    });
    let (bytes, written, failed) = out.into_inner().expect("file buffer");
    if let Some(why) = failed {
        return Err(ChromaError::VerifyFailed { path: PathBuf::from(&f.path), why }.into());
    }
    if written != f.size {
        let why = format!("chunks hold {written} bytes, the snapshot records {}", f.size);
        return Err(ChromaError::VerifyFailed { path: PathBuf::from(&f.path), why }.into());
    }
    Ok(bytes)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32, mtime_ns: i64) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.set_permissions(fs::Permissions::from_mode(mode & 0o7777))?;
    let t = filetime(mtime_ns);
    filetime::set_file_handle_times(&f, Some(t), Some(t))?;
    f.sync_all()
}

fn filetime(ns: i64) -> filetime::FileTime {
    filetime::FileTime::from_unix_time(ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000) as u32)
}

/// Write everything into `tmp` and verify it.
fn build(repo: &Repository, m: &ChromaManifest, tmp: &Path) -> Result<(u64, Vec<String>)> {
    let tw = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::from(ChromaError::TargetWrite { path: p, source })
    };
    let mut checks = Vec::new();
    for db in &m.databases {
        let opts = crate::source::sqlite::RestoreOptions { skip_foreign_key_check: true, ..Default::default() };
        let path = tmp.join(&db.name);
        let r = crate::source::sqlite::restore::restore_db(repo, &db.node(), &path, false, &opts)?;
        checks.extend(r.checks.iter().map(|c| format!("{}: {c}", db.name)));
        fs::set_permissions(&path, fs::Permissions::from_mode(db.mode & 0o7777)).map_err(tw(&path))?;
        filetime::set_file_mtime(&path, filetime(db.mtime_ns)).map_err(tw(&path))?;
    }
    for d in &m.dirs {
        fs::create_dir(tmp.join(&d.path)).map_err(tw(&tmp.join(&d.path)))?;
    }
    let mut bytes = 0;
    for f in &m.files {
        let data = assemble(repo, f)?;
        bytes += data.len() as u64;
        write_file(&tmp.join(&f.path), &data, f.mode, f.mtime_ns).map_err(tw(&tmp.join(&f.path)))?;
    }
    checks.push(format!("{} files, every chunk matches its id", m.files.len()));
    checks.extend(verify(m, tmp)?);
    for d in m.dirs.iter().rev() {
        let p = tmp.join(&d.path);
        fs::set_permissions(&p, fs::Permissions::from_mode(d.mode & 0o7777)).map_err(tw(&p))?;
        filetime::set_file_mtime(&p, filetime(d.mtime_ns)).map_err(tw(&p))?;
    }
    Ok((bytes, checks))
}

/// The restored directory against the facts recorded at capture.
fn verify(m: &ChromaManifest, dir: &Path) -> Result<Vec<String>> {
    let fail = |why: String| -> Error { ChromaError::VerifyFailed { path: dir.to_path_buf(), why }.into() };
    let db = dir.join(DB_NAME);
    let uri = format!("file:{}?mode=ro&immutable=1", db.display());
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    let conn = rusqlite::Connection::open_with_flags(&uri, flags)
        .map_err(|e| Error::from(ChromaError::Sql { path: db.clone(), source: e }))?;
    let facts = read_facts(&conn, &db)?;
    if facts.collections != m.collections {
        return Err(fail("the collections or their counts differ from those recorded at the snapshot".into()));
    }
    if facts.watermarks != m.watermarks || facts.vector_segments != m.vector_segments {
        return Err(fail("the watermarks or vector segments differ from those recorded at the snapshot".into()));
    }
    let mut checks = vec![format!("{} collections, counts and watermarks as recorded", m.collections.len())];
    // A file that did not parse at capture either has only its bytes verified.
    let unparsed = |seg: &str| {
        let level0 = format!("{seg}/data_level0.bin");
        m.files.iter().find(|f| f.path == level0).and_then(|f| f.layout.blocks_why().map(str::to_string))
    };
    checks.extend(super::segments::check(dir, &m.vector_segments, &m.watermarks, &unparsed).map_err(fail)?);
    Ok(checks)
}

/// Restore the Chroma directory `node` to `target`.
pub fn restore_dir(
    repo: &Repository,
    node: &Node,
    target: &Path,
    overwrite: bool,
    o: &RestoreOptions,
) -> Result<ChromaRestoreReport> {
    let exists = match fs::symlink_metadata(target) {
        Ok(md) if md.is_dir() => true,
        Ok(_) => return Err(ChromaError::TargetNotDir(target.to_path_buf()).into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(ChromaError::TargetWrite { path: target.to_path_buf(), source: e }.into()),
    };
    if exists && !overwrite {
        return Err(ChromaError::TargetExists(target.to_path_buf()).into());
    }
    let m = load_manifest(repo, node)?;
    let tmp = sibling(target, "cairn-restore");
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&tmp)
        .map_err(|e| Error::from(ChromaError::TargetWrite { path: tmp.clone(), source: e }))?;
    let (bytes, checks) = match build(repo, &m, &tmp) {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let _ = fs::set_permissions(&tmp, fs::Permissions::from_mode(node.mode & 0o7777));
    let _ = filetime::set_file_mtime(&tmp, filetime(node.mtime_ns));
    let rollback = swap(&tmp, target, exists).inspect_err(|_| {
        let _ = fs::remove_dir_all(&tmp);
    })?;
    let rollback = match rollback {
        Some(old) if !o.keep_rollback => {
            let _ = fs::remove_dir_all(&old);
            None
        }
        r => r,
    };
    let report = ChromaRestoreReport {
        path: target.to_path_buf(),
        rollback,
        files: m.files.len() + m.databases.len(),
        bytes,
        collections: m.collections.len(),
        checks,
    };
    Ok(report)
}

/// Put `tmp` at `target` in one step: a rename, or (when the target
/// exists) an atomic exchange, after which the old directory is at a
/// rollback name that is returned.
fn swap(tmp: &Path, target: &Path, exists: bool) -> Result<Option<PathBuf>> {
    let err = |e: std::io::Error| Error::from(ChromaError::TargetWrite { path: target.to_path_buf(), source: e });
    if !exists {
        fs::rename(tmp, target).map_err(err)?;
    } else {
        exchange(tmp, target).map_err(err)?;
    }
    if let Some(parent) = target.parent() {
        let _ = fs::File::open(parent).and_then(|d| d.sync_all());
    }
    if !exists {
        return Ok(None);
    }
    let old = sibling(target, "cairn-rollback");
    fs::rename(tmp, &old).map_err(err)?;
    Ok(Some(old))
}

/// renameat2(RENAME_EXCHANGE): both names stay valid at every moment.
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let ca = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let cb = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two valid NUL-terminated paths; no memory is retained.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
