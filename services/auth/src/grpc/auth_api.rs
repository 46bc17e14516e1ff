//! `map.auth.v1.AuthService` over the domain. Authentication and the
//! policy's role checks happen in front of it (map-kit's `Authenticated`
//! with the in-process validator and `policy::AUTH_SERVICE`); each handler
//! converts, calls the domain and converts back.

use std::{net::IpAddr, sync::Arc};

use map_contracts::auth::v1::{self as pb, auth_service_server::AuthService};
use map_kit::authn;
use secrecy::SecretString;
use tonic::{Request, Response, Status};

use super::convert;
use crate::{Auth, users::UserFilter};

/// The handlers of AuthService.
#[derive(Debug, Clone)]
pub struct AuthApi {
    auth: Arc<Auth>,
}

impl AuthApi {
    /// Handlers over `auth`.
    pub fn new(auth: Arc<Auth>) -> Self {
        AuthApi { auth }
    }

    fn client<T>(&self, request: &Request<T>) -> Option<IpAddr> {
        self.auth.settings().trusted_proxies.of_request(request)
    }
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let client = self.client(&request);
        let pb::LoginRequest { email, password } = request.into_inner();
        let tokens = self
            .auth
            .login(&email, &SecretString::from(password), client)
            .await?;
        Ok(Response::new(pb::LoginResponse {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expires_in: Some(map_kit::wire::time::duration(tokens.expires_in)),
            user: Some(convert::user(tokens.user)),
        }))
    }

    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        let client = self.client(&request);
        let token = SecretString::from(request.into_inner().refresh_token);
        let tokens = self.auth.refresh(&token, client).await?;
        Ok(Response::new(pb::RefreshResponse {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expires_in: Some(map_kit::wire::time::duration(tokens.expires_in)),
            user: Some(convert::user(tokens.user)),
        }))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let token = SecretString::from(request.into_inner().refresh_token);
        self.auth.logout(&token).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn validate_token(
        &self,
        request: Request<pb::ValidateTokenRequest>,
    ) -> Result<Response<pb::ValidateTokenResponse>, Status> {
        let token = request.into_inner().token;
        let answer = match self.auth.validate(&token).await? {
            Some(v) => pb::ValidateTokenResponse {
                valid: true,
                principal: Some(v.principal.to_proto()),
                expires_at: v.expires_at.map(map_kit::wire::time::timestamp),
            },
            None => pb::ValidateTokenResponse::default(),
        };
        Ok(Response::new(answer))
    }

    async fn get_user_info(
        &self,
        request: Request<pb::GetUserInfoRequest>,
    ) -> Result<Response<pb::GetUserInfoResponse>, Status> {
        let user = self.auth.get_user(&request.into_inner().user_id).await?;
        Ok(Response::new(pb::GetUserInfoResponse {
            user: Some(convert::user(user)),
        }))
    }

    async fn batch_get_user_info(
        &self,
        request: Request<pb::BatchGetUserInfoRequest>,
    ) -> Result<Response<pb::BatchGetUserInfoResponse>, Status> {
        let users = self
            .auth
            .batch_get_users(&request.into_inner().user_ids)
            .await?;
        Ok(Response::new(pb::BatchGetUserInfoResponse {
            users: users.into_iter().map(convert::user).collect(),
        }))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let r = request.into_inner();
        let filter = UserFilter {
            system: r.system,
            role: r.role,
            active: r.active,
        };
        let (users, next_page_token) = self
            .auth
            .list_users(&filter, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(pb::ListUsersResponse {
            users: users.into_iter().map(convert::user).collect(),
            next_page_token,
        }))
    }

    async fn next_assignee(
        &self,
        request: Request<pb::NextAssigneeRequest>,
    ) -> Result<Response<pb::NextAssigneeResponse>, Status> {
        let r = request.into_inner();
        let user = self
            .auth
            .next_assignee(
                authn::RoleRef {
                    system: r.system,
                    role: r.role,
                },
                &r.request_key,
            )
            .await?;
        Ok(Response::new(pb::NextAssigneeResponse {
            user: Some(convert::user(user)),
        }))
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let token = request
            .metadata()
            .get(authn::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' ').map(|(_, t)| t.trim().to_owned()))
            .unwrap_or_default();
        let r = request.into_inner();
        self.auth
            .change_password(
                &token,
                &SecretString::from(r.current_password),
                &SecretString::from(r.new_password),
            )
            .await?;
        Ok(Response::new(pb::ChangePasswordResponse {}))
    }
}
