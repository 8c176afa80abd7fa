//! The library's layers point one way (src/lib.rs lists them): a module
//! uses only modules of its own layer or below, never the CLI. Read from the
//! source text: every `crate::<module>` path in a file of `src/<module>`.

use std::fs;
use std::path::{Path, PathBuf};

/// Layers from the bottom; modules of one layer do not use each other.
const LAYERS: &[&[&str]] = &[
    &["format", "failpoint", "sys", "sample", "progress", "metrics"],
    &["seal", "backend"],
    &["pack"],
    &["error"],
    &["chunker", "retention"],
    &["repo"],
    &["pipeline"],
    &["source"],
    &["ops"],
    &["stack", "mount"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Modules named as `crate::<name>` in `text`, outside comments.
fn used(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + 7..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
        // `use crate::{a, b}` names several.
        if let Some(i) = code.find("crate::{") {
            let inner = &code[i + 8..];
            for part in inner.split([',', '}']) {
                let name: String = part.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        }
    }
    out
}

#[test]
fn every_module_uses_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut bad = Vec::new();
    let mut edges = 0;
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "cli" || top == "main" || top == "lib" {
            continue; // the binary: may use everything
        }
        let me = layer(&top).unwrap_or_else(|| panic!("src/{top} is in no layer of tests/layers.rs: add it"));
        for m in used(&fs::read_to_string(f).unwrap()) {
            if m == top || m == "Error" || m == "Result" || m == "Id" || m == "Repository" {
                // re-exports at the crate root: checked by their own names below
                if m == "Repository" && me < layer("repo").unwrap() {
                    bad.push(format!("{}: uses Repository", rel.display()));
                }
                if (m == "Error" || m == "Result") && me < layer("error").unwrap() {
                    bad.push(format!("{}: uses crate::{m}", rel.display()));
                }
                continue;
            }
            edges += 1;
            match layer(&m) {
                Some(l) if l < me => {}
                Some(_) => {
                    bad.push(format!("{} (layer {me}) uses crate::{m} (layer {})", rel.display(), layer(&m).unwrap()))
                }
                None if m == "cli" => bad.push(format!("{}: the library uses the CLI", rel.display())),
                None => bad.push(format!("{}: crate::{m} is in no layer", rel.display())),
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(edges > 40, "only {edges} cross-module uses found: the parser is broken");
}

#[test]
fn the_library_derives_no_clap_types() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for f in files.iter().filter(|f| !f.starts_with(src.join("cli")) && !f.ends_with("main.rs")) {
        let text = fs::read_to_string(f).unwrap();
        assert!(!text.contains("clap"), "{} mentions clap: the CLI converts its arguments", f.display());
    }
}
