//! Redis servers as a source (`redis://host:port[/db]`): an RDB taken from
//! the running server over its replication protocol (`sync`), checked
//! (`rdb`) before anything is committed, stored in content-defined chunks
//! of about 16 KiB, with a manifest recording what the server said; a
//! restore writes `dump.rdb` for a server to load (format-spec/redis.md).

pub mod bgsave;
pub mod conn;
pub mod entries;
pub mod load;
pub mod rdb;
pub mod sync;

use crate::error::{Error, Result};
use crate::format::decode::{self, Validate};
use crate::format::id::Id;
use crate::format::snapshot::SourceKind;
use crate::format::tree::{Node, NodeKind};
use crate::format::ObjectKind;
use crate::pipeline::write::BlobWriter;
use crate::repo::Repository;
use crate::source::reach::Walk;
use crate::source::{CaptureStats, Captured, Report, Source};
use crate::sys::human;
use serde::{Deserialize, Serialize};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Redis servers are recorded in snapshots under this code…
pub const KIND: SourceKind = SourceKind(3);
/// …and stored as nodes of this kind (format 6).
pub const NODE_KIND: NodeKind = NodeKind::Source(5);
/// The first repository format that may hold Redis nodes.
pub const SINCE_FORMAT: u32 = 6;
/// Content-defined chunks of an RDB: 4 / 16 / 64 KiB (min / average / max).
pub const CHUNKS: crate::chunker::ChunkerParams = crate::chunker::ChunkerParams { min: 4096, avg: 16384, max: 65536 };

/// Options of a Redis capture.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// The server's password (`CAIRN_REDIS_PASSWORD` or a file; never a URL).
    pub password: Option<String>,
    /// The whole exchange, from connecting to the last byte of the RDB.
    pub timeout: Duration,
    /// How the RDB is taken.
    pub method: Method,
}

/// Options of a Redis restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Load into this running server (`RESTORE` per key) instead of writing
    /// `dump.rdb`.
    pub load_into: Option<load::LoadOptions>,
}

/// How a Redis capture takes its RDB.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Method {
    /// Over the replication protocol, as `redis-cli --rdb` (no file access).
    #[default]
    Sync,
    /// `BGSAVE`, then the dump file read: at `dump`, else where
    /// `CONFIG GET dir`/`dbfilename` say.
    Bgsave { dump: Option<std::path::PathBuf> },
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions { password: None, timeout: Duration::from_secs(120), method: Method::Sync }
    }
}

/// The manifest of a Redis snapshot (blob kind 16).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedisManifest {
    /// The server, as recorded (no password).
    pub url: String,
    pub server_version: String,
    /// RDB format version (`REDIS0010` → 10).
    pub rdb_version: u32,
    /// Bytes of the RDB.
    pub size: u64,
    /// Its content-defined chunks, in order.
    pub chunks: Vec<Id>,
    /// The CRC-64 trailer; 0 if the server writes none.
    pub crc: u64,
    /// (database, keys, keys with a TTL) from `INFO keyspace` before `SYNC`.
    pub keyspace: Vec<(u32, u64, u64)>,
    pub repl_offset: i64,
    pub transfer: sync::Transfer,
    /// How long the server prepared the RDB (fork and save, or the diskless delay).
    pub wait_ms: u64,
    /// When the transfer ended, ns since the epoch.
    pub time_ns: i64,
}

impl Validate for RedisManifest {
    /// At least one chunk (an RDB is never empty).
    fn validate(&self) -> std::result::Result<(), String> {
        if self.chunks.is_empty() || self.size == 0 {
            return Err("a Redis manifest names no chunks".into());
        }
        Ok(())
    }
}

impl RedisManifest {
    pub fn decode(id: &Id, bytes: &[u8]) -> Result<Self> {
        decode::decode(bytes).map_err(|e| Error::format(format!("redis manifest {id}"), e))
    }
}

/// The Redis source kind.
pub struct Redis;

impl Source for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }
    fn kind(&self) -> SourceKind {
        KIND
    }
    fn node_kind(&self) -> Option<NodeKind> {
        Some(NODE_KIND)
    }
    fn report_group(&self) -> Option<&'static str> {
        Some("caches")
    }

    /// Whole `redis://` and `rediss://` URLs.
    fn claim<'a>(&self, arg: &'a [u8]) -> Option<&'a [u8]> {
        (arg.starts_with(b"redis://") || arg.starts_with(b"rediss://")).then_some(arg)
    }

    /// Recorded as the URL without a password, named `redis-HOST-PORT-DB`.
    fn resolve(&self, location: &OsStr) -> Result<(String, Vec<u8>)> {
        let url = location.to_string_lossy().into_owned();
        let ep = conn::Endpoint::parse(&url).map_err(|e| RedisError::Url { url: redact(&url), why: e })?;
        Ok((ep.url(), format!("redis-{}-{}-{}", ep.host, ep.port, ep.db).into_bytes()))
    }

    fn capture(
        &self,
        w: &mut BlobWriter,
        location: &str,
        name: Vec<u8>,
        _parent: Option<&Node>,
        o: &crate::source::CaptureOptions,
    ) -> Result<Captured> {
        let version = w.repo().config.version;
        if version < SINCE_FORMAT {
            return Err(RedisError::OldFormat(version).into());
        }
        let ep = conn::Endpoint::parse(location).map_err(|e| RedisError::Url { url: location.into(), why: e })?;
        let fail = |why: String| RedisError::Capture { url: location.to_string(), why };
        let (pw, t) = (o.redis.password.as_deref(), o.redis.timeout);
        let f = match &o.redis.method {
            Method::Sync => sync::fetch(&ep, pw, t),
            Method::Bgsave { dump } => bgsave::fetch(&ep, pw, t, dump.as_deref()),
        }
        .map_err(fail)?;
        let checked = rdb::check(&f.rdb).map_err(|e| fail(format!("the RDB it sent is unusable: {e}")))?;
        let mut warnings = vec![];
        if checked.crc == 0 {
            warnings.push(format!(
                "{location}: the server writes RDBs without a checksum (rdbchecksum no); stored unchecked"
            ));
        }
        let chunks = CHUNKS.cut(&f.rdb).into_iter().map(|(at, len)| w.add(ObjectKind::Data, &f.rdb[at..at + len]));
        let m = RedisManifest {
            url: location.to_string(),
            server_version: f.facts.server_version,
            rdb_version: checked.version,
            size: f.rdb.len() as u64,
            chunks: chunks.collect::<Result<Vec<Id>>>()?,
            crc: checked.crc,
            keyspace: f.facts.keyspace,
            repl_offset: f.facts.repl_offset,
            transfer: f.transfer,
            wait_ms: f.wait_ms,
            time_ns: jiff::Timestamp::now().as_nanosecond() as i64,
        };
        let id = w.add(ObjectKind::RedisManifest, &decode::encode(&m))?;
        let mut node = Node::new(&name, NODE_KIND);
        node.size = m.size;
        node.mtime_ns = m.time_ns;
        node.mode = 0o600;
        node.content = vec![id];
        let stats = CaptureStats { bytes_read: m.size, bytes_logical: m.size, ..Default::default() };
        let keys: u64 = m.keyspace.iter().map(|k| k.1).sum();
        let json = serde_json::json!({
            "url": location, "method": if m.transfer == sync::Transfer::Bgsave { "bgsave" } else { "replication-sync" }, "bytes": m.size, "keys": keys, "server_version": m.server_version,
            "rdb_version": m.rdb_version, "repl_offset": m.repl_offset, "wait_ms": m.wait_ms,
            "transfer": format!("{:?}", m.transfer),
        });
        let text = format!(
            "redis {location}: {keys} keys, RDB of {} (version {}), server {}; the server prepared it in {} ms",
            human(m.size),
            m.rdb_version,
            m.server_version,
            m.wait_ms
        );
        let report = Some(Report { group: "caches", json, text });
        Ok(Captured { node: Some(node), stats, report, warnings })
    }

    fn reach(&self, walk: &mut Walk, node: &Node, path: &Path) -> Result<()> {
        let id = &node.content[0];
        if !walk.reached(id, ObjectKind::RedisManifest, path, None)? {
            return Ok(());
        }
        let Some(bytes) = walk.read(id, path)? else { return Ok(()) };
        match RedisManifest::decode(id, &bytes) {
            Ok(m) => {
                for c in &m.chunks {
                    walk.reached(c, ObjectKind::Data, path, None)?;
                }
                Ok(())
            }
            Err(e) => walk.failed(id, path, e),
        }
    }

    /// `TARGET/dump.rdb`, checked (chunk ids, then the RDB's own CRC) before
    /// it appears; the next steps for loading it are in the report.
    fn restore(
        &self,
        repo: &Repository,
        node: &Node,
        target: &Path,
        o: &crate::source::RestoreOptions,
    ) -> Result<Report> {
        let id = node.content.first().ok_or_else(|| Error::InvalidArgument("a Redis node names no manifest".into()))?;
        let m = RedisManifest::decode(id, &repo.read_blob(id)?)?;
        let file = target.join("dump.rdb");
        let werr = |e: std::io::Error| RedisError::TargetWrite { path: file.clone(), source: e };
        if o.redis.load_into.is_none() && file.exists() && !o.overwrite {
            return Err(RedisError::TargetExists(file).into());
        }
        let mut rdb = Vec::with_capacity(m.size as usize);
        for c in &m.chunks {
            rdb.extend_from_slice(&repo.read_blob(c)?);
        }
        if rdb.len() as u64 != m.size {
            return Err(RedisError::VerifyFailed {
                path: file,
                why: format!("{} bytes, the manifest says {}", rdb.len(), m.size),
            }
            .into());
        }
        rdb::check(&rdb).map_err(|why| RedisError::VerifyFailed { path: file.clone(), why })?;
        if let Some(l) = &o.redis.load_into {
            let fail = |why: String| RedisError::Load { url: redact(&l.url), why };
            let r = load::load(&rdb, m.rdb_version, l, o.overwrite).map_err(fail)?;
            let text = format!(
                "loaded redis {} into {}: {} keys restored ({} already expired, not sent), {} function libraries; the server now holds {} keys",
                m.url, redact(&l.url), r.keys, r.expired, r.functions, r.server_keys
            );
            let json = serde_json::json!({"url": m.url, "loaded_into": redact(&l.url), "bytes": m.size, "keys": r.keys,
                "expired": r.expired, "functions": r.functions, "server_keys": r.server_keys});
            return Ok(Report { group: "caches", json, text });
        }
        std::fs::create_dir_all(target).map_err(werr)?;
        let tmp = crate::source::sibling(&file, "restore");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(&rdb)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &file)
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(werr(e).into());
        }
        let keys: u64 = m.keyspace.iter().map(|k| k.1).sum();
        let text = format!(
            "restored redis {} to {} ({}, {keys} keys at capture, RDB version {}); verified: chunk hashes, RDB CRC-64\n\
             next: stop the server, put dump.rdb in its `dir` as its `dbfilename`, and start it with `appendonly no` \
             (with appendonly yes a server ignores dump.rdb and starts empty); then, if you use AOF, run \
             `CONFIG SET appendonly yes` and wait until INFO persistence shows aof_rewrite_in_progress:0",
            m.url,
            file.display(),
            human(m.size),
            m.rdb_version
        );
        let json = serde_json::json!({"url": m.url, "path": file, "bytes": m.size, "keys": keys});
        Ok(Report { group: "caches", json, text })
    }
}

/// `url` with any password replaced, for messages.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, rest)), Some((_, host))) if rest.contains('@') => format!("{scheme}://…@{host}"),
        _ => url.to_string(),
    }
}

/// Errors of the Redis source and restore.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("{url}: {why}")]
    Url { url: String, why: String },
    #[error("redis {url}: {why}; no snapshot was written")]
    Capture { url: String, why: String },
    #[error(
        "this repository has format {0}, which predates Redis sources (format 6): initialise a new repository for them"
    )]
    OldFormat(u32),
    #[error("{} already exists: allow overwriting to replace it, or restore to a new directory", .0.display())]
    TargetExists(PathBuf),
    #[error("restored RDB {} failed verification: {why}; nothing was written", path.display())]
    VerifyFailed { path: PathBuf, why: String },
    #[error("cannot write {}: {source}", path.display())]
    TargetWrite { path: PathBuf, source: std::io::Error },
    #[error("loading into redis {url} failed: {why}")]
    Load { url: String, why: String },
}

crate::error::source_error!(RedisError, VerifyFailed);
