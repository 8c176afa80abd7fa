//! cairn: a content-addressed, deduplicating snapshot store.
//!
//! Modules follow the data flow: sources are chunked (`chunker`), hashed
//! (`id`), sealed (`seal`), packed (`pack`) and stored through a `backend`;
//! `index`, `tree` and `snapshot` describe what was stored; `backup`,
//! `restore`, `verify` and `stats` are the operations. `format-spec/` in the
//! source tree documents every byte these modules write.

pub mod backend;
pub mod backup;
pub mod chunker;
pub mod config;
pub mod crypto;
pub mod dict;
pub mod error;
pub mod failpoint;
pub mod forget;
pub mod format;
pub mod gc;
pub mod id;
pub mod index;
pub mod keyfile;
pub mod keys;
pub mod marks;
pub mod pack;
pub mod reach;
pub mod repair;
pub mod repo;
pub mod restore;
pub mod retention;
pub mod sample;
pub mod seal;
pub mod select;
pub mod snapshot;
pub mod source;
pub mod sqlite;
pub mod stats;
pub mod store;
pub mod tree;
pub mod verify;

pub use error::{Error, Result};
pub use id::Id;
pub use repo::Repository;
