//! `map admin …`: operator commands against Auth's database. No default
//! passwords anywhere: `bootstrap` takes the first administrator's password
//! from a file or the environment; `create-api-key` prints a key once, for a
//! Kubernetes secret.

use std::path::PathBuf;

use anyhow::Context as _;
use map_auth::{AuthError, AuthSettings, Keyset};
use map_kit::{
    System,
    authn::RoleRef,
    config::{LogArgs, ServiceArgs, secret},
    telemetry,
};
use secrecy::{ExposeSecret as _, SecretString};

/// The operator commands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Create the first administrator (auth:admin); refused when an active
    /// administrator exists.
    Bootstrap {
        /// Sign-in email of the administrator.
        #[arg(long, env = "MAP_ADMIN_EMAIL")]
        email: String,
        /// Name shown to others.
        #[arg(long, env = "MAP_ADMIN_NAME", default_value = "Administrator")]
        display_name: String,
        /// File holding the password (12 to 128 characters; one trailing
        /// newline is ignored).
        #[arg(long, env = "MAP_ADMIN_PASSWORD_FILE", conflicts_with = "password")]
        password_file: Option<PathBuf>,
        /// The password itself, from the environment (never a flag on a
        /// shared machine).
        #[arg(long, env = "MAP_ADMIN_PASSWORD", value_parser = secret, hide_env_values = true)]
        password: Option<SecretString>,
        /// Idempotent (a Kubernetes Job on every install and upgrade): when
        /// an active administrator exists, exit 0 and change nothing.
        #[arg(long)]
        if_absent: bool,
        #[command(flatten)]
        args: ServiceArgs,
        #[command(flatten)]
        check: crate::cli::CheckConfig,
    },
    /// Create an API key and print its secret once (e.g. for the
    /// MAP_AUTH_API_KEY of another system).
    CreateApiKey {
        /// Name of the key, e.g. the calling system.
        #[arg(long)]
        name: String,
        /// Role as system:role, e.g. auth:service; repeatable.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[command(flatten)]
        args: ServiceArgs,
    },
    /// Put the outbox rows the relay set aside (refused by the broker too
    /// often) back in line, after the cause is fixed; prints how many.
    OutboxRetry {
        /// auth, ams, bms, tts or hdts.
        system: System,
        #[command(flatten)]
        args: ServiceArgs,
    },
}

fn parse_role(s: &str) -> anyhow::Result<RoleRef> {
    let (system, role) = s
        .split_once(':')
        .with_context(|| format!("role '{s}' is not system:role, e.g. auth:service"))?;
    Ok(RoleRef {
        system: system.to_owned(),
        role: role.to_owned(),
    })
}

fn read_password(
    file: Option<&PathBuf>,
    env: Option<&SecretString>,
) -> anyhow::Result<SecretString> {
    match (file, env) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the password file {}", path.display()))?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            Ok(SecretString::from(text.to_owned()))
        }
        (None, Some(p)) => Ok(p.clone()),
        (None, None) => anyhow::bail!("give --password-file or MAP_ADMIN_PASSWORD"),
    }
}

/// Explains a domain error for the operator (never quoting a secret).
fn explain(e: AuthError) -> anyhow::Error {
    match e {
        AuthError::InvalidArgument(v) => anyhow::anyhow!(
            "invalid: {}",
            v.iter()
                .map(|f| format!("{}: {}", f.field, f.description))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!(other),
    }
}

#[allow(clippy::print_stdout)] // the secret is the command's output, once
pub async fn run(command: AdminCommand, log: &LogArgs) -> anyhow::Result<()> {
    let guard = telemetry::init("map-admin", log.log_format, &log.log)?;
    // The command line signs no tokens: a throwaway key satisfies the domain.
    let settings = AuthSettings::with_keys(Keyset::generate().0);
    let result = async {
        match command {
            AdminCommand::Bootstrap {
                email,
                display_name,
                password_file,
                password,
                if_absent,
                args,
                check,
            } => {
                let password = read_password(password_file.as_ref(), password.as_ref())?;
                let mut violations = map_kit::Violations::default();
                map_auth::users::checks::check_new_password(
                    &mut violations,
                    "MAP_ADMIN_PASSWORD",
                    password.expose_secret(),
                );
                if !violations.is_empty() {
                    anyhow::bail!("MAP_ADMIN_PASSWORD must be 12 to 128 characters");
                }
                let config = args.validate(System::Auth, true)?;
                if check.done("admin bootstrap") {
                    return Ok(());
                }
                crate::serve::migrate_system(System::Auth, &config.database_url).await?;
                let db = map_kit::db::Db::connect(&config.database_url)
                    .await
                    .context("connecting to the auth database")?;
                let auth = crate::auth::open(&db, settings).await;
                if if_absent && auth.has_admin().await.map_err(explain)? {
                    eprintln!("an active administrator exists: nothing to do");
                    return Ok(());
                }
                let created = match auth
                    .bootstrap_admin(&email, &display_name, Some(password))
                    .await
                {
                    Ok(created) => created,
                    // Another bootstrap won the race between the check and the insert.
                    Err(_) if if_absent && auth.has_admin().await.unwrap_or(false) => {
                        eprintln!("an active administrator exists: nothing to do");
                        return Ok(());
                    }
                    Err(e) => return Err(explain(e)),
                };
                println!(
                    "administrator {} created (id {})",
                    created.user.email, created.user.id
                );
            }
            AdminCommand::CreateApiKey { name, roles, args } => {
                let roles = roles
                    .iter()
                    .map(|r| parse_role(r))
                    .collect::<anyhow::Result<_>>()?;
                let config = args.validate(System::Auth, true)?;
                let db = map_kit::db::Db::connect(&config.database_url)
                    .await
                    .context("connecting to the auth database")?;
                let auth = crate::auth::open(&db, settings).await;
                let key = auth
                    .create_api_key(None, &name, roles)
                    .await
                    .map_err(explain)?;
                eprintln!(
                    "api key {} ({}) created; its secret follows, shown only now",
                    key.key.id, key.key.name
                );
                println!("{}", key.secret.expose_secret());
            }
            AdminCommand::OutboxRetry { system, args } => {
                let config = args.validate(system, true)?;
                let db = map_kit::db::Db::connect(&config.database_url)
                    .await
                    .with_context(|| format!("connecting to {system}'s database"))?;
                let waiting = map_kit::outbox::count_set_aside(&db).await?;
                let retried = map_kit::outbox::retry_set_aside(&db).await?;
                println!("{retried} set-aside outbox rows of {system} back in line (of {waiting})");
            }
        }
        anyhow::Ok(())
    }
    .await;
    guard.shutdown(std::time::Duration::from_secs(2)).await;
    result
}
