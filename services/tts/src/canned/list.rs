//! ListCannedResponses: the responses of the caller's teams, or of one
//! team, by title (ties by id), in keyset pages bound to the teams listed
//! and whether archived ones are shown.

use map_contracts::tts::v1 as pb;
use map_kit::{
    Violations,
    authn::Principal,
    paging::{Direction, PageSize, Sort},
};
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QuerySelect as _};
use serde::{Deserialize, Serialize};

use super::{CannedResponses, model};
use crate::{TtsError, entity::canned_responses};

/// The request's filters, as the page token binds them.
#[derive(Debug, Serialize)]
struct Filters {
    teams: Vec<String>,
    show_archived: bool,
}

/// Where a page ended: the title and id of its last response.
#[derive(Debug, Serialize, Deserialize)]
struct After(String, String);

impl CannedResponses {
    /// ListCannedResponses.
    pub async fn list(
        &self,
        actor: &Principal,
        r: &pb::ListCannedResponsesRequest,
    ) -> Result<(Vec<pb::CannedResponse>, String), TtsError> {
        let mut v = Violations::default();
        let size = PageSize::parse(r.page_size);
        if !matches!(r.order_by.trim(), "" | "title" | "title asc") {
            v.add("order_by", "supported: \"title\" (the default)");
        }
        if !r.team.is_empty() {
            model::check_team(&mut v, "team", &r.team);
        }
        v.finish()?;
        let size = size?;
        let teams = if r.team.is_empty() {
            model::teams_of(actor)
        } else if model::sees(actor, &r.team) {
            vec![r.team.clone()]
        } else {
            return Err(TtsError::PermissionDenied {
                reason: "NOT_TEAM_MEMBER",
                message: format!(
                    "only holders of {} (or tts managers) read its canned responses",
                    r.team
                ),
            });
        };
        let f = Filters {
            teams,
            show_archived: r.show_archived,
        };
        let cursor: Option<After> = self.pager.open("canned_responses", &f, &r.page_token)?;
        let sort = Sort::default()
            .key(
                canned_responses::Column::Title.into_expr(),
                Direction::Ascending,
            )
            .key(
                canned_responses::Column::Id.into_expr(),
                Direction::Ascending,
            );
        let mut q = canned_responses::Entity::find()
            .filter(canned_responses::Column::Team.is_in(f.teams.iter().cloned()));
        if !f.show_archived {
            q = q.filter(canned_responses::Column::ArchivedAt.is_null());
        }
        if let Some(After(title, id)) = cursor {
            q = q.filter(sort.after(vec![title.into(), id.into()]));
        }
        let rows = sort
            .order(q)
            .limit(size.fetch())
            .all(self.db.conn())
            .await?;
        let (rows, token) = self.pager.page("canned_responses", &f, rows, size, |c| {
            After(c.title.clone(), c.id.clone())
        });
        Ok((rows.iter().map(model::to_proto).collect(), token))
    }
}
