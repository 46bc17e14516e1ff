//! The `order_by` of the SLA lists (AIP-132) in one spelling, so each list
//! matches it against the orders it documents: keys separated by `", "`,
//! each a field and, for a descending key, `desc` (`asc`, the default, is
//! dropped), whitespace collapsed.

/// `order_by` in its one spelling; empty for an empty or blank one.
pub fn normalized(order_by: &str) -> String {
    if order_by.trim().is_empty() {
        return String::new();
    }
    order_by
        .split(',')
        .map(|key| {
            let mut words: Vec<&str> = key.split_whitespace().collect();
            if words.len() == 2 && words[1] == "asc" {
                words.pop();
            }
            words.join(" ")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::normalized;

    #[test]
    fn spellings_of_one_order_are_one() {
        for s in [
            "priority, name",
            "priority,name",
            " priority asc ,  name asc",
        ] {
            assert_eq!(normalized(s), "priority, name", "{s:?}");
        }
        assert_eq!(normalized("create_time   desc"), "create_time desc");
        assert_eq!(normalized("  "), "");
        assert_eq!(normalized("name,"), "name, ");
        assert_eq!(normalized("name desc asc"), "name desc asc");
    }
}
