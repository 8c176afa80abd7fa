//! `cairn key list|add|remove|passwd`

use super::{get_password, print_json};
use anyhow::Result;
use cairn::repo::keys;
use cairn::seal::crypto::KdfParams;
use cairn::Repository;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum Command {
    /// List the key files; `*` marks the one that opened the repository.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a key for another password (from CAIRN_NEW_PASSWORD,
    /// --new-password-file, or typed twice).
    Add(NewPassword),
    /// Remove a key file by id or unique prefix (never the last one).
    Remove { id: String },
    /// Change the password of the key that opened the repository.
    Passwd(NewPassword),
}

#[derive(clap::Args)]
pub struct NewPassword {
    /// File holding the new password.
    #[arg(long)]
    new_password_file: Option<PathBuf>,
    /// Argon2id memory in KiB for the new key.
    #[arg(long, default_value_t = KdfParams::default().memory_kib)]
    kdf_memory_kib: u32,
    /// Argon2id passes for the new key.
    #[arg(long, default_value_t = KdfParams::default().iterations)]
    kdf_iterations: u32,
}

impl NewPassword {
    fn get(&self) -> Result<(String, KdfParams)> {
        let src = super::PasswordSource {
            flag_file: self.new_password_file.clone(),
            flag: "--new-password-file",
            env: "CAIRN_NEW_PASSWORD",
            command: None,
            command_flag: "CAIRN_NEW_PASSWORD_COMMAND",
        };
        let params = super::init::kdf_params(self.kdf_memory_kib, self.kdf_iterations)?;
        Ok((get_password(&src, "new password: ", true)?, params))
    }
}

impl Command {
    pub fn run(self, repo: &Repository) -> Result<i32> {
        match self {
            Command::List { json } => {
                let all = keys::list(repo)?;
                let rows: Vec<serde_json::Value> = all
                    .iter()
                    .map(|k| match &k.file {
                        Ok(f) => serde_json::json!({
                            "id": k.id, "current": k.current, "host": f.host, "user": f.user,
                            "created": jiff::Timestamp::from_nanosecond(f.created_ns as i128).map(|t| t.to_string()).unwrap_or_default(),
                            "kdf": {"algorithm": "argon2id", "memory_kib": f.params.memory_kib, "iterations": f.params.iterations, "parallelism": f.params.parallelism},
                        }),
                        Err(e) => serde_json::json!({"id": k.id, "current": k.current, "error": e.to_string()}),
                    })
                    .collect();
                if json {
                    print_json(&rows);
                } else {
                    for r in &rows {
                        let mark = if r["current"].as_bool() == Some(true) { "*" } else { " " };
                        match r.get("error") {
                            Some(e) => println!("{mark} {}  DAMAGED: {}", &r["id"].as_str().unwrap_or("")[..8], e),
                            None => println!(
                                "{mark} {}  {}  {}@{}  argon2id m={} KiB t={}",
                                &r["id"].as_str().unwrap_or("")[..8],
                                r["created"].as_str().unwrap_or(""),
                                r["user"].as_str().unwrap_or(""),
                                r["host"].as_str().unwrap_or(""),
                                r["kdf"]["memory_kib"],
                                r["kdf"]["iterations"]
                            ),
                        }
                    }
                }
            }
            Command::Add(n) => {
                let (pw, params) = n.get()?;
                let id = keys::add(repo, &pw, params)?;
                println!("added key {}", &id[..8]);
            }
            Command::Remove { id } => {
                let id = keys::resolve(repo, &id)?;
                keys::remove(repo, &id)?;
                println!("removed key {}", &id[..8]);
            }
            Command::Passwd(n) => {
                let (pw, params) = n.get()?;
                let id = keys::change_password(repo, &pw, params)?;
                println!("password changed (new key {})", &id[..8]);
            }
        }
        Ok(0)
    }
}
