//! Callers for tests: credentials and the principals they stand for, and a
//! [`FakeValidator`] that knows them, so a system's handlers can be tested
//! behind the real authentication layer without a running Auth.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use futures::future::BoxFuture;

use crate::{
    ApiError,
    authn::{API_KEY, AUTHORIZATION, Principal, PrincipalKind, RoleRef, Validator},
};

/// One caller: a name for messages, the credential it sends (none for an
/// anonymous caller) and who the credential stands for.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Shown in assertion messages, e.g. `tts:agent`.
    pub name: String,
    /// Metadata key and value of the credential.
    pub credential: Option<(&'static str, String)>,
    /// Who the credential stands for (kind and roles matter to policies).
    pub principal: Option<Principal>,
}

impl Caller {
    /// A caller without credentials.
    pub fn anonymous() -> Caller {
        Caller {
            name: "anonymous".into(),
            credential: None,
            principal: None,
        }
    }

    /// A caller sending `credential` that no validator knows: such a caller
    /// is refused as UNAUTHENTICATED wherever a credential is needed.
    pub fn invalid(name: &str, key: &'static str, value: &str) -> Caller {
        Caller {
            name: name.into(),
            credential: Some((key, value.into())),
            principal: None,
        }
    }

    /// A person signed in with `token`, standing for `principal`.
    pub fn bearer(token: &str, principal: Principal) -> Caller {
        Caller {
            name: describe(&principal),
            credential: Some((AUTHORIZATION, format!("Bearer {token}"))),
            principal: Some(principal),
        }
    }

    /// A machine calling with the API key `secret`, standing for `principal`.
    pub fn api_key(secret: &str, principal: Principal) -> Caller {
        Caller {
            name: describe(&principal),
            credential: Some((API_KEY, secret.into())),
            principal: Some(principal),
        }
    }

    /// `message` as a request carrying this caller's credential.
    ///
    /// # Panics
    /// When the credential is not valid metadata.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some((key, value)) = &self.credential {
            request
                .metadata_mut()
                .insert(*key, value.parse().expect("credential metadata"));
        }
        request
    }
}

fn describe(p: &Principal) -> String {
    let kind = match p.kind {
        PrincipalKind::User => "user",
        PrincipalKind::ApiKey => "key",
    };
    let roles: Vec<String> = p.roles.iter().map(ToString::to_string).collect();
    if roles.is_empty() {
        format!("{kind} without roles")
    } else {
        format!("{kind} with {}", roles.join(", "))
    }
}

/// A principal of `kind` with `roles` (`("tts", "agent")`, …) and made-up
/// identity fields.
pub fn principal(kind: PrincipalKind, roles: &[(&str, &str)]) -> Principal {
    let id = uuid::Uuid::now_v7().to_string();
    Principal {
        email: match kind {
            PrincipalKind::User => format!("{id}@example.com"),
            PrincipalKind::ApiKey => String::new(),
        },
        display_name: format!("test {id}"),
        department: String::new(),
        id,
        kind,
        roles: roles
            .iter()
            .map(|(s, r)| RoleRef {
                system: (*s).into(),
                role: (*r).into(),
            })
            .collect(),
    }
}

/// A [`Validator`] that knows the credentials it made and nothing else: a
/// stand-in for Auth in a system's own tests.
///
/// ```
/// # use map_kit::testing::FakeValidator;
/// let auth = FakeValidator::default();
/// let agent = auth.person(&[("tts", "agent")]);
/// let request = agent.request(());
/// assert!(request.metadata().get("authorization").is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct FakeValidator {
    known: Arc<Mutex<HashMap<String, Arc<Principal>>>>,
}

impl FakeValidator {
    /// A signed-in person holding `roles`.
    pub fn person(&self, roles: &[(&str, &str)]) -> Caller {
        let p = principal(PrincipalKind::User, roles);
        let token = format!("fake-token-{}", p.id);
        self.remember(&token, &p);
        Caller::bearer(&token, p)
    }

    /// An API key holding `roles`.
    pub fn api_key(&self, roles: &[(&str, &str)]) -> Caller {
        let p = principal(PrincipalKind::ApiKey, roles);
        let secret = format!("mapk_fake{}", p.id.replace('-', ""));
        self.remember(&secret, &p);
        Caller::api_key(&secret, p)
    }

    /// Forgets `caller`'s credential, as Auth does on logout or revocation.
    pub fn revoke(&self, caller: &Caller) {
        if let Some((_, value)) = &caller.credential {
            let secret = value.strip_prefix("Bearer ").unwrap_or(value);
            self.map().remove(secret);
        }
    }

    fn remember(&self, secret: &str, p: &Principal) {
        self.map().insert(secret.to_owned(), Arc::new(p.clone()));
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Principal>>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Validator for FakeValidator {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Principal>>, ApiError>> {
        let found = self.map().get(token).cloned();
        Box::pin(async move { Ok(found) })
    }
}
