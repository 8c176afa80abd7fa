//! S3-compatible object storage (Amazon S3, Garage, Ceph RGW, MinIO) through
//! the `object_store` crate: request signing, retries with backoff and
//! path-style addressing are its, not ours. The contract of `Backend`
//! holds as S3 gives it: a PUT is atomic and durable when it returns (the
//! store's guarantee), a LIST shows only complete objects, a DELETE of a
//! missing key succeeds.
//!
//! Location: `s3:http(s)://ENDPOINT/BUCKET[/PREFIX]`; credentials and
//! region from the usual AWS variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, default `us-east-1`).

use super::{BResult, Backend, BackendError, ObjectInfo};
use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as StorePath;
use object_store::ObjectStore;
use std::io;

pub struct S3Backend {
    store: AmazonS3,
    /// Keys below this prefix (empty: the bucket's root).
    prefix: String,
    runtime: tokio::runtime::Runtime,
    location: String,
}

/// The parts of an `s3:` location: endpoint, bucket, prefix.
pub fn parse(location: &str) -> Result<(String, String, String), String> {
    let rest = location.strip_prefix("s3:").ok_or_else(|| format!("{location}: not an s3: location"))?;
    let (scheme, after) =
        rest.split_once("://").ok_or_else(|| format!("{location}: give s3:http(s)://ENDPOINT/BUCKET[/PREFIX]"))?;
    if scheme != "http" && scheme != "https" {
        return Err(format!("{location}: the endpoint's scheme is http or https"));
    }
    let mut parts = after.splitn(3, '/');
    let host = parts.next().filter(|h| !h.is_empty()).ok_or_else(|| format!("{location}: no endpoint"))?;
    let bucket = parts.next().filter(|b| !b.is_empty()).ok_or_else(|| format!("{location}: no bucket"))?;
    let prefix = parts.next().unwrap_or("").trim_matches('/').to_string();
    Ok((format!("{scheme}://{host}"), bucket.to_string(), prefix))
}

fn other(key: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Io { key: key.to_string(), source: io::Error::other(e.to_string()) }
}

fn store_err(key: &str, e: object_store::Error) -> BackendError {
    match e {
        object_store::Error::NotFound { .. } => BackendError::NotFound { key: key.to_string() },
        e => other(key, e),
    }
}

impl S3Backend {
    pub fn open(location: &str) -> Result<S3Backend, String> {
        let (endpoint, bucket, prefix) = parse(location)?;
        let region = std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION"));
        let store = AmazonS3Builder::from_env()
            .with_endpoint(&endpoint)
            .with_bucket_name(&bucket)
            .with_region(region.unwrap_or_else(|_| "us-east-1".into()))
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false)
            .build()
            .map_err(|e| format!("{location}: {e}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("{location}: cannot start the I/O runtime: {e}"))?;
        Ok(S3Backend { store, prefix, runtime, location: location.to_string() })
    }

    fn path(&self, key: &str) -> StorePath {
        match self.prefix.is_empty() {
            true => StorePath::from(key),
            false => StorePath::from(format!("{}/{key}", self.prefix)),
        }
    }
}

impl Backend for S3Backend {
    fn put(&self, key: &str, data: &[u8]) -> BResult<()> {
        let payload = object_store::PutPayload::from(data.to_vec());
        self.runtime.block_on(self.store.put(&self.path(key), payload)).map(|_| ()).map_err(|e| store_err(key, e))
    }

    fn get(&self, key: &str) -> BResult<Vec<u8>> {
        self.runtime.block_on(async {
            let r = self.store.get(&self.path(key)).await.map_err(|e| store_err(key, e))?;
            r.bytes().await.map(|b| b.to_vec()).map_err(|e| store_err(key, e))
        })
    }

    fn get_range(&self, key: &str, offset: u64, len: u64) -> BResult<Vec<u8>> {
        let got = self
            .runtime
            .block_on(self.store.get_range(&self.path(key), offset..offset + len))
            .map_err(|e| store_err(key, e))?;
        if got.len() as u64 != len {
            return Err(BackendError::ShortRead { key: key.into(), offset, wanted: len, got: got.len() as u64 });
        }
        Ok(got.to_vec())
    }

    fn list(&self, prefix: &str) -> BResult<Vec<ObjectInfo>> {
        // object_store lists by path segments: list the directory, filter by prefix.
        let full = self.path(prefix).to_string();
        let dir = full.rfind('/').map(|i| StorePath::from(&full[..i]));
        let strip = if self.prefix.is_empty() { String::new() } else { format!("{}/", self.prefix) };
        self.runtime.block_on(async {
            let mut out = Vec::new();
            let mut s = self.store.list(dir.as_ref());
            while let Some(m) = s.next().await {
                let m = m.map_err(|e| store_err(prefix, e))?;
                let name = m.location.to_string();
                if let Some(key) = name.strip_prefix(&strip).filter(|k| k.starts_with(prefix)) {
                    out.push(ObjectInfo { key: key.to_string(), size: m.size });
                }
            }
            Ok(out)
        })
    }

    fn delete(&self, key: &str) -> BResult<()> {
        match self.runtime.block_on(self.store.delete(&self.path(key))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(other(key, e)),
        }
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn locations() {
        assert_eq!(
            super::parse("s3:http://127.0.0.1:3900/backups/cairn/prod").unwrap(),
            ("http://127.0.0.1:3900".into(), "backups".into(), "cairn/prod".into())
        );
        assert_eq!(super::parse("s3:https://s3.example.com/b").unwrap().2, "");
        for bad in ["s3:ftp://x/b", "s3:http://x", "s3:http:///b", "s3:bucket"] {
            assert!(super::parse(bad).is_err(), "{bad}");
        }
    }
}
