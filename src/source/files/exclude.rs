//! `--exclude` patterns of a files source (as restic and Borg users
//! expect): a glob without `/` matches any entry's own name at any depth
//! (`*.tmp`, `node_modules`), one with `/` the path relative to the source
//! root (`cache/**`, `drafts/old`). An excluded directory is not entered.

use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct Exclude {
    names: Option<GlobSet>,
    paths: Option<GlobSet>,
    /// The patterns as given, for reports.
    pub patterns: Vec<String>,
}

impl Exclude {
    /// Compile `patterns`; the error names the one that is not a glob.
    pub fn new(patterns: &[String]) -> Result<Exclude, String> {
        let (mut names, mut paths) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        let (mut any_name, mut any_path) = (false, false);
        for p in patterns {
            let g = Glob::new(p.trim_start_matches("./")).map_err(|e| format!("exclude pattern {p:?}: {e}"))?;
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
            patterns: patterns.to_vec(),
        })
    }

    /// True if the entry at `rel` (relative to the source root, not empty)
    /// is excluded.
    pub fn excludes(&self, rel: &Path) -> bool {
        let name_hit = || rel.file_name().is_some_and(|n| self.names.as_ref().is_some_and(|g| g.is_match(n)));
        let path_hit = || self.paths.as_ref().is_some_and(|g| g.is_match(rel));
        name_hit() || path_hit()
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
}
