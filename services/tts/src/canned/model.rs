//! A canned response on the wire, and its team: a TTS role whose holders
//! use it.

use map_contracts::tts::v1 as pb;
use map_kit::{
    System, Violations,
    authn::Principal,
    wire::{etag::etag, time::timestamp},
};

use super::template;
use crate::entity::canned_responses;

/// Longest title.
pub const MAX_TITLE: usize = 100;
/// Longest body.
pub const MAX_BODY: usize = 5_000;
/// Longest team, `tts:` and the role.
pub const MAX_TEAM: usize = 100;

/// The response on the wire.
pub fn to_proto(c: &canned_responses::Model) -> pb::CannedResponse {
    pb::CannedResponse {
        id: c.id.clone(),
        team: c.team.clone(),
        title: c.title.clone(),
        body: c.body.clone(),
        author_user_id: c.author_user_id.clone(),
        etag: etag(c.version),
        version: c.version,
        create_time: Some(timestamp(c.created_at)),
        update_time: Some(timestamp(c.updated_at)),
        archive_time: c.archived_at.map(timestamp),
    }
}

/// The role of a team, `tts:<role>` → `<role>`; `None` for anything else.
pub fn role_of(team: &str) -> Option<&str> {
    team.strip_prefix("tts:")
        .filter(|r| !r.is_empty() && !r.contains(char::is_whitespace))
}

/// Records a violation of `field` unless `team` is shaped like a TTS role.
pub fn check_team(v: &mut Violations, field: &str, team: &str) {
    if team.is_empty() {
        v.add(field, "is required (a TTS role, e.g. tts:agent)");
    } else if team.chars().count() > MAX_TEAM || role_of(team).is_none() {
        v.add(field, "must be a TTS role, tts:<role> (e.g. tts:network)");
    }
}

/// Records the violations of a body: missing, too long, or with a
/// placeholder that is not known or not closed (each named).
pub fn check_body(v: &mut Violations, field: &str, body: &str) {
    v.text(field, body, MAX_BODY);
    if let Err(problems) = template::parse(body) {
        for p in problems {
            v.add(field, p);
        }
    }
}

/// Whether `actor` manages every team's responses (a tts manager or admin).
pub fn manages(actor: &Principal) -> bool {
    actor.has_role(System::Tts, "manager") || actor.has_role(System::Tts, "admin")
}

/// Whether `actor` belongs to `team` (holds its role).
pub fn belongs(actor: &Principal, team: &str) -> bool {
    role_of(team).is_some_and(|role| actor.has_role(System::Tts, role))
}

/// Whether `actor` may read and render the responses of `team`.
pub fn sees(actor: &Principal, team: &str) -> bool {
    manages(actor) || belongs(actor, team)
}

/// The teams of `actor`: every TTS role it holds, as `tts:<role>`, sorted.
pub fn teams_of(actor: &Principal) -> Vec<String> {
    let mut teams: Vec<String> = actor
        .roles
        .iter()
        .filter(|r| r.system == System::Tts.name())
        .map(|r| format!("tts:{}", r.role))
        .collect();
    teams.sort();
    teams.dedup();
    teams
}
