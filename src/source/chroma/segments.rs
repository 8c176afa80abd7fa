//! The vector segments of a Chroma directory against its catalogue: each
//! persisted segment has its directory, each HNSW header parses against
//! its `data_level0.bin`, `length.bin` covers every element and labels are
//! unique. Used by restore (on the copy it built) and by the live check.

use super::hnsw::{self, Header};
use std::fs;
use std::path::Path;

/// Check the segments `segments` (with their `watermarks`) under `dir`;
/// `unparsed(seg)` names a segment whose header is known not to parse
/// (then it is skipped with a note). The checks passed, or why one failed.
pub fn check(
    dir: &Path,
    segments: &[String],
    watermarks: &[(String, i64)],
    unparsed: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let mut checks = Vec::new();
    let mut n = 0;
    for seg in segments {
        let sdir = dir.join(seg);
        let persisted = watermarks.iter().any(|(s, w)| s == seg && *w > 0);
        if !sdir.is_dir() {
            if persisted {
                return Err(format!("vector segment {seg} has no directory"));
            }
            continue;
        }
        if !sdir.join("header.bin").exists() {
            continue;
        }
        if let Some(why) = unparsed(seg) {
            checks.push(format!("{seg}: HNSW header not checked (at capture: {why})"));
            continue;
        }
        let read = |f: &str| fs::read(sdir.join(f)).map_err(|e| format!("{seg}/{f}: {e}"));
        let level0 = read("data_level0.bin")?;
        let h = Header::parse(&read("header.bin")?, level0.len() as u64).map_err(|w| format!("{seg}: {w}"))?;
        let lengths = fs::metadata(sdir.join("length.bin")).map(|x| x.len()).unwrap_or(0);
        if lengths < h.elements * 4 {
            return Err(format!("{seg}/length.bin holds {lengths} bytes, fewer than 4 × {}", h.elements));
        }
        if !sdir.join("link_lists.bin").exists() {
            return Err(format!("{seg}/link_lists.bin is missing"));
        }
        hnsw::labels_unique(&level0, &h).map_err(|w| format!("{seg}: {w}"))?;
        n += 1;
    }
    checks.push(format!("{n} HNSW segments consistent with their headers, labels unique"));
    Ok(checks)
}

/// The live directory `dir` (written to by no one here): its database
/// opened read-only and `quick_check`ed, its catalogue read, its segments
/// checked.
pub fn check_live(dir: &Path) -> Result<Vec<String>, String> {
    let db = dir.join(super::capture::DB_NAME);
    if !db.is_file() {
        return Err(format!("{} is missing", db.display()));
    }
    let conn = crate::source::sqlite::open_untouched(&db).map_err(|e| format!("cannot open {}: {e}", db.display()))?;
    let qc: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(|e| format!("quick_check: {e}"))?;
    if qc != "ok" {
        return Err(format!("{}: quick_check: {qc}", db.display()));
    }
    let facts = super::capture::read_facts(&conn, &db).map_err(|e| e.to_string())?;
    let mut checks = vec![format!("chroma.sqlite3 quick_check ok, {} collections", facts.collections.len())];
    checks.extend(check(dir, &facts.vector_segments, &facts.watermarks, &|_| None)?);
    Ok(checks)
}
