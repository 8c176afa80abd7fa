//! What a long operation tells the person waiting for it, and how they stop
//! it: one observer (`Progress`) and one stop flag (`Cancel`), both held by
//! the `Repository` handle an operation works through, so no command and no
//! source needs a parameter of its own for them.
//!
//! The library only reports counts; how they are shown (a bar on a
//! terminal, JSON status lines, nothing) is the command line's business.
//! Everything here is cheap enough to call per chunk: an implementation
//! keeps atomics and redraws on its own clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What is known of an operation's size before it starts; `None` where it
/// is not (a first backup's bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub bytes: Option<u64>,
    pub items: Option<u64>,
}

/// Receives the progress of the operation under way. Calls come from any
/// thread; every method defaults to doing nothing.
pub trait Progress: Send + Sync {
    /// An operation (`backup`, `restore`, `check`, `prune`, `copy`) begins.
    fn start(&self, operation: &str, totals: Totals) {
        let _ = (operation, totals);
    }
    /// The item now being worked on (a file, a database, a pack).
    fn item(&self, name: &str) {
        let _ = name;
    }
    /// `bytes` more bytes and `items` more items are done.
    fn advance(&self, bytes: u64, items: u64) {
        let _ = (bytes, items);
    }
    /// The operation ended (done, failed or stopped).
    fn finish(&self) {}
}

/// Shows nothing.
pub struct Silent;
impl Progress for Silent {}

/// A request to stop, set from outside (a signal handler's flag) and
/// polled by long loops between units of work. A stopped operation ends
/// with `Error::Interrupted` after cleaning up; what it keeps is its own
/// business (a backup indexes the packs it stored).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }
    /// The flag itself, for a signal handler to set.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Starts an operation on `progress` and tells it the operation ended when
/// dropped, however it ended (done, an error, a signal).
pub struct Started<'p>(&'p dyn Progress);

impl<'p> Started<'p> {
    pub fn new(progress: &'p dyn Progress, operation: &str, totals: Totals) -> Self {
        progress.start(operation, totals);
        Self(progress)
    }
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}
