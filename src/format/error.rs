//! Decoding errors of the on-disk format: the only error type of the
//! lowest layers (format, sealing, packs).

/// Decoding errors of the on-disk format (sealed envelopes, packs, bincode).
#[derive(Debug, Clone, thiserror::Error)]
pub enum FormatError {
    #[error("object is truncated ({len} bytes)")]
    Truncated { len: usize },
    #[error("unsupported envelope version {0}")]
    EnvelopeVersion(u8),
    #[error("expected a {expected} object, found kind byte {found}")]
    WrongKind { expected: &'static str, found: u8 },
    #[error("unknown codec byte {0}")]
    Codec(u8),
    #[error("integrity check failed (object altered or damaged)")]
    Checksum,
    #[error("authentication failed: the object was altered, or it is not from this repository")]
    Authentication,
    #[error("object is encrypted but no key is loaded")]
    NeedKey,
    #[error("decompression failed: {0}")]
    Decompress(String),
    #[error("decompressed length {got} differs from recorded {want}")]
    Length { want: usize, got: usize },
    #[error("bad magic")]
    Magic,
    #[error("cannot decode: {0}")]
    Decode(String),
    #[error("content hash mismatch (expected {want}, got {got})")]
    HashMismatch { want: String, got: String },
    /// Decoded, but breaks a structural rule (`format::decode::Validate`).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The object that holds it does not exist (a deleted or lost pack).
    #[error("missing: {0}")]
    Missing(String),
}
