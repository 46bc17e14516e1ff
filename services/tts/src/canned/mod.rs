//! Canned responses (`map.tts.v1.CannedResponseService`): reply texts of a
//! team — a TTS role, so they belong to the role's holders — written by
//! managers and admins, read and rendered for one ticket by the team's
//! agents ([`render`]), listed by title ([`list`]). A body's placeholders
//! are checked when it is written ([`template`]), so rendering never meets
//! an unknown one. Deleting archives: the response stays readable, is no
//! longer listed (unless asked for) nor rendered.

mod list;
pub mod model;
mod render;
pub mod template;

use std::{collections::BTreeSet, sync::Arc};

use map_contracts::tts::v1 as pb;
use map_kit::{
    System, Violations, authn::Principal, clock::Clock, db::Db, idempotency::Idempotent,
    paging::Pager, wire::etag::check_etag,
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _,
    QueryFilter as _,
};

use crate::{
    TtsError,
    entity::canned_responses,
    tickets::Tickets,
    workflows::{Workflows, roles::RoleCatalog},
};

/// The update_mask paths of UpdateCannedResponse.
pub const UPDATE_PATHS: [&str; 3] = ["title", "body", "team"];

/// The canned responses' domain.
#[derive(Debug, Clone)]
pub struct CannedResponses {
    db: Db,
    roles: Arc<dyn RoleCatalog>,
    clock: Clock,
    pager: Pager,
}

impl CannedResponses {
    /// Over `db`, teams checked against `roles` (Auth's roles of TTS).
    pub fn new(db: Db, roles: Arc<dyn RoleCatalog>, clock: Clock, pager: Pager) -> Self {
        CannedResponses {
            db,
            roles,
            clock,
            pager,
        }
    }

    /// Beside the tickets and workflows of one server: their database,
    /// clock and page tokens, the workflows' catalogue of roles.
    pub fn beside(tickets: &Tickets, workflows: &Workflows) -> Self {
        let (db, clock, pager) = tickets.parts();
        CannedResponses::new(db, workflows.role_catalog(), clock, pager)
    }

    /// CreateCannedResponse.
    pub async fn create(
        &self,
        actor: &Principal,
        key: &Idempotent,
        c: pb::CannedResponse,
    ) -> Result<pb::CreateCannedResponseResponse, TtsError> {
        let mut v = Violations::default();
        model::check_team(&mut v, "canned_response.team", &c.team);
        v.text("canned_response.title", &c.title, model::MAX_TITLE);
        model::check_body(&mut v, "canned_response.body", &c.body);
        if v.is_empty() {
            self.check_role(&mut v, "canned_response.team", &c.team)
                .await?;
        }
        v.finish()?;
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let now = self.clock.now();
        let row = canned_responses::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            team: Set(c.team),
            title: Set(c.title.trim().to_owned()),
            body: Set(c.body),
            author_user_id: Set(actor.id.clone()),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            archived_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let response = pb::CreateCannedResponseResponse {
            canned_response: Some(model::to_proto(&row)),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(id = %row.id, team = %row.team, "canned response created");
        Ok(response)
    }

    /// GetCannedResponse: NOT_FOUND for an agent outside its team.
    pub async fn get(&self, actor: &Principal, id: &str) -> Result<pb::CannedResponse, TtsError> {
        let mut v = Violations::default();
        v.uuid("id", id);
        v.finish()?;
        let row = visible(self.db.conn(), actor, id).await?;
        Ok(model::to_proto(&row))
    }

    /// UpdateCannedResponse.
    pub async fn update(
        &self,
        paths: &BTreeSet<&'static str>,
        c: pb::CannedResponse,
    ) -> Result<pb::CannedResponse, TtsError> {
        let mut v = Violations::default();
        v.uuid("canned_response.id", &c.id);
        if c.etag.is_empty() {
            v.add("canned_response.etag", "is required (the etag you read)");
        }
        if paths.contains("team") {
            model::check_team(&mut v, "canned_response.team", &c.team);
        }
        if paths.contains("title") {
            v.text("canned_response.title", &c.title, model::MAX_TITLE);
        }
        if paths.contains("body") {
            model::check_body(&mut v, "canned_response.body", &c.body);
        }
        if v.is_empty() && paths.contains("team") {
            self.check_role(&mut v, "canned_response.team", &c.team)
                .await?;
        }
        v.finish()?;
        let txn = self.db.begin_write().await?;
        let row = find(&txn, &c.id).await?;
        check_etag(System::Tts, "canned_response.etag", &c.etag, row.version)?;
        if row.archived_at.is_some() {
            return Err(archived(&row));
        }
        let mut update = <canned_responses::ActiveModel as Default>::default();
        let mut changed = false;
        let title = c.title.trim();
        if paths.contains("title") && row.title != title {
            update.title = Set(title.to_owned());
            changed = true;
        }
        if paths.contains("body") && row.body != c.body {
            update.body = Set(c.body.clone());
            changed = true;
        }
        if paths.contains("team") && row.team != c.team {
            update.team = Set(c.team.clone());
            changed = true;
        }
        if !changed {
            return Ok(model::to_proto(&row));
        }
        let after = save(&txn, &row, update, self.clock.now()).await?;
        txn.commit().await?;
        Ok(model::to_proto(&after))
    }

    /// DeleteCannedResponse: archives it (an archived one is returned as
    /// it is).
    pub async fn delete(&self, id: &str, etag: &str) -> Result<pb::CannedResponse, TtsError> {
        let mut v = Violations::default();
        v.uuid("id", id);
        v.finish()?;
        let txn = self.db.begin_write().await?;
        let row = find(&txn, id).await?;
        if !etag.is_empty() {
            check_etag(System::Tts, "etag", etag, row.version)?;
        }
        if row.archived_at.is_some() {
            return Ok(model::to_proto(&row));
        }
        let now = self.clock.now();
        let update = canned_responses::ActiveModel {
            archived_at: Set(Some(now)),
            ..Default::default()
        };
        let after = save(&txn, &row, update, now).await?;
        txn.commit().await?;
        tracing::info!(id = %after.id, team = %after.team, "canned response archived");
        Ok(model::to_proto(&after))
    }

    /// Records a violation of `field` unless Auth knows `team`'s role.
    async fn check_role(
        &self,
        v: &mut Violations,
        field: &str,
        team: &str,
    ) -> Result<(), TtsError> {
        let roles = self.roles.roles().await?;
        if !roles.iter().any(|r| r == team) {
            v.add(field, format!("{team} is not a role of tts in Auth"));
        }
        Ok(())
    }
}

/// The response `id`, archived or not.
async fn find<C: ConnectionTrait>(conn: &C, id: &str) -> Result<canned_responses::Model, TtsError> {
    canned_responses::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .ok_or(TtsError::NotFound("canned response"))
}

/// The response `id` if `actor` may see it: NOT_FOUND otherwise, as if it
/// were not there.
async fn visible<C: ConnectionTrait>(
    conn: &C,
    actor: &Principal,
    id: &str,
) -> Result<canned_responses::Model, TtsError> {
    let row = find(conn, id).await?;
    if !model::sees(actor, &row.team) {
        return Err(TtsError::NotFound("canned response"));
    }
    Ok(row)
}

/// FAILED_PRECONDITION: `row` is archived.
fn archived(row: &canned_responses::Model) -> TtsError {
    TtsError::precondition(
        "CANNED_RESPONSE_ARCHIVED",
        format!("canned response {:?} is archived", row.title),
    )
}

/// Writes `update` over `row` with the next version, only if nobody
/// changed it since `row` was read (ABORTED otherwise).
async fn save(
    txn: &sea_orm::DatabaseTransaction,
    row: &canned_responses::Model,
    mut update: canned_responses::ActiveModel,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<canned_responses::Model, TtsError> {
    update.version = Set(row.version + 1);
    update.updated_at = Set(now);
    let done = canned_responses::Entity::update_many()
        .set(update)
        .filter(canned_responses::Column::Id.eq(row.id.clone()))
        .filter(canned_responses::Column::Version.eq(row.version))
        .exec(txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(TtsError::EtagMismatch);
    }
    find(txn, &row.id).await
}
