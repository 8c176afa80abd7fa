//! The data paths between sources and the repository: `write` (hash →
//! seal → pack → store, with deduplication) and `read` (blobs fetched pack
//! by pack in coalesced ranges, each verified against its id).

pub mod read;
pub mod write;
