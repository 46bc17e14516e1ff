//! AMS asset tags named outside AMS — the assets an HDTS submission or a
//! TTS ticket is about, e.g. `LAP-00123` — checked alike everywhere: at
//! most [`MAX_PER_TICKET`], each 1 to [`MAX_CHARS`] characters of ASCII
//! letters, digits, `-`, `_` and `.`, no repeats ignoring case.
//!
//! They are kept as given until AMS runs (then checked against its
//! `ams.asset.*` events), matched ignoring case through [`key`], and stored
//! in one text column as [`stored`] writes them (separated by spaces, which
//! a tag cannot contain).
//!
//! ```
//! use map_kit::{Violations, asset_tags};
//!
//! let mut v = Violations::default();
//! asset_tags::check(&mut v, "asset_tags", &["LAP-00123".into(), "no spaces".into()]);
//! assert_eq!(v.into_violations()[0].field, "asset_tags[1]");
//! assert_eq!(asset_tags::key("lap-00123"), "LAP-00123");
//! ```

use crate::Violations;

/// Most asset tags one ticket names.
pub const MAX_PER_TICKET: usize = 10;
/// Longest asset tag, in characters.
pub const MAX_CHARS: usize = 64;

/// Whether `tag` can be an asset tag.
pub fn is_valid(tag: &str) -> bool {
    (1..=MAX_CHARS).contains(&tag.len())
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The form tags are compared in: upper case (AMS's tags are unique
/// ignoring case).
pub fn key(tag: &str) -> String {
    tag.to_ascii_uppercase()
}

/// Records a violation for each bad tag of `tags`, named `field[i]`, and
/// one naming `field` when there are too many.
pub fn check(v: &mut Violations, field: &str, tags: &[String]) {
    if tags.len() > MAX_PER_TICKET {
        v.add(field, format!("at most {MAX_PER_TICKET} asset tags"));
    }
    for (i, tag) in tags.iter().enumerate() {
        let at = format!("{field}[{i}]");
        if !is_valid(tag) {
            v.add(
                at,
                format!(
                    "is not an asset tag (1 to {MAX_CHARS} letters, digits, \"-\", \"_\" or \".\")"
                ),
            );
        } else if let Some(first) = tags[..i].iter().position(|t| key(t) == key(tag)) {
            v.add(at, format!("repeats {field}[{first}]"));
        }
    }
}

/// `tags` as one column holds them.
pub fn stored(tags: &[String]) -> String {
    tags.join(" ")
}

/// The tags a column holds, in their order.
pub fn from_stored(column: &str) -> Vec<String> {
    column.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(tags: &[&str]) -> Vec<String> {
        let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        let mut v = Violations::default();
        check(&mut v, "asset_tags", &tags);
        v.into_violations().into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn tags_are_bounded_shaped_and_unique_ignoring_case() {
        assert!(fields(&["LAP-00123", "mon_7.b", &"A".repeat(64)]).is_empty());
        assert_eq!(
            fields(&["", "LAP 1", "ok", &"A".repeat(65), "OK", "é"]),
            [
                "asset_tags[0]",
                "asset_tags[1]",
                "asset_tags[3]",
                "asset_tags[4]",
                "asset_tags[5]"
            ]
        );
        let many: Vec<String> = (0..11).map(|i| format!("T{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(fields(&many), ["asset_tags"]);
    }

    #[test]
    fn a_column_keeps_the_tags_in_order() {
        let tags = vec!["LAP-1".to_owned(), "mon.2".to_owned()];
        assert_eq!(from_stored(&stored(&tags)), tags);
        assert!(from_stored("").is_empty());
    }
}
