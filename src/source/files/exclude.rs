//! What a files source leaves out (as restic and Borg users expect):
//! `--exclude` globs, where one without `/` matches any entry's own name at
//! any depth (`*.tmp`, `node_modules`) and one with `/` the path relative
//! to the source root (`cache/**`, `drafts/old`); `--iexclude` the same
//! ignoring case; `--exclude-if-present NAME`, a directory holding a file
//! called NAME (`.nobackup`, `CACHEDIR.TAG`); `--one-file-system`, what is
//! mounted below the source. An excluded directory is not entered.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct Exclude {
    names: Option<GlobSet>,
    paths: Option<GlobSet>,
    /// A directory holding a file of one of these names is left out.
    pub if_present: Vec<String>,
    /// Stay on the file system of each source root.
    pub one_file_system: bool,
    /// The patterns as given, for reports.
    pub patterns: Vec<String>,
}

impl Exclude {
    /// Compile `patterns`; the error names the one that is not a glob.
    pub fn new(patterns: &[String]) -> Result<Exclude, String> {
        Self::with_case(patterns, &[])
    }

    /// Compile `patterns` (case-sensitive) and `ipatterns` (ignoring case).
    pub fn with_case(patterns: &[String], ipatterns: &[String]) -> Result<Exclude, String> {
        let (mut names, mut paths) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        let (mut any_name, mut any_path) = (false, false);
        let all = patterns.iter().map(|p| (p, false)).chain(ipatterns.iter().map(|p| (p, true)));
        for (p, nocase) in all {
            let g = GlobBuilder::new(p.trim_start_matches("./"))
                .case_insensitive(nocase)
                .build()
                .map_err(|e| format!("exclude pattern {p:?}: {e}"))?;
            if p.contains('/') {
                paths.add(g);
                any_path = true;
            } else {
                names.add(g);
                any_name = true;
            }
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| format!("exclude patterns: {e}"));
        Ok(Exclude {
            names: if any_name { Some(build(names)?) } else { None },
            paths: if any_path { Some(build(paths)?) } else { None },
            patterns: patterns.iter().chain(ipatterns).cloned().collect(),
            ..Exclude::default()
        })
    }

    /// True if the entry at `rel` (relative to the source root, not empty)
    /// is excluded by a pattern.
    pub fn excludes(&self, rel: &Path) -> bool {
        let name_hit = || rel.file_name().is_some_and(|n| self.names.as_ref().is_some_and(|g| g.is_match(n)));
        let path_hit = || self.paths.as_ref().is_some_and(|g| g.is_match(rel));
        name_hit() || path_hit()
    }

    /// True if the directory at `full` holds a marker file
    /// (`--exclude-if-present`).
    pub fn marked(&self, full: &Path) -> bool {
        self.if_present.iter().any(|n| full.join(n).symlink_metadata().is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        let e = Exclude::new(&["*.tmp".into(), "cache/**".into(), "drafts/old".into()]).unwrap();
        assert!(e.excludes(Path::new("a/b/x.tmp")));
        assert!(e.excludes(Path::new("cache/x/y")));
        assert!(e.excludes(Path::new("drafts/old")));
        assert!(!e.excludes(Path::new("drafts/new")));
        assert!(!e.excludes(Path::new("x/cache/y")));
        assert!(!e.excludes(Path::new("keep.txt")));
        assert!(Exclude::new(&["a[".into()]).unwrap_err().contains("a["));
        assert!(!Exclude::default().excludes(Path::new("anything")));
    }

    #[test]
    fn ignoring_case() {
        let e = Exclude::with_case(&["*.tmp".into()], &["*.LOG".into(), "Cache/**".into()]).unwrap();
        assert!(e.excludes(Path::new("x/a.log")) && e.excludes(Path::new("b.Log")));
        assert!(e.excludes(Path::new("cache/y")) && e.excludes(Path::new("CACHE/y")));
        assert!(!e.excludes(Path::new("a.TMP")), "--exclude stays case-sensitive");
    }
}
