//! Request checks: [`Violations`] collects every bad field of a request so
//! it is refused once, with a `google.rpc.BadRequest` naming each field, and
//! before anything is written.

use crate::{ApiError, FieldViolation};

/// Collects field violations, so a request reports all its bad fields at once.
///
/// ```
/// # use map_kit::Violations;
/// let email = "";
/// let mut v = Violations::default();
/// v.check(!email.is_empty(), "email", "is required");
/// assert!(v.finish().is_err());
/// ```
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Records a violation of `field` unless `ok`.
    pub fn check(
        &mut self,
        ok: bool,
        field: impl Into<String>,
        description: impl Into<String>,
    ) -> &mut Self {
        if !ok {
            self.add(field, description);
        }
        self
    }

    /// Records a violation.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) -> &mut Self {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
        self
    }

    /// Checks a required string's presence and length in characters.
    pub fn text(&mut self, field: &str, value: &str, max_chars: usize) -> &mut Self {
        if value.trim().is_empty() {
            self.add(field, "is required");
        } else if value.chars().count() > max_chars {
            self.add(field, format!("must be at most {max_chars} characters"));
        }
        self
    }

    /// Checks an optional string's length in characters (empty is fine).
    pub fn optional_text(&mut self, field: &str, value: &str, max_chars: usize) -> &mut Self {
        if value.chars().count() > max_chars {
            self.add(field, format!("must be at most {max_chars} characters"));
        }
        self
    }

    /// Checks a required email address: present, at most `max_chars`, and
    /// shaped like one (one `@`, a dot inside the domain, no spaces). The
    /// value is never quoted back.
    pub fn email(&mut self, field: &str, value: &str, max_chars: usize) -> &mut Self {
        let e = value.trim();
        if e.is_empty() {
            return self.add(field, "is required");
        }
        if e.chars().count() > max_chars {
            return self.add(field, format!("must be at most {max_chars} characters"));
        }
        let shaped = e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }) && !e.chars().any(|c| c.is_whitespace() || c.is_control());
        self.check(shaped, field, "is not an email address")
    }

    /// Checks a required UUID (any version, hyphenated or not).
    pub fn uuid(&mut self, field: &str, value: &str) -> &mut Self {
        if value.is_empty() {
            return self.add(field, "is required");
        }
        self.check(uuid::Uuid::try_parse(value).is_ok(), field, "is not a UUID")
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The violations recorded, e.g. to add ones found elsewhere.
    pub fn into_violations(self) -> Vec<FieldViolation> {
        self.0
    }

    /// `Ok` when nothing was recorded, else `INVALID_ARGUMENT` with every violation.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidArgument(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: Violations) -> Vec<(String, String)> {
        match v.finish() {
            Ok(()) => Vec::new(),
            Err(ApiError::InvalidArgument(v)) => {
                v.into_iter().map(|f| (f.field, f.description)).collect()
            }
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn emails_are_required_bounded_and_shaped() {
        for ok in ["a@example.com", " Ana.Reyes@dept.example.ph "] {
            let mut v = Violations::default();
            v.email("email", ok, 254);
            assert!(v.is_empty(), "{ok}");
        }
        for (bad, why) in [
            ("", "is required"),
            ("   ", "is required"),
            ("no-at.example.com", "is not an email address"),
            ("a@b@example.com", "is not an email address"),
            ("a@localhost", "is not an email address"),
            ("a@.example.com", "is not an email address"),
            ("a b@example.com", "is not an email address"),
            ("@example.com", "is not an email address"),
        ] {
            let mut v = Violations::default();
            v.email("user.email", bad, 254);
            assert_eq!(
                fields(v),
                [("user.email".to_owned(), why.to_owned())],
                "{bad:?}"
            );
        }
        let mut v = Violations::default();
        v.email("email", &format!("{}@example.com", "a".repeat(300)), 254);
        assert_eq!(fields(v)[0].1, "must be at most 254 characters");
    }

    #[test]
    fn uuids_and_texts() {
        let mut v = Violations::default();
        v.uuid("a", "0190a9b2-0000-7000-8000-000000000000")
            .uuid("b", "")
            .uuid("c", "not-a-uuid")
            .optional_text("d", "", 3)
            .optional_text("e", "four", 3)
            .text("f", " ", 3);
        let got: Vec<String> = fields(v)
            .into_iter()
            .map(|(f, d)| format!("{f}: {d}"))
            .collect();
        assert_eq!(
            got,
            [
                "b: is required",
                "c: is not a UUID",
                "e: must be at most 3 characters",
                "f: is required",
            ]
        );
    }
}
