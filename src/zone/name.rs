//! Zone names as the control API and the store see them: lower-case, no
//! trailing dot, compared case-insensitively (RFC 4343).

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

/// Why a (normalized) zone name is a special-use one that a secondary of
/// customers' zones should not serve, or `None`: a single label (a TLD),
/// `localhost`, `invalid` and the names below them (RFC 6761 §6.3, §6.4),
/// and the infrastructure zones `arpa`, `in-addr.arpa`, `ip6.arpa`
/// (RFC 3172). Config `transfer.allow_reserved_zones` lifts the rule.
pub fn reserved_zone_name(name: &str) -> Option<&'static str> {
    let under = |top: &str| name == top || name.ends_with(&format!(".{top}"));
    if under("localhost") {
        Some("is reserved for this host (RFC 6761)")
    } else if under("invalid") {
        Some("is reserved as never existing (RFC 6761)")
    } else if matches!(name, "arpa" | "in-addr.arpa" | "ip6.arpa") {
        Some("is an infrastructure zone (RFC 3172)")
    } else if !name.contains('.') {
        Some("is a single label (a top-level domain)")
    } else {
        None
    }
}

/// Reverse-mapping zones (`in-addr.arpa`, `ip6.arpa`), DNSimple's `reverse` flag.
pub fn is_reverse_zone(name: &str) -> bool {
    name == "in-addr.arpa" || name == "ip6.arpa" || name.ends_with(".in-addr.arpa") || name.ends_with(".ip6.arpa")
}

/// Checks the host name of a nameserver and returns its stored form: lower-case,
/// without the trailing dot.
///
/// A host name (RFC 952, RFC 1123 §2.1) has letters, digits and inner hyphens
/// only; it has at least two labels (a nameserver is named by its FQDN), and its
/// last label is not all digits, so an IP address is not mistaken for one
/// (RFC 3696 §2).
pub fn normalize_host_name(input: &str) -> Result<String, String> {
    let trimmed = input.strip_suffix('.').unwrap_or(input);
    if trimmed.is_empty() {
        return Err("can't be blank".to_string());
    }
    if trimmed.len() > 253 {
        return Err(format!("is {} characters long; a host name has at most 253", trimmed.len()));
    }
    let name = trimmed.to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(format!("`{input}` has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!("label `{label}` is {} characters long; a label has at most 63", label.len()));
        }
        if let Some(bad) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Err(format!("`{input}` contains the character {bad:?}; a host name has letters, digits and '-'"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` starts or ends with a hyphen"));
        }
    }
    if labels.len() < 2 {
        return Err(format!("`{input}` is a single label; a fully qualified host name has at least two"));
    }
    if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("`{input}` looks like an IP address, not a host name"));
    }
    Ok(name)
}

/// Checks a hostmaster e-mail address and returns it with the domain lower-cased.
///
/// The local part is a dot-atom (RFC 5322 §3.2.3; quoted local parts are not
/// accepted) of at most 63 characters, because the SOA RNAME carries it as one
/// DNS label (RFC 1035 §8); the domain is a host name.
pub fn normalize_email(input: &str) -> Result<String, String> {
    if input.is_empty() {
        return Err("can't be blank".to_string());
    }
    let Some((local, domain)) = input.split_once('@') else {
        return Err(format!("`{input}` is not an e-mail address: it has no '@'"));
    };
    if domain.contains('@') {
        return Err(format!("`{input}` is not an e-mail address: it has more than one '@'"));
    }
    if local.is_empty() {
        return Err(format!("`{input}` has nothing before the '@'"));
    }
    if local.len() > 63 {
        return Err(format!("the part before '@' is {} characters long; at most 63 fit in a SOA record", local.len()));
    }
    const SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";
    if let Some(bad) = local.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || SPECIALS.contains(*c))) {
        return Err(format!("`{input}` contains the character {bad:?} before the '@'"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(format!("`{input}` has a misplaced '.' before the '@'"));
    }
    let domain = normalize_host_name(domain).map_err(|e| format!("has an invalid domain: {e}"))?;
    if local.len() + 1 + domain.len() > 253 {
        return Err("is too long to be published as a SOA RNAME (at most 253 characters)".to_string());
    }
    Ok(format!("{local}@{domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_lowercased_and_need_two_letter_digit_hyphen_labels() {
        assert_eq!(normalize_host_name("NS1.Example.COM.").as_deref(), Ok("ns1.example.com"));
        assert_eq!(normalize_host_name("a-1.b2.test").as_deref(), Ok("a-1.b2.test"));
        assert_eq!(normalize_host_name("").expect_err("blank"), "can't be blank");
        assert!(normalize_host_name("ns1").expect_err("one label").contains("single label"));
        assert!(normalize_host_name("ns_1.example.com").expect_err("underscore").contains("'_'"));
        assert!(normalize_host_name("ns1..example.com").expect_err("empty").contains("empty label"));
        assert!(normalize_host_name("-ns.example.com").expect_err("hyphen").contains("hyphen"));
        assert!(normalize_host_name("192.0.2.1").expect_err("address").contains("IP address"));
        assert!(normalize_host_name(&format!("{}.com", "a".repeat(64))).expect_err("long").contains("at most 63"));
    }

    #[test]
    fn e_mail_addresses_keep_the_local_part_and_lowercase_the_domain() {
        assert_eq!(normalize_email("John.Doe@Example.COM").as_deref(), Ok("John.Doe@example.com"));
        assert_eq!(normalize_email("ops+dns@example.com").as_deref(), Ok("ops+dns@example.com"));
        for bad in [
            "",
            "hostmaster",
            "@example.com",
            "a@b@example.com",
            "a b@example.com",
            ".a@example.com",
            "a..b@example.com",
            "a@example",
            "a@exa_mple.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(64))).expect_err("long").contains("at most 63"));
    }

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
