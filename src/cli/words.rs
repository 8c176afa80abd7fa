//! The CLI's wording of library errors: the library names what is wrong
//! in its own terms; here the flags and commands that fix it are added.

use cairn::source::sqlite::SqliteError;
use cairn::Error;

/// The one-line message for an error that ends a command.
pub fn message(e: &anyhow::Error) -> String {
    let Some(err) = e.downcast_ref::<Error>() else { return e.to_string() };
    match err {
        Error::NotARepository { path } => format!(
            "{path} is not a cairn repository (no config object): run `cairn init --repo {path}` first, or fix --repo / CAIRN_REPOSITORY"
        ),
        Error::TargetNotEmpty(p) => {
            format!("restore target {} is not empty: choose an empty directory or pass --overwrite", p.display())
        }
        Error::PasswordRequired => "the repository is encrypted: set CAIRN_PASSWORD, pass --password-file FILE or --password-command CMD (or CAIRN_PASSWORD_FILE, CAIRN_PASSWORD_COMMAND), or run in a terminal".into(),
        Error::NotEncrypted => "the repository is not encrypted (created with --no-encryption), so it has no keys".into(),
        Error::ReusedObjectDeleted { key } => format!(
            "{key}, which this backup reuses, was deleted by a prune meanwhile (the backup ran longer than prune's --grace); nothing was committed: run the backup again"
        ),
        Error::PolicyKeepsNothing => {
            "the policy keeps nothing: give at least one --keep-* option with a count above 0".into()
        }
        Error::InterruptedBackup { packs, bytes } => format!(
            "interrupted: no snapshot was written; the {packs} pack(s) ({}) already stored were indexed, so the next backup of the same data stores only the rest",
            super::human(*bytes)
        ),
        Error::InterruptedRestore { done, total } => format!(
            "interrupted: {done} of {total} files restored and in place, no temporary file left; run the same restore with --overwrite to finish"
        ),
        Error::SnapshotTwice => "give either a snapshot id or --at TIME, not both: --at picks the snapshot".into(),
        Error::AmbiguousSeries { count, at } => {
            format!("snapshots of {count} different source sets were taken before {at}: pass --source PATH to say which")
        }
        Error::Source(s) => {
            let dynerr: &(dyn std::error::Error + 'static) = &**s;
            match dynerr.downcast_ref::<SqliteError>() {
                Some(s) => sqlite(s),
                None => err.to_string(),
            }
        }
        _ => err.to_string(),
    }
}

fn sqlite(e: &SqliteError) -> String {
    match e {
        SqliteError::Locked { path, secs } => format!(
            "{} stayed locked by another connection for more than {secs}s (--max-hold); no snapshot was written: retry when the writer is idle or raise --max-hold",
            path.display()
        ),
        SqliteError::HoldExceeded { path, secs } => format!(
            "reading {} took longer than --max-hold {secs}s, so the read transaction was ended to stop holding up writers; no snapshot was written: raise --max-hold",
            path.display()
        ),
        SqliteError::TargetExists(p) => format!(
            "{} already exists: pass --overwrite to replace it (fast mode, the old file is kept until the new one passes every check) or restore to a new path",
            p.display()
        ),
        SqliteError::NotASymlink(p) => format!(
            "--switch-symlink {}: it exists and is not a symlink; give the symlink the application opens",
            p.display()
        ),
        other => other.to_string(),
    }
}
