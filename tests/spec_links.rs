//! format-spec/ and the README stay in step with the tree: every relative
//! link names a real file (and a real heading when it has an anchor), every
//! source path written in backquotes exists, and every test a table row
//! cites (`` `races.rs` `some_test` ``) is a test function in that file.

mod common;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn docs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(root().join("format-spec"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    v.push(root().join("README.md"));
    v.sort();
    v
}

/// GitHub's heading anchor: lower case, punctuation other than `-` and `_`
/// dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> HashSet<String> {
    text.lines().filter(|l| l.starts_with('#')).map(|l| slug(l.trim_start_matches('#'))).collect()
}

/// `(target)` of every `[text](target)` in `text`.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(j) = rest.find(')') {
            out.push(rest[..j].to_string());
        }
    }
    out
}

/// Backquoted words in `text`.
fn quoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

#[test]
fn links_and_anchors_resolve() {
    let mut checked = 0;
    let mut bad = Vec::new();
    for doc in docs() {
        let text = fs::read_to_string(&doc).unwrap();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() { doc.clone() } else { doc.parent().unwrap().join(file) };
            checked += 1;
            if !target.exists() {
                bad.push(format!("{}: link to missing {link}", doc.display()));
                continue;
            }
            if !anchor.is_empty() && !anchors(&fs::read_to_string(&target).unwrap()).contains(anchor) {
                bad.push(format!("{}: no heading #{anchor} in {file}", doc.display()));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(checked > 20, "only {checked} links found: the link parser is broken");
}

#[test]
fn source_paths_and_cited_tests_exist() {
    let mut bad = Vec::new();
    let mut cited = 0;
    for doc in docs() {
        let text = fs::read_to_string(&doc).unwrap();
        for q in quoted(&text) {
            let path = q.split_whitespace().next().unwrap_or("");
            let is_path = ["src/", "tests/", "benches/"].iter().any(|p| path.starts_with(p)) && path.ends_with(".rs");
            if is_path && !root().join(path).exists() {
                bad.push(format!("{}: {path} does not exist", doc.display()));
            }
        }
        // Table rows citing a test: `file.rs` `test_name`.
        for line in text.lines().filter(|l| l.starts_with('|')) {
            let q = quoted(line);
            for pair in q.windows(2) {
                let (file, name) = (pair[0], pair[1]);
                if !file.ends_with(".rs")
                    || file.contains('/')
                    || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    continue;
                }
                cited += 1;
                let src = root().join("tests").join(file);
                let body = fs::read_to_string(&src).unwrap_or_default();
                if !body.contains(&format!("fn {name}(")) {
                    bad.push(format!("{}: cites {file} {name}, which is not a test there", doc.display()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(cited >= 5, "only {cited} cited tests found: the table parser is broken");
}

#[test]
fn slug_follows_github() {
    assert_eq!(slug(" Tree blob (kind 2)"), "tree-blob-kind-2");
    assert_eq!(slug(" Snapshot: `snapshots/<id>`"), "snapshot-snapshotsid");
    assert!(Path::new(&root().join("format-spec/README.md")).exists());
}

/// Every key a command's `--json` prints (recursively) is named in the
/// README's schema section, so a field added in code is documented.
#[test]
fn json_fields_are_documented() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("src"));
    fs::create_dir_all(src.join("d")).unwrap();
    fs::write(src.join("d/a"), b"some bytes").unwrap();
    common::init_small(&repo);
    let outputs = [
        common::ok(common::cairn(&repo).args(["backup", "--json"]).arg(&src)),
        common::ok(common::cairn(&repo).args(["restore", "latest", "--json", "--target"]).arg(tmp.path().join("r"))),
        common::ok(common::cairn(&repo).args(["check", "--json"])),
        common::ok(common::cairn(&repo).args(["stats", "--json"])),
        common::ok(common::cairn(&repo).args(["forget", "--keep-last", "1", "--prune", "--json"])),
    ];
    let (seen, missing) = common::undocumented_json_keys(&outputs);
    assert!(seen > 40, "only {seen} keys seen");
    assert!(missing.is_empty(), "printed but not in the README's JSON section: {missing:?}");
}
