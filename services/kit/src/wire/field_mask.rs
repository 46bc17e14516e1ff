//! The paths of an update's `google.protobuf.FieldMask` (AIP-134), checked
//! against the fields the RPC lets a caller change.

use std::collections::BTreeSet;

use crate::ApiError;

/// The fields an update names, from its `update_mask`: every path must be
/// one of `allowed`; a mask that is missing or names nothing is refused
/// (AIP-134's "update everything" by an empty mask is not offered: it turns
/// a client's forgotten field into a silent reset). INVALID_ARGUMENT naming
/// `update_mask` lists the allowed paths.
///
/// ```
/// use map_kit::wire::field_mask::update_paths;
///
/// let mask = prost_types::FieldMask { paths: vec!["title".into()] };
/// let paths = update_paths(Some(&mask), &["title", "priority"]).unwrap();
/// assert!(paths.contains("title") && !paths.contains("priority"));
/// ```
pub fn update_paths(
    mask: Option<&prost_types::FieldMask>,
    allowed: &[&'static str],
) -> Result<BTreeSet<&'static str>, ApiError> {
    let list = allowed.join(", ");
    let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return Err(ApiError::invalid(
            "update_mask",
            format!("names no field (allowed: {list})"),
        ));
    }
    let mut named = BTreeSet::new();
    for path in paths {
        match allowed.iter().find(|a| **a == path.as_str()) {
            Some(a) => {
                named.insert(*a);
            }
            None => {
                return Err(ApiError::invalid(
                    "update_mask",
                    format!("'{path}' cannot be updated (allowed: {list})"),
                ));
            }
        }
    }
    Ok(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(paths: &[&str]) -> prost_types::FieldMask {
        prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn only_allowed_paths_pass() {
        let allowed = ["email", "display_name"];
        let got = update_paths(Some(&mask(&["email", "email"])), &allowed);
        assert_eq!(
            got.ok().map(|s| s.into_iter().collect::<Vec<_>>()),
            Some(vec!["email"])
        );
        for bad in [
            None,
            Some(mask(&[])),
            Some(mask(&["email", "password_hash"])),
        ] {
            match update_paths(bad.as_ref(), &allowed) {
                Err(ApiError::InvalidArgument(v)) => {
                    assert_eq!(v[0].field, "update_mask");
                    assert!(v[0].description.contains("allowed: email, display_name"));
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
