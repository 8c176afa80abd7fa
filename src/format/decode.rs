//! The one way structured bytes from storage become values: bincode 1.3.3
//! in the layout `bincode::serialize` writes (fixed-width little-endian
//! integers, u64 length prefixes; format-spec/encoding.md), with
//!
//! - a read limit equal to the input, so no length prefix can make the
//!   decoder read (or allocate a string or byte vector) past what is there;
//!   sequences are preallocated by serde to at most 1 MiB whatever their
//!   prefix claims, and grow only as elements are actually read;
//! - trailing bytes refused (every encoder here writes exactly one value);
//! - the type's own `Validate` run before the value is returned, so counts,
//!   offsets, names and parameters are checked once, here, instead of being
//!   trusted by whoever uses them later.
//!
//! Nothing decoded from storage is used without passing through `decode`.

use crate::format::FormatError;
use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Structural rules a decoded value must satisfy; the error says which.
pub trait Validate {
    fn validate(&self) -> Result<(), String>;
}

/// Decode and validate one value that must fill `bytes` exactly.
pub fn decode<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, FormatError> {
    let value: T = bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_limit(bytes.len() as u64)
        .reject_trailing_bytes()
        .deserialize(bytes)
        .map_err(|e| FormatError::Decode(e.to_string()))?;
    value.validate().map_err(FormatError::Invalid)?;
    Ok(value)
}

/// Encode a value in the same layout (`bincode::serialize`).
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising plain structs into a Vec cannot fail.
    bincode::serialize(value).expect("plain data serialises")
}

/// Every element of `items` satisfies `rule`; the first that does not is named.
pub fn each<T>(items: &[T], what: &str, rule: impl Fn(&T) -> Result<(), String>) -> Result<(), String> {
    for (i, item) in items.iter().enumerate() {
        rule(item).map_err(|e| format!("{what} {i}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct T {
        a: u32,
        v: Vec<u8>,
    }
    impl Validate for T {
        fn validate(&self) -> Result<(), String> {
            if self.a > 10 {
                return Err(format!("a {} is above 10", self.a));
            }
            Ok(())
        }
    }

    #[test]
    fn same_layout_as_serialize_and_strict() {
        let t = T { a: 3, v: vec![1, 2, 3] };
        let bytes = encode(&t);
        assert_eq!(bytes, bincode::serialize(&t).unwrap());
        assert_eq!(decode::<T>(&bytes).unwrap(), t);
        // Trailing bytes, truncation, an invalid value, a lying length prefix.
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode::<T>(&longer).is_err());
        assert!(decode::<T>(&bytes[..bytes.len() - 1]).is_err());
        assert!(matches!(decode::<T>(&encode(&T { a: 11, v: vec![] })), Err(FormatError::Invalid(_))));
        let mut huge = bytes.clone();
        huge[4..12].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode::<T>(&huge).is_err());
    }
}
