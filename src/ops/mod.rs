//! The operations a user runs, each over a `Repository` and the sources:
//! backup, restore, check, forget, prune, repair, stats, and choosing a
//! snapshot. The CLI is a thin layer over these.

pub mod backup;
pub mod check;
pub mod copy;
pub mod diff;
pub mod dump;
pub mod find;
pub mod forget;
pub mod prune;
pub mod repair;
pub mod repair_snapshots;
pub mod restore;
pub mod select;
pub mod stats;
pub mod tag;
