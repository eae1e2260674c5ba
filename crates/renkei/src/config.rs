//! Loading the configuration: defaults in code < `renkei.toml` < `RENKEI_*`
//! variables (`__` nests: `RENKEI_SERVER__LISTEN`) < command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use renkei_server::Config;

/// Variables that share the prefix but are not configuration.
const NOT_CONFIG: &[&str] = &[
    "log",
    "test_database_url",
    "test_pgport",
    "bench_database_url",
];

/// Flags every command that opens the platform accepts.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonFlags {
    /// Configuration file (default: ./renkei.toml if it exists).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Data directory (SQLite files, the local lake, keys).
    #[arg(long, value_name = "DIR", global = true)]
    pub data: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", global = true)]
    pub listen: Option<SocketAddr>,
}

/// Reads the layered configuration.
pub fn load(flags: &CommonFlags) -> anyhow::Result<Config> {
    let mut figment = Figment::new();
    let default_file = Path::new("renkei.toml");
    match &flags.config {
        Some(path) => {
            anyhow::ensure!(
                path.exists(),
                "configuration file {} does not exist",
                path.display()
            );
            figment = figment.merge(Toml::file(path));
        }
        None if default_file.exists() => figment = figment.merge(Toml::file(default_file)),
        None => {}
    }
    figment = figment.merge(Env::prefixed("RENKEI_").split("__").ignore(NOT_CONFIG));
    if let Some(data) = &flags.data {
        figment = figment.merge(Serialized::default("data_dir", data));
    }
    if let Some(listen) = &flags.listen {
        figment = figment.merge(Serialized::default("server.listen", listen));
    }
    let source = flags
        .config
        .as_deref()
        .unwrap_or(default_file)
        .display()
        .to_string();
    figment
        .extract::<Config>()
        .with_context(|| format!("reading configuration ({source} and RENKEI_* variables)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_parses_and_documents_every_section() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../renkei.example.toml");
        let text =
            std::fs::read_to_string(&path).expect("renkei.example.toml exists at the repo root");
        let config: Config = toml::from_str(&text).expect("the example parses as a Config");
        config
            .deployment
            .validate()
            .expect("the example deployment is valid");
        for section in ["[server]", "[accounts]", "[store.database]", "[deployment]"] {
            assert!(text.contains(section), "example lacks {section}");
        }
    }

    #[test]
    fn a_misspelt_key_is_named() {
        let err = toml::from_str::<Config>("[server]\nlisten_addr = \"127.0.0.1:1\"\n")
            .expect_err("unknown key");
        assert!(err.to_string().contains("listen_addr"), "{err}");
    }
}
