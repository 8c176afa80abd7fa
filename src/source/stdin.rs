//! Standard input as one file of the snapshot (`backup --stdin
//! --stdin-filename NAME`, as restic's): for a dump piped in
//! (`redis-cli --rdb -`, `pg_dump`), content-defined chunked like any file,
//! so consecutive dumps deduplicate. Its node is a plain file (restore,
//! `ls`, `dump` treat it as one), and the snapshot records its source as a
//! files source at `stdin:NAME`, so no reader needs a new format version.
//! Never given as an argument: only the flag makes one, so a file called
//! `stdin:x` stays a file.

use crate::error::{Error, Result};
use crate::format::snapshot::SourceKind;
use crate::format::tree::{Node, NodeKind};
use crate::pipeline::write::BlobWriter;
use crate::source::files::archive::store_stream;
use crate::source::{CaptureOptions, CaptureStats, Captured, SourceSpec};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The stdin kind.
pub struct Stdin;

/// Standard input stored as a file called `name`.
pub fn spec(name: &str) -> SourceSpec {
    SourceSpec { source: &Stdin, location: name.into() }
}

impl crate::source::Source for Stdin {
    fn name(&self) -> &'static str {
        "stdin"
    }
    fn kind(&self) -> SourceKind {
        SourceKind::FILES
    }
    fn node_kind(&self) -> Option<NodeKind> {
        None
    }
    /// Never claimed from an argument (see the module comment).
    fn claim<'a>(&self, _arg: &'a [u8]) -> Option<&'a [u8]> {
        None
    }
    fn resolve(&self, location: &OsStr) -> Result<(String, Vec<u8>)> {
        let name = location.as_bytes();
        if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0) {
            return Err(Error::InvalidArgument(format!(
                "--stdin-filename {:?}: give a file name without '/' (it names the file in the snapshot)",
                location.to_string_lossy()
            )));
        }
        Ok((format!("stdin:{}", location.to_string_lossy()), name.to_vec()))
    }
    fn capture(
        &self,
        w: &mut BlobWriter,
        location: &str,
        name: Vec<u8>,
        _parent: Option<&Node>,
        _o: &CaptureOptions,
    ) -> Result<Captured> {
        w.repo().progress().item(location);
        let (ids, size) = store_stream(w, Path::new("<stdin>"), std::io::stdin().lock(), &mut Vec::new())?;
        if size == 0 {
            return Err(Error::InvalidArgument(
                "--stdin: nothing came on standard input; pipe the data in (`pg_dump db | cairn backup --stdin --stdin-filename db.sql`)".into(),
            ));
        }
        let now = jiff::Timestamp::now().as_nanosecond() as i64;
        // SAFETY: getuid/getgid take no arguments and cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let node = Node {
            name,
            kind: NodeKind::File,
            mode: libc::S_IFREG | 0o644,
            uid,
            gid,
            size,
            mtime_ns: now,
            ctime_ns: now,
            inode: 0,
            dev: 0,
            content: ids,
            subtree: vec![],
            target: vec![],
            flags: 0,
        };
        w.repo().progress().advance(0, 1);
        let stats = CaptureStats { files_new: 1, bytes_read: size, bytes_logical: size, ..Default::default() };
        Ok(Captured { node: Some(node), stats, report: None, warnings: vec![] })
    }
}
