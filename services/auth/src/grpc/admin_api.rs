//! `map.auth.v1.AdminService` over the domain. Every RPC requires
//! `auth:admin`, enforced before the handler by the service's policy
//! (`policy::ADMIN_SERVICE`); the handlers pass the acting principal on.

use std::sync::Arc;

use map_contracts::auth::v1::{self as pb, admin_service_server::AdminService};
use map_kit::{authn, wire::field_mask::update_paths};
use secrecy::SecretString;
use tonic::{Request, Response, Status};

use super::convert;
use crate::{
    Auth, AuthError,
    users::{NewUser, UserPatch},
};

/// The handlers of AdminService.
#[derive(Debug, Clone)]
pub struct AdminApi {
    auth: Arc<Auth>,
}

impl AdminApi {
    /// Handlers over `auth`.
    pub fn new(auth: Arc<Auth>) -> Self {
        AdminApi { auth }
    }
}

fn role_of(role: Option<pb::RoleRef>) -> authn::RoleRef {
    role.map(convert::role_ref).unwrap_or(authn::RoleRef {
        system: String::new(),
        role: String::new(),
    })
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let created = self
            .auth
            .create_user(
                Some(&*actor),
                NewUser {
                    email: r.email,
                    display_name: r.display_name,
                    department: r.department,
                    password: (!r.password.is_empty()).then(|| SecretString::from(r.password)),
                    roles: convert::role_refs(r.roles),
                },
            )
            .await?;
        Ok(Response::new(pb::CreateUserResponse {
            user: Some(convert::user(created.user)),
            generated_password: created
                .generated_password
                .map(|p| secrecy::ExposeSecret::expose_secret(&p).to_owned())
                .unwrap_or_default(),
        }))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let user = r.user.unwrap_or_default();
        let paths = update_paths(
            r.update_mask.as_ref(),
            &["email", "display_name", "department"],
        )
        .map_err(AuthError::from)?;
        let patch = UserPatch {
            email: paths.contains("email").then(|| user.email.clone()),
            display_name: paths
                .contains("display_name")
                .then(|| user.display_name.clone()),
            department: paths
                .contains("department")
                .then(|| user.department.clone()),
        };
        let updated = self
            .auth
            .update_user(Some(&*actor), &user.id, user.version, patch)
            .await?;
        Ok(Response::new(pb::UpdateUserResponse {
            user: Some(convert::user(updated)),
        }))
    }

    async fn deactivate_user(
        &self,
        request: Request<pb::DeactivateUserRequest>,
    ) -> Result<Response<pb::DeactivateUserResponse>, Status> {
        let actor = authn::principal(&request)?;
        let user = self
            .auth
            .deactivate_user(Some(&*actor), &request.into_inner().user_id)
            .await?;
        Ok(Response::new(pb::DeactivateUserResponse {
            user: Some(convert::user(user)),
        }))
    }

    async fn reactivate_user(
        &self,
        request: Request<pb::ReactivateUserRequest>,
    ) -> Result<Response<pb::ReactivateUserResponse>, Status> {
        let actor = authn::principal(&request)?;
        let user = self
            .auth
            .reactivate_user(Some(&*actor), &request.into_inner().user_id)
            .await?;
        Ok(Response::new(pb::ReactivateUserResponse {
            user: Some(convert::user(user)),
        }))
    }

    async fn grant_role(
        &self,
        request: Request<pb::GrantRoleRequest>,
    ) -> Result<Response<pb::GrantRoleResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let user = self
            .auth
            .grant_role(Some(&*actor), &r.user_id, role_of(r.role))
            .await?;
        Ok(Response::new(pb::GrantRoleResponse {
            user: Some(convert::user(user)),
        }))
    }

    async fn revoke_role(
        &self,
        request: Request<pb::RevokeRoleRequest>,
    ) -> Result<Response<pb::RevokeRoleResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let user = self
            .auth
            .revoke_role(Some(&*actor), &r.user_id, role_of(r.role))
            .await?;
        Ok(Response::new(pb::RevokeRoleResponse {
            user: Some(convert::user(user)),
        }))
    }

    async fn list_systems(
        &self,
        request: Request<pb::ListSystemsRequest>,
    ) -> Result<Response<pb::ListSystemsResponse>, Status> {
        let r = request.into_inner();
        let (systems, next_page_token) = self.auth.list_systems(r.page_size, &r.page_token).await?;
        Ok(Response::new(pb::ListSystemsResponse {
            systems: systems.into_iter().map(convert::system).collect(),
            next_page_token,
        }))
    }

    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Result<Response<pb::ListRolesResponse>, Status> {
        let r = request.into_inner();
        let (roles, next_page_token) = self
            .auth
            .list_roles(&r.system, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(pb::ListRolesResponse {
            roles: roles.into_iter().map(convert::role).collect(),
            next_page_token,
        }))
    }

    async fn create_role(
        &self,
        request: Request<pb::CreateRoleRequest>,
    ) -> Result<Response<pb::CreateRoleResponse>, Status> {
        let r = request.into_inner();
        let role = self
            .auth
            .create_role(&r.system, &r.role, &r.description)
            .await?;
        Ok(Response::new(pb::CreateRoleResponse {
            role: Some(convert::role(role)),
        }))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let created = self
            .auth
            .create_api_key(Some(&*actor), &r.name, convert::role_refs(r.roles))
            .await?;
        Ok(Response::new(pb::CreateApiKeyResponse {
            api_key: Some(convert::api_key(created.key)),
            secret: secrecy::ExposeSecret::expose_secret(&created.secret).to_owned(),
        }))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let r = request.into_inner();
        let (keys, next_page_token) = self
            .auth
            .list_api_keys(r.show_revoked, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(pb::ListApiKeysResponse {
            api_keys: keys.into_iter().map(convert::api_key).collect(),
            next_page_token,
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        let key = self
            .auth
            .revoke_api_key(&request.into_inner().api_key_id)
            .await?;
        Ok(Response::new(pb::RevokeApiKeyResponse {
            api_key: Some(convert::api_key(key)),
        }))
    }
}
