//! The shared harness of Auth's integration tests: a fresh auth database
//! on the running db_tests! variant's backend (SQLite temp file, or a new
//! PostgreSQL database) with the departments IT and FINANCE, the real
//! server on port 0, and helpers to make users, keys and authenticated
//! requests.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use map_auth::{Auth, AuthSettings, Keyset, users::NewUser};
use map_contracts::auth::v1::{
    self as pb, admin_service_client::AdminServiceClient, auth_service_client::AuthServiceClient,
};
use map_kit::{
    authn::{Principal, RoleRef},
    testing::{Caller, TestDb, TestServer},
};
use secrecy::{ExposeSecret as _, SecretString};
use tonic::{Request, transport::Channel};

/// One test's Auth: database, domain, server, channel.
pub struct Harness {
    pub db: TestDb,
    pub auth: Arc<Auth>,
    pub server: TestServer,
    pub channel: Channel,
}

/// A credential to call with.
#[derive(Clone, Debug)]
pub enum Cred {
    Anonymous,
    Bearer(String),
    ApiKey(String),
}

/// A message with the credential's metadata.
pub fn req<T>(message: T, cred: &Cred) -> Request<T> {
    let mut r = Request::new(message);
    match cred {
        Cred::Anonymous => {}
        Cred::Bearer(t) => {
            r.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        Cred::ApiKey(k) => {
            r.metadata_mut().insert("x-api-key", k.parse().unwrap());
        }
    }
    r
}

pub const PASSWORD: &str = "correct horse battery staple";

pub fn role(system: &str, role: &str) -> RoleRef {
    RoleRef {
        system: system.into(),
        role: role.into(),
    }
}

pub fn pb_role(system: &str, role: &str) -> pb::RoleRef {
    pb::RoleRef {
        system: system.into(),
        role: role.into(),
    }
}

#[allow(unused_imports)] // not every test binary checks statuses
pub use map_kit::testing::{expect_err, fields, reason};

impl Harness {
    /// Auth with default settings.
    pub async fn start() -> Harness {
        Harness::with(|_| {}).await
    }

    /// Auth with settings adjusted by `tune`.
    pub async fn with(tune: impl FnOnce(&mut AuthSettings)) -> Harness {
        let db = TestDb::new::<map_migrations::auth::Migrator>().await;
        let mut settings = AuthSettings::with_keys(Keyset::generate().0);
        tune(&mut settings);
        let auth = Auth::new(db.db.clone(), settings);
        // The departments the tests' users belong to.
        for (code, name) in [("IT", "Information Technology"), ("FINANCE", "Finance")] {
            auth.create_department(None, code, name).await.unwrap();
        }
        let server = TestServer::start(map_auth::grpc_server(auth.clone())).await;
        let channel = server.channel().await;
        Harness {
            db,
            auth,
            server,
            channel,
        }
    }

    pub fn client(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(self.channel.clone())
    }

    pub fn admin_client(&self) -> AdminServiceClient<Channel> {
        AdminServiceClient::new(self.channel.clone())
    }

    /// A user made through the domain, with the test password.
    pub async fn user(&self, email: &str, roles: &[(&str, &str)]) -> pb::User {
        let created = self
            .auth
            .create_user(
                None,
                NewUser {
                    email: email.into(),
                    display_name: format!("User {email}"),
                    department: "IT".into(),
                    password: Some(SecretString::from(PASSWORD)),
                    roles: roles.iter().map(|(s, r)| role(s, r)).collect(),
                },
            )
            .await
            .unwrap();
        pb::User {
            id: created.user.id,
            email: created.user.email,
            version: created.user.version,
            ..Default::default()
        }
    }

    /// Signs in over gRPC.
    pub async fn login(&self, email: &str) -> pb::LoginResponse {
        self.client()
            .login(pb::LoginRequest {
                email: email.into(),
                password: PASSWORD.into(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// A user with the roles, signed in: its bearer credential.
    pub async fn signed_in(&self, email: &str, roles: &[(&str, &str)]) -> (pb::User, Cred) {
        let user = self.user(email, roles).await;
        let tokens = self.login(email).await;
        (user, Cred::Bearer(tokens.access_token))
    }

    /// An administrator, signed in.
    pub async fn admin(&self) -> (pb::User, Cred) {
        self.signed_in("admin@example.com", &[("auth", "admin")])
            .await
    }

    /// An API key with the roles.
    pub async fn api_key(&self, name: &str, roles: &[(&str, &str)]) -> Cred {
        let key = self
            .auth
            .create_api_key(None, name, roles.iter().map(|(s, r)| role(s, r)).collect())
            .await
            .unwrap();
        Cred::ApiKey(key.secret.expose_secret().to_owned())
    }

    /// The credential as a matrix caller, standing for the principal Auth
    /// validates it to.
    pub async fn caller(&self, cred: &Cred) -> Caller {
        let (secret, make): (&str, fn(&str, Principal) -> Caller) = match cred {
            Cred::Anonymous => return Caller::anonymous(),
            Cred::Bearer(t) => (t, Caller::bearer),
            Cred::ApiKey(k) => (k, Caller::api_key),
        };
        let principal = self.auth.validate(secret).await.unwrap().unwrap().principal;
        make(secret, (*principal).clone())
    }

    /// ValidateToken's verdict on a token.
    pub async fn valid(&self, token: &str) -> bool {
        self.client()
            .validate_token(pb::ValidateTokenRequest {
                token: token.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .valid
    }
}
