//! The backend conformance suite, run against every backend and wrapper.

mod common;
use cairn::backend::local::LocalBackend;
use cairn::backend::memory::MemoryBackend;
use cairn::backend::{conformance, Backend};
use common::FullDisk;
use std::sync::Arc;

#[test]
fn local_backend_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance(&LocalBackend::new(dir.path().join("repo")));
}

#[test]
fn memory_backend_conforms() {
    conformance(&MemoryBackend::new());
}

#[test]
fn fault_wrapper_passes_through_until_it_fails() {
    let inner: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    conformance(&FullDisk { inner: inner.clone(), puts_before_failure: usize::MAX, puts: Default::default() });
    let full = FullDisk { inner, puts_before_failure: 0, puts: Default::default() };
    let err = full.put("data/00/y", b"x").unwrap_err();
    assert!(err.is_storage_full(), "{err}");
}

#[test]
fn local_put_leaves_no_temporary_and_lists_no_partial_object() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::new(dir.path());
    b.put("index/abc", b"complete").unwrap();
    // A temporary file, as a crash during put leaves it, is not an object.
    std::fs::write(dir.path().join("index/.tmp-deadbeef"), b"half").unwrap();
    let keys: Vec<String> = b.list("index/").unwrap().into_iter().map(|o| o.key).collect();
    assert_eq!(keys, vec!["index/abc".to_string()]);
}

#[test]
fn crash_simulating_backend_conforms_until_its_crash() {
    use common::crash_backend::CrashBackend;
    conformance(&CrashBackend::counting(Default::default()));
    let b = CrashBackend::new(Default::default(), 1, false);
    b.put("data/00/a", b"kept").unwrap();
    assert!(b.put("data/00/b", b"lost").is_err(), "the crash write must fail");
    assert!(b.put("data/00/c", b"after").is_err(), "nothing works after the crash");
    let s = b.survivors();
    assert_eq!(s.keys().collect::<Vec<_>>(), ["data/00/a"]);
    let landed = CrashBackend::new(Default::default(), 0, true);
    assert!(landed.put("index/x", b"landed").is_err());
    assert!(landed.survivors().contains_key("index/x"), "a landed write survives though it failed");
}
