//! Where a repository is: `--repo DIR` (a local directory) or
//! `--repo s3:http(s)://ENDPOINT/BUCKET[/PREFIX]` (or `s3://BUCKET[/PREFIX]`); any other
//! scheme-looking value is refused rather than made a directory. The
//! storage flags (cache, retries) become library options here.

use anyhow::Result;
use cairn::backend::cached::CachedBackend;
use cairn::backend::counted::{Counted, Requests};
use cairn::backend::s3::{S3Backend, S3Options};
use cairn::backend::Backend;
use std::path::PathBuf;
use std::sync::Arc;

/// How remote storage is used: every command's flags.
#[derive(clap::Args, Clone, Debug)]
pub struct Storage {
    /// Keep the metadata cache of a remote repository here (default
    /// $XDG_CACHE_HOME/cairn, else ~/.cache/cairn); safe to delete.
    #[arg(long, global = true, value_name = "DIR", env = "CAIRN_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Fetch everything from the repository, keeping no metadata cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// The metadata cache's bound, MiB (least recently used entries go).
    #[arg(long, global = true, value_name = "MIB", default_value_t = 1024)]
    pub cache_size: u64,
    /// Retry a failed request to an object store (refused, timed out,
    /// 5xx, throttled) with backoff for this long before giving up.
    #[arg(long, global = true, value_name = "DURATION", default_value = "2m", env = "CAIRN_RETRY_TIMEOUT")]
    pub retry_timeout: String,
    /// Requests to an object store in flight at once (uploads, restore reads).
    #[arg(long, global = true, value_name = "N", default_value_t = 4)]
    pub s3_connections: usize,
    /// What this run asked of remote storage, for the metrics and -v.
    #[arg(skip)]
    pub requests: Arc<Requests>,
}

impl Storage {
    fn s3(&self) -> Result<S3Options> {
        let span = super::forget::parse_span("--retry-timeout", &self.retry_timeout)?;
        let d: std::time::Duration = span
            .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| {
                cairn::Error::InvalidArgument(format!(
                    "--retry-timeout {:?}: give a duration like 2m",
                    self.retry_timeout
                ))
            })?;
        Ok(S3Options { retry_timeout: d, connections: self.s3_connections, ..S3Options::default() })
    }

    fn cache_root(&self) -> Option<PathBuf> {
        if let Some(d) = &self.cache_dir {
            return Some(d.clone());
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("cairn"))
    }
}

/// The backend `repo` names; a remote one behind its metadata cache
/// unless `cached` is false (`check` reads the repository itself).
pub fn backend(repo: Option<PathBuf>, storage: &Storage, cached: bool) -> Result<Arc<dyn Backend>> {
    let given = repo.clone().map(|r| r.to_string_lossy().into_owned());
    if let Some(loc) = given.filter(|l| l.starts_with("s3:")) {
        let s3 =
            S3Backend::open(&loc, storage.s3()?).map_err(|e| cairn::Error::InvalidArgument(format!("--repo {e}")))?;
        // Counted under the cache: only real requests count.
        let b: Arc<dyn Backend> = Arc::new(Counted::new(Arc::new(s3), storage.requests.clone()));
        let root = storage.cache_root().filter(|_| cached && !storage.no_cache);
        return Ok(match root {
            // A cache that cannot be made costs requests, not correctness.
            Some(root) => match CachedBackend::new(b.clone(), &root, storage.cache_size << 20) {
                Ok(c) => Arc::new(c),
                Err(e) => {
                    eprintln!("warning: no metadata cache in {}: {e}", root.display());
                    b
                }
            },
            None => b,
        });
    }
    Ok(Arc::new(cairn::backend::local::LocalBackend::new(repo_path(repo)?)))
}

/// The backend for a new repository: an empty or absent directory, or an
/// S3 location holding nothing yet.
pub fn new_backend(repo: Option<PathBuf>, storage: &Storage) -> Result<Arc<dyn Backend>> {
    let b = backend(repo.clone(), storage, false)?;
    match repo.as_ref().is_some_and(|r| r.to_string_lossy().starts_with("s3:")) {
        true => {
            if !b.list("").map_err(cairn::Error::from)?.is_empty() {
                let msg = format!(
                    "--repo {}: that location already holds objects; give an empty bucket or prefix",
                    b.location()
                );
                return Err(cairn::Error::InvalidArgument(msg).into());
            }
        }
        false => cairn::Repository::check_can_init(&repo_path(repo)?)?,
    }
    Ok(b)
}

/// A local repository directory (remote schemes other than s3: refused).
pub fn repo_path(repo: Option<PathBuf>) -> Result<PathBuf> {
    let repo = repo.ok_or_else(|| {
        cairn::Error::InvalidArgument("no repository given: pass --repo DIR or set CAIRN_REPOSITORY".into())
    })?;
    if let Some(scheme) = remote_scheme(&repo.to_string_lossy()) {
        return Err(cairn::Error::InvalidArgument(format!(
            "--repo {}: {scheme} repositories are not supported yet, only a local directory (write ./{} for a directory of that name)",
            repo.display(),
            repo.display()
        ))
        .into());
    }
    Ok(repo)
}

/// The scheme of a repository location that names remote storage
/// (`sftp:user@host:/path`, `sftp:user@host:/path`, `rest:…`, any `scheme://…`),
/// which must not silently become a local directory called `s3:host`.
fn remote_scheme(location: &str) -> Option<String> {
    const PREFIXES: [&str; 8] = ["sftp", "rest", "b2", "azure", "gs", "swift", "rclone", "http"];
    let (scheme, rest) = location.split_once(':')?;
    let plain = !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    (plain && (rest.starts_with("//") || PREFIXES.contains(&scheme.to_ascii_lowercase().as_str())))
        .then(|| scheme.to_string())
}
