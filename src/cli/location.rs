//! Where a repository is: `--repo DIR` (a local directory) or
//! `--repo s3:http(s)://ENDPOINT/BUCKET[/PREFIX]`; any other
//! scheme-looking value is refused rather than made a directory.

use anyhow::Result;
use cairn::backend::Backend;
use std::path::PathBuf;
use std::sync::Arc;

/// The backend `repo` names.
pub fn backend(repo: Option<PathBuf>) -> Result<Arc<dyn Backend>> {
    let given = repo.clone().map(|r| r.to_string_lossy().into_owned());
    if let Some(loc) = given.filter(|l| l.starts_with("s3:")) {
        let b = cairn::backend::s3::S3Backend::open(&loc)
            .map_err(|e| cairn::Error::InvalidArgument(format!("--repo {e}")))?;
        return Ok(Arc::new(b));
    }
    Ok(Arc::new(cairn::backend::local::LocalBackend::new(repo_path(repo)?)))
}

/// The backend for a new repository: an empty or absent directory, or an
/// S3 location holding nothing yet.
pub fn new_backend(repo: Option<PathBuf>) -> Result<Arc<dyn Backend>> {
    let b = backend(repo.clone())?;
    match repo.as_ref().is_some_and(|r| r.to_string_lossy().starts_with("s3:")) {
        true => {
            if !b.list("")?.is_empty() {
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
