//! `renkei admin`: account management straight against the stores, for
//! operators setting up a platform before anyone can sign in.

use std::io::Read;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use renkei_core::{Actor, Role, SystemClock};
use renkei_server::accounts::{NewUser, Password};

/// Account administration.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account.
    CreateUser {
        /// Sign-in name (3–64 of a-z 0-9 . _ -).
        #[arg(long)]
        username: String,
        /// provider, patient, applicant, reviewer, operator or auditor.
        #[arg(long)]
        role: Role,
        /// Name shown on pages (default: the user name).
        #[arg(long)]
        display_name: Option<String>,
        /// Organization (created if new).
        #[arg(long)]
        org: Option<String>,
        /// The organization's country (ISO 3166-1 alpha-2).
        #[arg(long, default_value = "JP")]
        country: String,
        /// Read the password from standard input (otherwise the account can
        /// sign in only with API tokens).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Create an API token for an account; it is printed once.
    CreateToken {
        /// The account's sign-in name.
        #[arg(long)]
        username: String,
        /// What the token is for.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

pub async fn run(config: renkei_server::Config, cmd: AdminCommand) -> anyhow::Result<()> {
    let clock = Arc::new(SystemClock);
    let stores = renkei_store::Stores::open(&config.data_dir, &config.store).await?;
    let audit = renkei_audit::AuditLog::open_trusting(
        &stores,
        clock.clone(),
        &config.audit.trust(&config.data_dir)?,
    )
    .await
    .context("opening the audit log (is `renkei serve` running on this data directory?)")?;
    // Each change is recorded in the log before it commits.
    let accounts =
        renkei_server::accounts::Accounts::open(&stores, clock.clone(), Arc::new(audit.clone()))
            .await?;
    let cli = Actor::System {
        component: "cli".to_owned(),
    };
    match cmd {
        AdminCommand::CreateUser {
            username,
            role,
            display_name,
            org,
            country,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading the password from standard input")?;
                Some(Password::new(
                    text.trim_end_matches(['\r', '\n']).to_owned(),
                )?)
            } else {
                None
            };
            let org_id = match org {
                Some(name) => Some(accounts.ensure_org(&cli, &name, &country).await?),
                None => None,
            };
            let user = accounts
                .create_user(
                    &cli,
                    NewUser {
                        display_name: display_name.unwrap_or_else(|| username.clone()),
                        username,
                        role,
                        org_id,
                        password,
                    },
                )
                .await?;
            println!("created {} ({}) id {}", user.username, user.role, user.id);
        }
        AdminCommand::CreateToken { username, name } => {
            let user = accounts
                .user_by_name(&username)
                .await?
                .with_context(|| format!("no enabled account named {username:?}"))?;
            let (info, token) = accounts.create_token(&user, &name).await?;
            eprintln!(
                "token {} for {} (shown once; keep it):",
                info.id, user.username
            );
            println!("{}", token.expose());
        }
    }
    audit.close().await;
    stores.close().await;
    Ok(())
}
