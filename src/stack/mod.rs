//! The whole data stack: a stack file describing its components
//! (`file`), one snapshot of all of them (`backup`), their restore into a
//! target root or in place (`restore`), the hooks run around captures
//! (`hooks`), the check of the live data (`integrity`) and the
//! notification webhook (`notify`).

pub mod backup;
pub mod drill;
pub mod file;
pub mod hooks;
pub mod integrity;
pub mod notify;
pub mod restore;

pub use file::{load, Component, StackFile};
