//! A ticket's tags and asset tags: the agents' free tags (a small
//! vocabulary: at most [`MAX_TAGS`], each 1 to [`MAX_TAG_CHARS`] characters
//! of `a-z`, `0-9`, `-` and `_`) and the AMS assets it is about
//! (`map_kit::asset_tags`). A ticket shows both from its own columns; the
//! filters of ListTickets read the rows of `ticket_tags` and
//! `ticket_asset_tags`, which [`write_tags`] and [`write_asset_tags`] keep
//! equal to the columns in the transaction of the change.

use map_kit::{Violations, asset_tags};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _,
};

use crate::{
    TtsError,
    entity::{ticket_asset_tags, ticket_tags},
};

/// Most tags on one ticket.
pub const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 32;

/// Whether `tag` is a tag: 1 to 32 of `a-z`, `0-9`, `-`, `_`.
pub fn is_tag(tag: &str) -> bool {
    (1..=MAX_TAG_CHARS).contains(&tag.len())
        && tag
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
}

/// Records a violation for each bad tag of `tags`, named `field[i]`, and
/// one naming `field` when there are too many.
pub fn check_tags(v: &mut Violations, field: &str, tags: &[String]) {
    if tags.len() > MAX_TAGS {
        v.add(field, format!("at most {MAX_TAGS} tags"));
    }
    for (i, tag) in tags.iter().enumerate() {
        let at = format!("{field}[{i}]");
        if !is_tag(tag) {
            v.add(
                at,
                format!(
                    "is not a tag (1 to {MAX_TAG_CHARS} lower-case letters a-z, digits, \"-\" or \"_\")"
                ),
            );
        } else if let Some(first) = tags[..i].iter().position(|t| t == tag) {
            v.add(at, format!("repeats {field}[{first}]"));
        }
    }
}

/// Checked tags as a ticket keeps them: sorted.
pub fn sorted(tags: &[String]) -> Vec<String> {
    let mut tags = tags.to_vec();
    tags.sort();
    tags.dedup();
    tags
}

/// `tags` as the column holds them (words separated by spaces, which no
/// tag contains).
pub fn stored(tags: &[String]) -> String {
    tags.join(" ")
}

/// The tags a column holds, in order.
pub fn from_stored(column: &str) -> Vec<String> {
    column.split_whitespace().map(str::to_owned).collect()
}

/// Makes `ticket_tags` hold exactly `tags` for the ticket `ticket_id`.
pub(crate) async fn write_tags<C: ConnectionTrait>(
    conn: &C,
    ticket_id: &str,
    tags: &[String],
) -> Result<(), TtsError> {
    ticket_tags::Entity::delete_many()
        .filter(ticket_tags::Column::TicketId.eq(ticket_id.to_owned()))
        .exec(conn)
        .await?;
    if tags.is_empty() {
        return Ok(());
    }
    ticket_tags::Entity::insert_many(tags.iter().map(|tag| ticket_tags::ActiveModel {
        ticket_id: Set(ticket_id.to_owned()),
        tag: Set(tag.clone()),
    }))
    .exec(conn)
    .await?;
    Ok(())
}

/// Makes `ticket_asset_tags` hold exactly the keys of `tags` for the ticket
/// `ticket_id`.
pub(crate) async fn write_asset_tags<C: ConnectionTrait>(
    conn: &C,
    ticket_id: &str,
    tags: &[String],
) -> Result<(), TtsError> {
    ticket_asset_tags::Entity::delete_many()
        .filter(ticket_asset_tags::Column::TicketId.eq(ticket_id.to_owned()))
        .exec(conn)
        .await?;
    let mut keys: Vec<String> = tags.iter().map(|t| asset_tags::key(t)).collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    ticket_asset_tags::Entity::insert_many(keys.into_iter().map(|key| {
        ticket_asset_tags::ActiveModel {
            ticket_id: Set(ticket_id.to_owned()),
            asset_tag: Set(key),
        }
    }))
    .exec(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(tags: &[&str]) -> Vec<String> {
        let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        let mut v = Violations::default();
        check_tags(&mut v, "ticket.tags", &tags);
        v.into_violations().into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn tags_are_lower_case_words_bounded_and_unique() {
        assert!(fields(&["vip", "network-outage", "p_1", &"a".repeat(32)]).is_empty());
        assert_eq!(
            fields(&["ok", "", "VIP", "two words", &"a".repeat(33), "ok", "café"]),
            [
                "ticket.tags[1]",
                "ticket.tags[2]",
                "ticket.tags[3]",
                "ticket.tags[4]",
                "ticket.tags[5]",
                "ticket.tags[6]"
            ]
        );
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(fields(&many), ["ticket.tags"]);
    }

    #[test]
    fn a_ticket_keeps_its_tags_sorted_in_one_column() {
        let tags = sorted(&["vip".into(), "network".into()]);
        assert_eq!(tags, ["network", "vip"]);
        assert_eq!(from_stored(&stored(&tags)), tags);
        assert!(from_stored("").is_empty());
    }
}
