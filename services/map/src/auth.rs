//! Composition of Auth for `map serve auth`, `map dev` and `map admin`:
//! opening the domain service, the dev signing key, the dev first admin and
//! the dev service API keys.

use std::{collections::BTreeMap, path::Path, sync::Arc};

use anyhow::Context as _;
use map_auth::{Auth, AuthSettings, Keyset};
use map_kit::{System, authn::RoleRef, db::Db};
use secrecy::{ExposeSecret as _, SecretString};

/// Auth over its (migrated) database, warmed up.
pub async fn open(db: &Db, settings: AuthSettings) -> Arc<Auth> {
    let auth = Auth::new(db.clone(), settings);
    auth.warm_up().await;
    auth
}

/// The dev signing key: read from `<data dir>/auth-signing-key.pem`, or
/// generated and stored there (owner-only) on first start, so restarting
/// `map dev` keeps issued tokens valid.
pub fn dev_keyset(data_dir: &Path) -> anyhow::Result<Keyset> {
    let path = data_dir.join("auth-signing-key.pem");
    if path.exists() {
        let pem = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return Keyset::from_pem(&pem).with_context(|| format!("{} is not usable", path.display()));
    }
    let (keys, pem) = Keyset::generate();
    write_private(&path, pem.expose_secret())?;
    Ok(keys)
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(content.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// What `map dev` prepared in Auth.
#[derive(Debug)]
pub struct DevAuth {
    /// Each other system's `auth:service` API key, minted in process and
    /// never printed; handed to the systems as their `MAP_AUTH_API_KEY`.
    pub service_keys: BTreeMap<System, SecretString>,
}

/// `map dev`'s Auth setup: the first administrator with a random password
/// printed once (only when no active administrator exists yet), and a fresh
/// `auth:service` key per other system (the previous dev keys are revoked).
pub async fn dev_setup(auth: &Auth) -> anyhow::Result<DevAuth> {
    if !auth.has_admin().await? {
        let created = auth
            .bootstrap_admin("admin@map.local", "Administrator", None)
            .await
            .context("creating the first administrator")?;
        if let Some(password) = created.generated_password {
            print_admin(&created.user.email, &password);
        }
    }
    let mut service_keys = BTreeMap::new();
    for system in System::ALL.into_iter().filter(|s| *s != System::Auth) {
        let name = format!("{system} (map dev)");
        auth.revoke_cli_keys_named(&name).await?;
        let key = auth
            .create_api_key(
                None,
                &name,
                vec![RoleRef {
                    system: "auth".into(),
                    role: "service".into(),
                }],
            )
            .await
            .with_context(|| format!("minting the API key of {system}"))?;
        service_keys.insert(system, key.secret);
    }
    Ok(DevAuth { service_keys })
}

#[allow(clippy::print_stdout)] // shown once, on purpose: there is no other way to learn it
fn print_admin(email: &str, password: &SecretString) {
    println!("First administrator created (shown only now; change it with ChangePassword):");
    println!("  email:    {email}");
    println!("  password: {}", password.expose_secret());
}
