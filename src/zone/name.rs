//! Zone names as the control API and the store see them: lower-case, no
//! trailing dot, compared case-insensitively (DESIGN §3).

/// Checks a zone name given by a user and returns its stored form.
///
/// Accepts letters, digits, `-`, `_` and `/` (RFC 2317 classless reverse zones
/// such as `0/25.2.0.192.in-addr.arpa`), one optional trailing dot. Refuses the
/// root, empty labels, labels over 63 octets (RFC 1035 §2.3.4), names over 253
/// characters (255 octets on the wire), and labels that start or end with `-`.
pub fn normalize_zone_name(input: &str) -> Result<String, String> {
    let trimmed = input.strip_suffix('.').unwrap_or(input);
    if trimmed.is_empty() {
        return Err(if input.is_empty() {
            "can't be blank".to_string()
        } else {
            "the root zone cannot be a secondary zone here".to_string()
        });
    }
    if trimmed.len() > 253 {
        return Err(format!("is {} characters long; a domain name has at most 253", trimmed.len()));
    }
    let name = trimmed.to_ascii_lowercase();
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("`{input}` has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!("label `{label}` is {} characters long; a label has at most 63", label.len()));
        }
        if let Some(bad) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'))) {
            return Err(format!("`{input}` contains the character {bad:?}; use letters, digits, '-', '_' or '/'"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` starts or ends with a hyphen"));
        }
    }
    Ok(name)
}

/// Reverse-mapping zones (`in-addr.arpa`, `ip6.arpa`), DNSimple's `reverse` flag.
pub fn is_reverse_zone(name: &str) -> bool {
    name == "in-addr.arpa" || name == "ip6.arpa" || name.ends_with(".in-addr.arpa") || name.ends_with(".ip6.arpa")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercased_and_lose_the_trailing_dot() {
        assert_eq!(normalize_zone_name("Example.COM.").as_deref(), Ok("example.com"));
        assert_eq!(normalize_zone_name("0/25.2.0.192.in-addr.arpa").as_deref(), Ok("0/25.2.0.192.in-addr.arpa"));
        assert_eq!(normalize_zone_name("_tcp.example").as_deref(), Ok("_tcp.example"));
    }

    #[test]
    fn malformed_names_are_refused_with_a_reason() {
        assert_eq!(normalize_zone_name("").expect_err("invalid"), "can't be blank");
        assert!(normalize_zone_name(".").expect_err("invalid").contains("root"));
        assert!(normalize_zone_name("a..b").expect_err("invalid").contains("empty label"));
        assert!(normalize_zone_name(&format!("{}.com", "a".repeat(64))).expect_err("invalid").contains("at most 63"));
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(normalize_zone_name(&long).expect_err("invalid").contains("at most 253"));
        assert!(normalize_zone_name("exa mple.com").expect_err("invalid").contains("' '"));
        assert!(normalize_zone_name("-bad.com").expect_err("invalid").contains("hyphen"));
    }

    #[test]
    fn reverse_zones_are_recognised() {
        assert!(is_reverse_zone("2.0.192.in-addr.arpa"));
        assert!(is_reverse_zone("8.b.d.0.1.0.0.2.ip6.arpa"));
        assert!(!is_reverse_zone("arpa.example"));
    }
}
