//! Source stage for a live SQLite database: one read transaction, every page
//! read through the `sqlite_dbpage` virtual table (the pager's view, WAL
//! frames included), each page handed to the chunk store as one chunk, the
//! facts a restore verifies against read inside the same transaction.
//!
//! Nothing is copied to disk and nothing is written to the database. In WAL
//! mode writers carry on while the pages are read (the WAL grows meanwhile);
//! in rollback-journal mode they wait, which is what the maximum hold bounds.

use super::manifest::{CaptureMethod, Integrity, SqliteManifest, TableRows};
use super::sink::Sink;
use super::SqliteError;
use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::tree::Node;
use crate::format::{ObjectKind, SQLITE_PAGE_SIZE_LIMITS};
use crate::pipeline::write::BlobWriter;
use crate::source::idlist::IdLists;
use rusqlite::{Connection, OpenFlags};
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

/// The 16 bytes every SQLite database file begins with.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";
/// How long to wait for a lock when no `--max-hold` is given.
const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MethodChoice {
    /// `sqlite_dbpage` when the library has it, else the backup API.
    #[default]
    Auto,
    Dbpage,
    BackupApi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckLevel {
    /// `PRAGMA quick_check` inside the read transaction (~0.6 s per GB).
    #[default]
    Quick,
    /// `PRAGMA integrity_check` (~1.3 s per GB; also checks index contents).
    Full,
    Off,
}

#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// End the read transaction and fail rather than hold it (or wait for
    /// a lock) longer; checked after every batch of pages.
    pub max_hold: Option<Duration>,
    pub method: MethodChoice,
    pub check: CheckLevel,
    /// `PRAGMA mmap_size` of cairn's connection (SQLite caps it at 2 GiB).
    pub mmap_bytes: u64,
}

/// Map up to 2 GiB of the database (SQLite's own cap).
pub const DEFAULT_MMAP_BYTES: u64 = 0x7fff_0000;

pub struct Captured {
    pub node: Node,
    pub manifest: SqliteManifest,
    pub warnings: Vec<String>,
}

/// Capture the database at `path` into `writer`; returns its root-tree node.
pub fn capture(
    writer: &mut BlobWriter,
    path: &Path,
    name: Vec<u8>,
    prev: Option<&Node>,
    opts: &CaptureOptions,
) -> Result<Captured> {
    capture_with(writer, path, name, prev, opts, &mut |_| Ok(()))
}

/// Reads of a caller's own, made inside the read transaction (or on the
/// backup API's copy), so they describe exactly the pages stored.
pub type InTransaction<'a> = dyn FnMut(&Connection) -> Result<()> + 'a;

/// `capture`, running `facts` inside the read transaction after the
/// manifest's own facts (a Chroma directory reads its watermarks there).
pub fn capture_with(
    writer: &mut BlobWriter,
    path: &Path,
    name: Vec<u8>,
    prev: Option<&Node>,
    opts: &CaptureOptions,
    facts: &mut InTransaction,
) -> Result<Captured> {
    let meta = std::fs::metadata(path).map_err(|e| Error::SourceRead { path: path.to_path_buf(), source: e })?;
    if !meta.is_file() {
        return Err(Error::InvalidArgument(format!(
            "{} is not a regular file, so not a SQLite database",
            path.display()
        )));
    }
    check_header(path, meta.len())?;
    // The parent's page ids, read before the read transaction begins.
    let parent = prev.and_then(|p| parent_pages(writer, p));
    let conn = open(path, opts)?;
    let dbpage = match opts.method {
        MethodChoice::BackupApi => false,
        MethodChoice::Dbpage => true,
        MethodChoice::Auto => conn.prepare("SELECT pgno FROM sqlite_dbpage LIMIT 0").is_ok(),
    };
    let mut warnings = Vec::new();
    let mut sink = Sink::new(writer, prev);
    let (manifest_wo_lists, pages) = if dbpage {
        read_dbpage(&conn, path, opts, &mut sink, facts)?
    } else {
        if opts.method == MethodChoice::Auto {
            warnings.push(format!(
                "{}: this SQLite has no sqlite_dbpage; used the online backup API through a temporary copy (page 1 header bytes differ from the source)",
                path.display()
            ));
        }
        read_backup_api(&conn, path, opts, &mut sink, facts)?
    };
    let mut manifest = manifest_wo_lists;
    manifest.dictionary = sink.dictionary.as_ref().map(|d| d.id);
    // Page lists and the manifest are compressed without the dictionary;
    // in format 5 as a patch on the parent's lists when that pays.
    let parent = parent.as_ref().map(|(l, ids)| (l, ids.as_slice()));
    manifest.set_pages(crate::source::idlist::store(writer, &pages, parent)?);
    if let Integrity::Failed(why) = &manifest.integrity {
        warnings.push(format!(
            "{}: SQLite integrity check failed ({why}); the snapshot was taken and records the failure",
            path.display()
        ));
    }
    let manifest_id = writer.add(ObjectKind::SqliteManifest, &manifest.encode(writer.repo().config.version))?;
    let mut node = crate::source::files::base_node(name, super::NODE_KIND, &meta);
    node.size = manifest.db_size();
    node.content = vec![manifest_id];
    Ok(Captured { node, manifest, warnings })
}

/// The page lists of the same database in the parent snapshot and the ids
/// they resolve to, if they can be read (else the lists are written whole).
fn parent_pages(writer: &BlobWriter, prev: &Node) -> Option<(IdLists, Vec<Id>)> {
    if prev.kind != super::NODE_KIND || !writer.frames() {
        return None;
    }
    let (_, m) = super::restore::load_manifest(writer.repo(), prev).ok()?;
    let lists = m.pages();
    let ids = crate::source::idlist::resolve_in(writer.repo(), &lists).ok()?;
    Some((lists, ids))
}

/// Pages read at a time: hashed in parallel, then handed to the store in order.
const BATCH_PAGES: usize = 256;

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            max_hold: None,
            method: MethodChoice::Auto,
            check: CheckLevel::Quick,
            mmap_bytes: DEFAULT_MMAP_BYTES,
        }
    }
}

fn check_header(path: &Path, len: u64) -> Result<()> {
    if len == 0 {
        return Ok(()); // SQLite treats an empty file as an empty database.
    }
    let mut head = [0u8; 16];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head));
    match read {
        Ok(()) if &head == SQLITE_HEADER => Ok(()),
        Ok(()) => Err(SqliteError::NotADatabase(path.to_path_buf()).into()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(SqliteError::NotADatabase(path.to_path_buf()).into())
        }
        Err(e) => Err(Error::SourceRead { path: path.to_path_buf(), source: e }),
    }
}

/// A connection of our own. Read-write if permitted (SQLite needs write
/// access to the `-shm` of a WAL database), never creating anything.
fn open(path: &Path, opts: &CaptureOptions) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_READ_WRITE)
        .or_else(|_| Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_READ_ONLY))
        .map_err(SqliteError::sql(path, "opening"))?;
    conn.busy_timeout(opts.max_hold.unwrap_or(DEFAULT_LOCK_WAIT)).map_err(SqliteError::sql(path, "opening"))?;
    // Pages come from a memory map instead of one read() per page: 0.3 s
    // less per GiB. The mapped file counts in this process's RSS, though it
    // is the shared page cache, not memory of cairn's own.
    let _ = conn.execute_batch(&format!("PRAGMA mmap_size = {}", opts.mmap_bytes));
    Ok(conn)
}

fn locked_or<'a>(
    path: &'a Path,
    opts: &'a CaptureOptions,
    what: &'static str,
) -> impl FnOnce(rusqlite::Error) -> Error + 'a {
    move |e| {
        let busy = matches!(&e, rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked));
        if busy {
            let secs = opts.max_hold.unwrap_or(DEFAULT_LOCK_WAIT).as_secs_f64();
            SqliteError::Locked { path: path.to_path_buf(), secs }.into()
        } else {
            SqliteError::sql(path, what)(e).into()
        }
    }
}

/// The manifest facts, read in the caller's transaction.
fn read_facts(conn: &Connection, path: &Path, opts: &CaptureOptions) -> Result<SqliteManifest> {
    let pragma = |name: &'static str| -> Result<i64> {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0)).map_err(locked_or(path, opts, "reading facts"))
    };
    // The first read takes the snapshot (and waits for a lock, if it must).
    let schema_version = pragma("schema_version")?;
    let page_size = pragma("page_size")?;
    let page_count = pragma("page_count")?;
    let user_version = pragma("user_version")?;
    let journal_mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).map_err(locked_or(
        path,
        opts,
        "reading journal mode",
    ))?;
    let lim = SQLITE_PAGE_SIZE_LIMITS;
    if !(lim.0 as i64..=lim.1 as i64).contains(&page_size) {
        return Err(SqliteError::NotADatabase(path.to_path_buf()).into());
    }
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(locked_or(path, opts, "listing tables"))?;
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        let q = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
        let rows = match conn.query_row(&q, [], |r| r.get::<_, i64>(0)) {
            Ok(n) => Some(n as u64),
            Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::DatabaseCorrupt => None,
            Err(e) => return Err(locked_or(path, opts, "counting rows")(e)),
        };
        tables.push(TableRows { name, rows });
    }
    Ok(SqliteManifest {
        page_size: page_size as u32,
        page_count: page_count as u64,
        page_lists: vec![],
        journal_mode,
        user_version,
        schema_version,
        tables,
        method: CaptureMethod::Dbpage,
        integrity: Integrity::NotChecked,
        hold_ms: 0,
        sqlite_version: rusqlite::version().to_string(),
        dictionary: None,
        patches: vec![],
        base_pages: page_count as u64,
        patched: 0,
    })
}

fn integrity(conn: &Connection, path: &Path, level: CheckLevel) -> Result<Integrity> {
    let pragma = match level {
        CheckLevel::Off => return Ok(Integrity::NotChecked),
        CheckLevel::Quick => "PRAGMA quick_check(5)",
        CheckLevel::Full => "PRAGMA integrity_check(5)",
    };
    let lines: Vec<String> = match conn.prepare(pragma).and_then(|mut s| s.query_map([], |r| r.get(0))?.collect()) {
        Ok(l) => l,
        // Damage bad enough that the check itself cannot run is a finding too.
        Err(rusqlite::Error::SqliteFailure(f, m)) if f.code == rusqlite::ErrorCode::DatabaseCorrupt => {
            return Ok(Integrity::Failed(m.unwrap_or_else(|| f.to_string())));
        }
        Err(e) => return Err(SqliteError::sql(path, "checking integrity")(e).into()),
    };
    Ok(if lines == ["ok"] {
        Integrity::Ok { full: level == CheckLevel::Full }
    } else {
        Integrity::Failed(lines.join("; "))
    })
}

/// One read transaction: facts, every page in order, the integrity check.
fn read_dbpage(
    conn: &Connection,
    path: &Path,
    opts: &CaptureOptions,
    sink: &mut Sink,
    facts: &mut InTransaction,
) -> Result<(SqliteManifest, Vec<Id>)> {
    let start = Instant::now();
    conn.execute_batch("BEGIN").map_err(SqliteError::sql(path, "starting the read transaction"))?;
    // Dropping `conn` on an error path rolls the transaction back.
    let mut m = read_facts(conn, path, opts)?;
    facts(conn)?;
    {
        let mut one = conn
            .prepare("SELECT data FROM sqlite_dbpage WHERE pgno = ?1")
            .map_err(SqliteError::sql(path, "sampling pages"))?;
        sink.prepare(m.page_count, &mut |pgno| {
            Ok(one.query_row([pgno as i64], |r| r.get(0)).map_err(SqliteError::sql(path, "sampling pages"))?)
        })?;
    }
    let mut stmt =
        conn.prepare("SELECT pgno, data FROM sqlite_dbpage").map_err(SqliteError::sql(path, "reading pages"))?;
    let mut rows = stmt.query([]).map_err(locked_or(path, opts, "reading pages"))?;
    let page_size = m.page_size as usize;
    let mut read = 0i64;
    let pages = sink.run(page_size, &mut |batch| {
        for _ in 0..BATCH_PAGES {
            let Some(row) = rows.next().map_err(locked_or(path, opts, "reading pages"))? else { return Ok(false) };
            let pgno: i64 = row.get(0).map_err(SqliteError::sql(path, "reading pages"))?;
            let data =
                row.get_ref(1).and_then(|v| Ok(v.as_blob()?)).map_err(SqliteError::sql(path, "reading pages"))?;
            read += 1;
            if pgno != read || data.len() != page_size {
                return Err(SqliteError::NotADatabase(path.to_path_buf()).into());
            }
            batch.extend_from_slice(data);
        }
        check_hold(path, opts, start)?;
        Ok(true)
    })?;
    drop(rows);
    drop(stmt);
    if conn.is_autocommit() {
        // The facts and pages must come from one snapshot; never store a mix.
        let why = "SQLite ended the read transaction while pages were read".to_string();
        return Err(SqliteError::VerifyFailed { path: path.to_path_buf(), why }.into());
    }
    if pages.len() as u64 != m.page_count {
        let why = format!("page_count says {} but {} pages were read", m.page_count, pages.len());
        return Err(SqliteError::VerifyFailed { path: path.to_path_buf(), why }.into());
    }
    m.integrity = integrity(conn, path, opts.check)?;
    check_hold(path, opts, start)?;
    // Nothing was written, so ending the transaction either way is the same;
    // ROLLBACK also works after SQLite ended it itself on a corrupt page.
    if !conn.is_autocommit() {
        conn.execute_batch("ROLLBACK").map_err(SqliteError::sql(path, "ending the read transaction"))?;
    }
    m.hold_ms = start.elapsed().as_millis() as u64;
    Ok((m, pages))
}

fn check_hold(path: &Path, opts: &CaptureOptions, start: Instant) -> Result<()> {
    match opts.max_hold {
        Some(max) if start.elapsed() > max => {
            Err(SqliteError::HoldExceeded { path: path.to_path_buf(), secs: max.as_secs_f64() }.into())
        }
        _ => Ok(()),
    }
}

/// Fallback without `sqlite_dbpage`: the backup API copies the database in
/// one step (small steps restart forever on a busy database) into a private
/// temporary file, whose pages are then read.
fn read_backup_api(
    conn: &Connection,
    path: &Path,
    opts: &CaptureOptions,
    sink: &mut Sink,
    facts: &mut InTransaction,
) -> Result<(SqliteManifest, Vec<Id>)> {
    let tmp = tempfile::Builder::new()
        .prefix(".cairn-sqlite-")
        .tempfile()
        .map_err(|e| Error::SourceRead { path: std::env::temp_dir(), source: e })?;
    let start = Instant::now();
    let mut copy = Connection::open(tmp.path()).map_err(SqliteError::sql(path, "creating the temporary copy"))?;
    {
        let backup =
            rusqlite::backup::Backup::new(conn, &mut copy).map_err(SqliteError::sql(path, "starting the backup"))?;
        match backup.step(-1).map_err(locked_or(path, opts, "copying"))? {
            rusqlite::backup::StepResult::Done => {}
            _ => {
                let secs = opts.max_hold.unwrap_or(DEFAULT_LOCK_WAIT).as_secs_f64();
                return Err(SqliteError::Locked { path: path.to_path_buf(), secs }.into());
            }
        }
    }
    let hold_ms = start.elapsed().as_millis() as u64;
    let source_mode: String =
        conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).map_err(SqliteError::sql(path, "reading facts"))?;
    let mut m = read_facts(&copy, path, opts)?;
    facts(&copy)?;
    m.integrity = integrity(&copy, path, opts.check)?;
    drop(copy);
    m.journal_mode = source_mode;
    m.method = CaptureMethod::BackupApi;
    m.hold_ms = hold_ms;
    let mut f =
        std::fs::File::open(tmp.path()).map_err(|e| Error::SourceRead { path: tmp.path().into(), source: e })?;
    let page_size = m.page_size as usize;
    let sample_file =
        std::fs::File::open(tmp.path()).map_err(|e| Error::SourceRead { path: tmp.path().into(), source: e })?;
    sink.prepare(m.page_count, &mut |pgno| {
        let mut page = vec![0u8; page_size];
        use std::os::unix::fs::FileExt;
        sample_file
            .read_exact_at(&mut page, (pgno - 1) * page_size as u64)
            .map_err(|e| Error::SourceRead { path: tmp.path().into(), source: e })?;
        Ok(page)
    })?;
    let mut left = m.page_count;
    let pages = sink.run(page_size, &mut |batch| {
        let n = left.min(BATCH_PAGES as u64) as usize;
        batch.resize(n * page_size, 0);
        f.read_exact(batch).map_err(|e| Error::SourceRead { path: tmp.path().into(), source: e })?;
        left -= n as u64;
        Ok(left > 0)
    })?;
    Ok((m, pages))
}
