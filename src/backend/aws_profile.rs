//! The AWS shared files for what the environment leaves unset: a profile's
//! keys (`~/.aws/credentials`), region and endpoint (`~/.aws/config`), as
//! the AWS CLI reads them — profile from `AWS_PROFILE` (else `default`),
//! files from `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`.

use std::path::PathBuf;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

fn file(var: &str, name: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws").join(name)))
}

fn section(path: Option<PathBuf>, name: &str) -> Option<ini::Properties> {
    let ini = ini::Ini::load_from_file(path?).ok()?;
    ini.section(Some(name)).cloned()
}

/// The profile's settings; absent files or keys are `None`, never an error.
pub fn load() -> Profile {
    let name = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let creds = section(file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), &name);
    // In the config file a profile other than the default is `[profile NAME]`.
    let config_name = if name == "default" { name.clone() } else { format!("profile {name}") };
    let config = section(file("AWS_CONFIG_FILE", "config"), &config_name);
    let get = |s: &Option<ini::Properties>, k: &str| s.as_ref().and_then(|p| p.get(k)).map(str::to_string);
    Profile {
        access_key_id: get(&creds, "aws_access_key_id"),
        secret_access_key: get(&creds, "aws_secret_access_key"),
        session_token: get(&creds, "aws_session_token"),
        region: get(&config, "region"),
        endpoint_url: get(&config, "endpoint_url"),
    }
}
