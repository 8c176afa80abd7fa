//! Sources: where backup data comes from. Today plain files and directories.

pub mod files;
