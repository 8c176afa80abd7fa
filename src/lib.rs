//! cairn: a content-addressed, deduplicating snapshot store.
//!
//! Modules are layers, each using only those listed before it:
//! - `format`: every constant and on-disk encoding (ids, trees, snapshots,
//!   the one validating decoder), and `failpoint`, `sys`, `sample`,
//!   `progress` (the progress observer and the stop flag), `metrics` (a
//!   run's Prometheus metrics, written or pushed);
//! - `seal` (compression, encryption, key files, dictionaries) and
//!   `backend` (where objects are stored);
//! - `pack`: pack files, index files and the in-memory index;
//! - `error` (one error type over the layers below), then `chunker` and
//!   `retention` (pure retention rules);
//! - `repo`: the repository: config, keys, marks, dictionaries, the index,
//!   snapshots, blob reads;
//! - `pipeline`: the write path (hash, seal, pack, store) and the read path
//!   (blob reads planned by pack);
//! - `source`: what can be captured and restored (files, SQLite), behind one
//!   trait, and the reachability walk over what they store;
//! - `ops`: the operations: backup, restore, check, forget, prune, repair,
//!   stats, snapshot selection;
//! - `stack`: the whole data stack: the stack file, one snapshot of all its
//!   components, their restore into a root or in place, hooks, webhook;
//!   and `mount`, the repository as a read-only FUSE file system.
//!
//! The command line (`src/cli`, binary only) converts its arguments into
//! these options and words the messages. `format-spec/` in the source tree
//! documents every byte these modules write.

pub mod backend;
pub mod chunker;
pub mod error;
pub mod failpoint;
pub mod format;
pub mod metrics;
pub mod mount;
pub mod ops;
pub mod pack;
pub mod pipeline;
pub mod progress;
pub mod repo;
pub mod retention;
pub mod sample;
pub mod seal;
pub mod source;
pub mod stack;
pub mod sys;

pub use error::{Error, Result};
pub use format::id::Id;
pub use repo::Repository;
