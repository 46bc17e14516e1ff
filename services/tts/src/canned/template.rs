//! The placeholders of a canned response's body — `{{requester.name}}`,
//! `{{ticket.number}}`, `{{agent.name}}`, spaces inside the braces allowed —
//! checked when a body is written (every unknown or unclosed one named) and
//! filled in for one ticket, a missing value replaced by its placeholder's
//! fallback.

/// A value a body may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// The ticket's requester's display name.
    RequesterName,
    /// The ticket's number, e.g. `TT-000123`.
    TicketNumber,
    /// The display name of the agent rendering it.
    AgentName,
}

impl Placeholder {
    /// Every placeholder.
    pub const ALL: [Placeholder; 3] = [
        Placeholder::RequesterName,
        Placeholder::TicketNumber,
        Placeholder::AgentName,
    ];

    /// Its name between the braces.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::RequesterName => "requester.name",
            Placeholder::TicketNumber => "ticket.number",
            Placeholder::AgentName => "agent.name",
        }
    }

    /// What stands in for an unknown value: words that read well where the
    /// value would ("Hello there,", "Regards, the service desk").
    pub fn fallback(self) -> &'static str {
        match self {
            Placeholder::RequesterName => "there",
            Placeholder::TicketNumber => "your ticket",
            Placeholder::AgentName => "the service desk",
        }
    }

    fn named(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A piece of a body: text as written, or a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part<'a> {
    /// Literal text.
    Text(&'a str),
    /// A value to fill in.
    Value(Placeholder),
}

/// The parts of `body`; `Err` with a description of every unknown or
/// unclosed placeholder (what a field violation of the body says).
pub fn parse(body: &str) -> Result<Vec<Part<'_>>, Vec<String>> {
    let mut parts = Vec::new();
    let mut problems = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Text(&rest[..open]));
        }
        let inside = &rest[open + 2..];
        let Some(close) = inside.find("}}") else {
            let at = body.len() - rest.len() + open;
            problems.push(format!(
                "\"{{{{\" at character {} has no closing \"}}}}\"",
                body[..at].chars().count()
            ));
            rest = "";
            break;
        };
        let name = inside[..close].trim();
        match Placeholder::named(name) {
            Some(p) => parts.push(Part::Value(p)),
            None => problems.push(format!(
                "unknown placeholder {{{{{name}}}}} (known: {})",
                known()
            )),
        }
        rest = &inside[close + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    if problems.is_empty() {
        Ok(parts)
    } else {
        Err(problems)
    }
}

/// The known placeholders as a body writes them.
fn known() -> String {
    Placeholder::ALL
        .iter()
        .map(|p| format!("{{{{{}}}}}", p.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `parts` with each value from `value` (or its fallback when `None` or
/// blank), and the names of the placeholders that took their fallback.
pub fn fill(
    parts: &[Part<'_>],
    value: impl Fn(Placeholder) -> Option<String>,
) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut fallbacks: Vec<String> = Vec::new();
    for part in parts {
        match part {
            Part::Text(t) => text.push_str(t),
            Part::Value(p) => match value(*p).filter(|v| !v.trim().is_empty()) {
                Some(v) => text.push_str(&v),
                None => {
                    text.push_str(p.fallback());
                    if !fallbacks.iter().any(|f| f == p.name()) {
                        fallbacks.push(p.name().to_owned());
                    }
                }
            },
        }
    }
    (text, fallbacks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(p: Placeholder) -> Option<String> {
        match p {
            Placeholder::RequesterName => None,
            Placeholder::TicketNumber => Some("TT-000042".into()),
            Placeholder::AgentName => Some("Ada".into()),
        }
    }

    #[test]
    fn known_placeholders_are_filled_and_missing_names_fall_back() {
        let body = "Hello {{requester.name}}, {{ ticket.number }} is fixed. {{agent.name}} }} {";
        let parts = parse(body).map_err(|e| e.join("; ")).unwrap_or_default();
        let (text, fallbacks) = fill(&parts, values);
        assert_eq!(text, "Hello there, TT-000042 is fixed. Ada }} {");
        assert_eq!(fallbacks, ["requester.name"]);
        assert_eq!(fill(&parse("").unwrap_or_default(), values).0, "");
    }

    #[test]
    fn unknown_and_unclosed_placeholders_are_each_named() {
        let problems = parse("Hi {{requester.email}}, {{ticket.number}} {{x}} {{agent.name")
            .err()
            .unwrap_or_default();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("unknown placeholder {{requester.email}}"));
        assert!(problems[0].contains("{{requester.name}}, {{ticket.number}}, {{agent.name}}"));
        assert!(problems[1].starts_with("unknown placeholder {{x}}"));
        assert!(problems[2].contains("at character 48"), "{}", problems[2]);
    }
}
