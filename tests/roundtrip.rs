//! Round trip: generated trees restore byte-exact with mode, mtime and symlinks.

mod common;
use common::*;
use proptest::prelude::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

#[derive(Debug, Clone)]
enum Entry {
    File { size: usize, seed: u64, mode: u32 },
    Link(String),
    Dir(Vec<(String, Entry)>),
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}",
        "[a-z]{1,4}\\.[a-z]{2,3}",
        Just("ünïcødé-名前".to_string()),
        Just("with space".to_string()),
        Just(".hidden".to_string()),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    let leaf = prop_oneof![
        4 => (prop_oneof![Just(0usize), 1usize..5000, 100_000usize..3_000_000], any::<u64>(), prop_oneof![Just(0o644u32), Just(0o600), Just(0o755), Just(0o444)])
            .prop_map(|(size, seed, mode)| Entry::File { size, seed, mode }),
        1 => "[a-z./]{1,12}".prop_map(Entry::Link),
    ];
    leaf.prop_recursive(6, 40, 6, |inner| {
        prop::collection::btree_map(name(), inner, 0..6).prop_map(|m| Entry::Dir(m.into_iter().collect()))
    })
}

fn write(path: &Path, e: &Entry, mtime: i64) {
    match e {
        Entry::File { size, seed, mode } => {
            let mut rng = cairn::sample::Rng::new(*seed);
            let mut data = if seed % 2 == 0 { cairn::sample::script_text(&mut rng, *size) } else { vec![0; *size] };
            if seed % 2 == 1 {
                rng.fill(&mut data);
            }
            fs::write(path, data).unwrap();
            fs::set_permissions(path, fs::Permissions::from_mode(*mode)).unwrap();
        }
        Entry::Link(t) => std::os::unix::fs::symlink(t, path).unwrap(),
        Entry::Dir(children) => {
            fs::create_dir(path).unwrap();
            for (n, c) in children {
                write(&path.join(n), c, mtime + 1);
            }
        }
    }
    let t = filetime::FileTime::from_unix_time(mtime, 123_456_789);
    filetime::set_symlink_file_times(path, t, t).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn generated_trees_restore_byte_exact(children in prop::collection::btree_map(name(), entry(), 0..8)) {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        let src = tmp.path().join("src");
        write(&src, &Entry::Dir(children.into_iter().collect()), 1_600_000_000);
        init_small(&repo);
        let snap = backup(&repo, &[&src]);
        restore_and_compare(&repo, &snap, &src, tmp.path());
        // A second, incremental snapshot restores identically too.
        let snap2 = backup(&repo, &[&src]);
        restore_and_compare(&repo, &snap2, &src, tmp.path());
    }
}

#[test]
fn deep_tree_and_several_sources_and_include() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let src = tmp.path().join("data");
    cairn::sample::generate(&src, 8, 7).unwrap();
    let mut deep = src.join("deep");
    for i in 0..40 {
        deep = deep.join(format!("level-{i}"));
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("bottom.txt"), "bottom").unwrap();
    // A name that is not UTF-8, and a symlink whose target is not either.
    use std::os::unix::ffi::OsStrExt;
    let raw = std::ffi::OsStr::from_bytes(b"caf\xe9-\xff.txt");
    fs::write(src.join(raw), "latin-1 name").unwrap();
    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(b"\xfe\xfd"), src.join("odd-link")).unwrap();
    let other = tmp.path().join("single-file.bin");
    fs::write(&other, vec![7u8; 5 << 20]).unwrap();
    init_small(&repo);
    let snap = backup(&repo, &[&src, &other]);
    restore_and_compare(&repo, &snap, &src, tmp.path());

    let target = tmp.path().join("partial");
    ok(cairn(&repo)
        .args(["restore", &snap[..10], "--include", "data/scripts/project-03", "--include", "*.bin", "--target"])
        .arg(&target));
    assert!(target.join("single-file.bin").is_file());
    assert!(target.join("data/scripts/project-03").is_dir());
    assert!(!target.join("data/scripts/project-04").exists());
    assert!(!target.join("data/app.db").exists());
    assert_eq!(fs::read(target.join("single-file.bin")).unwrap(), vec![7u8; 5 << 20]);

    let (_, err) = fails(
        cairn(&repo).args(["restore", "latest", "--include", "nothing/*", "--target"]).arg(tmp.path().join("none")),
    );
    assert!(err.contains("no path in the snapshot matches"), "{err}");
    assert!(!tmp.path().join("none").exists());

    let listing = ok(cairn(&repo).args(["ls", "latest", "data/deep"]));
    assert!(listing.contains("bottom.txt"), "{listing}");
}
