//! Drill records (`drills/<random id>`, kind 17, format 6): what one
//! recovery drill proved, so `drill --history` can say when recovery was
//! last shown to work and how long it took (format-spec/objects.md
//! "Drill record").

use crate::format::decode::{self, Validate};
use crate::format::id::Id;
use crate::format::FormatError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillRecord {
    /// 1.
    pub version: u32,
    /// When the drill ended, ns since the epoch.
    pub time_ns: i64,
    pub hostname: String,
    pub stack: String,
    /// The stack snapshot recovered.
    pub snapshot: Id,
    /// 0 full, 1 partial.
    pub scenario: u8,
    pub ok: bool,
    /// The whole recovery, µs, and its RTO, s.
    pub total_us: u64,
    pub rto_s: u64,
    pub components: Vec<DrillComponent>,
    /// Why it failed, one line each.
    pub misses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillComponent {
    pub name: String,
    /// Restore and checks, µs.
    pub restore_us: u64,
    /// Age of its newest snapshot at the drill, s.
    pub age_s: u64,
    pub ok: bool,
}

impl DrillRecord {
    pub fn encode(&self) -> Vec<u8> {
        decode::encode(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        decode::decode(bytes)
    }
}

impl Validate for DrillRecord {
    fn validate(&self) -> Result<(), String> {
        if self.version != 1 {
            return Err(format!("drill record version {} is unknown", self.version));
        }
        if self.scenario > 1 {
            return Err(format!("drill scenario {} is unknown", self.scenario));
        }
        if self.ok != (self.misses.is_empty() && self.components.iter().all(|c| c.ok)) {
            return Err("a drill record's verdict disagrees with its misses".into());
        }
        Ok(())
    }
}
