//! What we publish for a zone: the primary's records with the zone's NS
//! settings applied on the way out.
//!
//! The store keeps every record exactly as the primary sent it, and the NS
//! settings (`store::nameservers`) apart; [`publish`] combines the two each
//! time the zone is read — by the `/records` listing, the `/file` export, the
//! `/nameservers` answer, the serving view (`overlay`) and, later, XFR-out — so a
//! refresh never has to know about the settings and changing the settings
//! never rewrites zone data.
//!
//! With settings, what is published differs from the primary's data in these
//! records only:
//! - the apex NS RRset is the configured nameservers, in priority order, with
//!   the first set's `ns_ttl` (bare `ns_names` only: the primary's apex NS TTL,
//!   else [`FALLBACK_NS_TTL`]; one TTL for the RRset, RFC 2181 §5.2);
//! - for each configured nameserver inside the zone that is a custom
//!   nameserver with addresses, its A/AAAA records (its set's `ip_ttl`) replace
//!   the primary's A and AAAA records at that name;
//! - the SOA MNAME is the priority-1 nameserver and the RNAME is the first set's
//!   `hostmaster` that is set (RFC 1035 §3.3.13 mailbox form); the serial and
//!   timers stay the primary's.
//!
//! Without settings the records pass through untouched.

use std::net::IpAddr;

use crate::store::nameservers::ZoneNs;
use crate::store::zonedata::{record_key, StoredRecord};
use crate::view::tree::{Key, NodeBuf};
use crate::view::ZoneView;
use crate::wire::{class, rtype, skip_uncompressed_name, Name, Record};

/// TTL of configured NS records when no set gives one and the primary has no
/// apex NS to take it from (one day).
pub const FALLBACK_NS_TTL: u32 = 86_400;

/// Records the overlay adds are not stored rows; their ids are derived from
/// their content and set above this bit, so they are stable while the settings
/// are unchanged, never collide with a stored row's id, and stay below 2^53
/// (exact in every JSON implementation).
pub const SYNTHETIC_ID_BASE: i64 = 1 << 52;

/// A zone's NS settings resolved into DNS names, ready to apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// In priority order, without duplicates; the first is the SOA MNAME.
    pub nameservers: Vec<Name>,
    /// TTL of the NS RRset, when a set gives one.
    pub ns_ttl: Option<u32>,
    /// The SOA RNAME, when a set has a hostmaster.
    pub hostmaster: Option<Name>,
    /// Addresses of configured nameservers (only those that have any).
    pub glue: Vec<Glue>,
}

/// The address records published for one nameserver name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glue {
    pub name: Name,
    pub ttl: u32,
    pub addresses: Vec<IpAddr>,
}

impl Settings {
    /// Resolves stored settings. The store only holds validated names and
    /// addresses; anything that still fails to parse is left out (and logged)
    /// rather than failing the whole zone.
    pub fn from_store(ns: &ZoneNs) -> Settings {
        let nameservers: Vec<Name> = ns
            .nameservers()
            .iter()
            .filter_map(|n| {
                Name::from_ascii(n)
                    .map_err(|e| tracing::warn!(nameserver = %n, error = %e, "stored nameserver name does not parse"))
                    .ok()
            })
            .collect();
        let hostmaster = ns.sets.iter().find_map(|s| s.hostmaster.as_deref()).and_then(|h| {
            mailbox_name(h).map_err(|e| tracing::warn!(hostmaster = %h, error = %e, "stored hostmaster unusable")).ok()
        });
        let glue = nameservers
            .iter()
            .filter_map(|name| {
                let a = ns.addresses.iter().find(|a| Name::from_ascii(&a.ns_name).is_ok_and(|n| n == *name))?;
                let addresses: Vec<IpAddr> = a.records.iter().filter_map(|r| r.value.parse().ok()).collect();
                (!addresses.is_empty()).then(|| Glue { name: name.clone(), ttl: a.ip_ttl, addresses })
            })
            .collect();
        Settings { nameservers, ns_ttl: ns.sets.first().map(|s| s.ns_ttl), hostmaster, glue }
    }
}

/// An e-mail address as a SOA RNAME (RFC 1035 §8): the local part becomes the
/// first label, its dots escaped (`john.doe@example.com` → `john\.doe.example.com.`).
pub fn mailbox_name(email: &str) -> Result<Name, String> {
    let (local, domain) = email.rsplit_once('@').ok_or_else(|| format!("`{email}` has no '@'"))?;
    let mut text = String::with_capacity(email.len() + 8);
    for c in local.chars() {
        if matches!(c, '.' | '\\') {
            text.push('\\');
        }
        text.push(c);
    }
    text.push('.');
    text.push_str(domain);
    Name::from_ascii(&text).map_err(|e| e.to_string())
}

/// The published records of a zone whose apex is `apex`, from its stored
/// `records` (all of them, or any subset that holds every record of the
/// owner names and types the caller wants) and its settings.
///
/// Order: the SOA first, then the configured NS records, then the glue, then
/// the remaining stored records in stored order. Synthetic records get ids
/// above [`SYNTHETIC_ID_BASE`]; the SOA keeps its id.
pub fn publish(apex: &Name, records: Vec<StoredRecord>, settings: Option<&Settings>) -> Vec<StoredRecord> {
    let Some(s) = settings else {
        return records;
    };
    // A zone must have NS records: settings that resolve to none change nothing
    // but the RNAME (the store refuses to create such settings).
    let replace_ns = !s.nameservers.is_empty();
    let glue: Vec<&Glue> = s.glue.iter().filter(|g| g.name.is_subdomain_of(apex)).collect();

    let mut soas = Vec::new();
    let mut rest = Vec::with_capacity(records.len());
    let mut primary_ns_ttl = None;
    let mut zone_class = None;
    for r in records {
        let Ok(owner) = Name::from_ascii(&r.owner) else {
            rest.push(r);
            continue;
        };
        let at_apex = owner == *apex;
        match r.rtype {
            rtype::SOA if at_apex => {
                zone_class = Some(r.class);
                let rdata = rewrite_soa(&r.rdata, s.nameservers.first(), s.hostmaster.as_ref());
                soas.push(StoredRecord { rdata: rdata.unwrap_or(r.rdata), ..r });
            }
            rtype::NS if at_apex && replace_ns => {
                primary_ns_ttl.get_or_insert(r.ttl);
            }
            rtype::A | rtype::AAAA if glue.iter().any(|g| g.name == owner) => {}
            _ => rest.push(r),
        }
    }

    let class = zone_class.unwrap_or(class::IN);
    let mut out = soas;
    if replace_ns {
        let ttl = s.ns_ttl.or(primary_ns_ttl).unwrap_or(FALLBACK_NS_TTL);
        for ns in &s.nameservers {
            out.push(synthetic(apex, rtype::NS, class, ttl, ns.as_wire().to_vec()));
        }
    }
    for g in glue {
        for addr in &g.addresses {
            let (t, rdata) = match addr {
                IpAddr::V4(a) => (rtype::A, a.octets().to_vec()),
                IpAddr::V6(a) => (rtype::AAAA, a.octets().to_vec()),
            };
            out.push(synthetic(&g.name, t, class, g.ttl, rdata));
        }
    }
    out.extend(rest);
    out
}

/// A record of the primary's as the published zone has it, for a diff of the
/// published zone (IXFR out): as it is, the apex SOA rewritten as [`publish`]
/// rewrites it, or `None` for a record the settings replace (the apex NS when
/// nameservers are configured, the addresses of configured in-zone
/// nameservers). `Err` when a change of the record changes published records
/// a diff of it cannot show: the apex NS whose TTL the configured NS take.
pub fn published_form(apex: &Name, r: &Record, settings: Option<&Settings>) -> Result<Option<Record>, String> {
    let Some(s) = settings else {
        return Ok(Some(r.clone()));
    };
    let at_apex = r.owner == *apex;
    match r.rtype {
        rtype::SOA if at_apex => {
            let rdata = rewrite_soa(&r.rdata, s.nameservers.first(), s.hostmaster.as_ref());
            Ok(Some(Record { rdata: rdata.unwrap_or_else(|| r.rdata.clone()), ..r.clone() }))
        }
        rtype::NS if at_apex && !s.nameservers.is_empty() => match s.ns_ttl {
            Some(_) => Ok(None),
            None => Err("the apex NS changed, and the configured NS take its TTL".into()),
        },
        rtype::A | rtype::AAAA if s.glue.iter().any(|g| g.name == r.owner && g.name.is_subdomain_of(apex)) => Ok(None),
        _ => Ok(Some(r.clone())),
    }
}

fn synthetic(owner: &Name, rtype: u16, class: u16, ttl: u32, rdata: Vec<u8>) -> StoredRecord {
    let record = Record { owner: owner.clone(), rtype, class, ttl, rdata };
    let id = SYNTHETIC_ID_BASE | (record_key(&record) & (SYNTHETIC_ID_BASE - 1));
    StoredRecord { id, owner: owner.to_string(), rtype, class, ttl, rdata: record.rdata }
}

/// SOA RDATA with MNAME and/or RNAME replaced; `None` if the RDATA is malformed
/// (then it is published as the primary sent it).
fn rewrite_soa(rdata: &[u8], mname: Option<&Name>, rname: Option<&Name>) -> Option<Vec<u8>> {
    let m_end = skip_uncompressed_name(rdata, 0)?;
    let r_end = skip_uncompressed_name(rdata, m_end)?;
    let fixed = rdata.get(r_end..).filter(|f| f.len() == 20)?;
    let mut out = Vec::with_capacity(rdata.len() + 64);
    out.extend_from_slice(mname.map(Name::as_wire).unwrap_or(&rdata[..m_end]));
    out.extend_from_slice(rname.map(Name::as_wire).unwrap_or(&rdata[m_end..r_end]));
    out.extend_from_slice(fixed);
    Some(out)
}

/// The replacement nodes that lay `settings` over a view of the primary's
/// data: [`publish`] applied to the records of the names it can change (the
/// apex and the in-zone nameservers with configured addresses), so the query
/// path publishes exactly what the API lists and exports.
pub fn overlay(view: &ZoneView, settings: Option<&Settings>) -> Vec<(Key, Option<NodeBuf>)> {
    let Some(s) = settings else {
        return Vec::new();
    };
    let apex = &view.apex;
    let mut names: Vec<Name> = vec![apex.clone()];
    for g in s.glue.iter().filter(|g| g.name.is_subdomain_of(apex)) {
        if !names.contains(&g.name) {
            names.push(g.name.clone());
        }
    }
    let mut records = Vec::new();
    for n in &names {
        let Some(node) = view.raw_node(n) else { continue };
        for set in node.rrsets {
            for rdata in set.rdatas {
                records.push(StoredRecord {
                    id: 0,
                    owner: n.to_string(),
                    rtype: set.rtype,
                    class: class::IN,
                    ttl: set.ttl,
                    rdata,
                });
            }
        }
    }
    let mut nodes: Vec<(Name, NodeBuf)> = names.into_iter().map(|n| (n, NodeBuf::default())).collect();
    for r in publish(apex, records, Some(s)) {
        let Ok(owner) = Name::from_ascii(&r.owner) else { continue };
        if let Some((_, node)) = nodes.iter_mut().find(|(n, _)| *n == owner) {
            node.add(r.rtype, r.ttl, &r.rdata);
        }
    }
    nodes
        .into_iter()
        .map(|(n, node)| (Key::from_wire(n.to_lowercase().as_wire()), (!node.is_empty()).then_some(node)))
        .collect()
}

/// The nameservers a zone should be delegated to, in priority order, read from
/// its published records: the apex NS targets in order, with the SOA MNAME
/// moved first when it is one of them (it is, by construction, with settings).
/// Names are in presentation form without the trailing dot.
pub fn delegation(apex: &Name, published: &[StoredRecord]) -> Vec<String> {
    let at_apex = |r: &&StoredRecord| Name::from_ascii(&r.owner).is_ok_and(|o| o == *apex);
    let mut names: Vec<Name> = Vec::new();
    for r in published.iter().filter(|r| r.rtype == rtype::NS).filter(at_apex) {
        if let Ok(n) = Name::from_wire(&r.rdata) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    let mname = published
        .iter()
        .filter(|r| r.rtype == rtype::SOA)
        .find(at_apex)
        .and_then(|r| skip_uncompressed_name(&r.rdata, 0).and_then(|end| Name::from_wire(&r.rdata[..end]).ok()));
    if let Some(pos) = mname.and_then(|m| names.iter().position(|n| *n == m)) {
        let first = names.remove(pos);
        names.insert(0, first);
    }
    names
        .iter()
        .map(|n| {
            let mut s = n.to_string();
            if s.len() > 1 {
                s.pop();
            }
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::nameservers::{Address, NameserverSet, NsAddresses};
    use crate::wire::text::record_to_line;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn wire(s: &str) -> Vec<u8> {
        name(s).as_wire().to_vec()
    }

    fn soa(mname: &str, rname: &str, serial: u32) -> Vec<u8> {
        let mut d = wire(mname);
        d.extend(wire(rname));
        for v in [serial, 3600, 600, 604800, 300] {
            d.extend(v.to_be_bytes());
        }
        d
    }

    fn rec(id: i64, owner: &str, rtype: u16, ttl: u32, rdata: Vec<u8>) -> StoredRecord {
        StoredRecord { id, owner: owner.into(), rtype, class: class::IN, ttl, rdata }
    }

    /// A zone as a primary sends it: SOA, apex NS, glue for ns1, a delegation, data.
    fn primary_zone() -> Vec<StoredRecord> {
        vec![
            rec(1, "example.test.", rtype::SOA, 3600, soa("ns1.example.test", "hostmaster.example.test", 2024010101)),
            rec(2, "example.test.", rtype::NS, 7200, wire("ns1.example.test")),
            rec(3, "example.test.", rtype::NS, 7200, wire("ns2.elsewhere.test")),
            rec(4, "example.test.", rtype::A, 300, vec![192, 0, 2, 1]),
            rec(5, "ns1.example.test.", rtype::A, 300, vec![192, 0, 2, 53]),
            rec(6, "vanity1.example.test.", rtype::A, 300, vec![192, 0, 2, 60]),
            rec(7, "vanity1.example.test.", rtype::TXT, 300, b"\x05hello".to_vec()),
            rec(8, "sub.example.test.", rtype::NS, 300, wire("ns.sub.example.test")),
            rec(9, "ns.sub.example.test.", rtype::A, 300, vec![192, 0, 2, 77]),
        ]
    }

    fn lines(records: &[StoredRecord]) -> Vec<String> {
        records
            .iter()
            .map(|r| {
                record_to_line(&Record {
                    owner: name(&r.owner),
                    rtype: r.rtype,
                    class: r.class,
                    ttl: r.ttl,
                    rdata: r.rdata.clone(),
                })
            })
            .collect()
    }

    fn vanity_settings() -> Settings {
        Settings {
            nameservers: vec![name("vanity1.example.test"), name("vanity2.example.test"), name("ns.provider.test")],
            ns_ttl: Some(172800),
            hostmaster: Some(mailbox_name("dns.admin@example.test").expect("mailbox")),
            glue: vec![
                Glue {
                    name: name("vanity1.example.test"),
                    ttl: 900,
                    addresses: vec!["198.51.100.1".parse().expect("ip"), "2001:db8::1".parse().expect("ip")],
                },
                Glue {
                    name: name("vanity2.example.test"),
                    ttl: 900,
                    addresses: vec!["198.51.100.2".parse().expect("ip")],
                },
                Glue { name: name("ns.provider.test"), ttl: 900, addresses: vec!["203.0.113.9".parse().expect("ip")] },
            ],
        }
    }

    #[test]
    fn without_settings_the_primarys_records_are_published_unchanged() {
        let apex = name("example.test");
        assert_eq!(publish(&apex, primary_zone(), None), primary_zone());
    }

    #[test]
    fn settings_replace_apex_ns_glue_and_soa_names_and_keep_everything_else() {
        let apex = name("example.test");
        let out = publish(&apex, primary_zone(), Some(&vanity_settings()));
        assert_eq!(
            lines(&out),
            [
                "example.test. 3600 IN SOA vanity1.example.test. dns\\.admin.example.test. 2024010101 3600 600 604800 300",
                "example.test. 172800 IN NS vanity1.example.test.",
                "example.test. 172800 IN NS vanity2.example.test.",
                "example.test. 172800 IN NS ns.provider.test.",
                "vanity1.example.test. 900 IN A 198.51.100.1",
                "vanity1.example.test. 900 IN AAAA 2001:db8::1",
                "vanity2.example.test. 900 IN A 198.51.100.2",
                "example.test. 300 IN A 192.0.2.1",
                "ns1.example.test. 300 IN A 192.0.2.53",
                "vanity1.example.test. 300 IN TXT \"hello\"",
                "sub.example.test. 300 IN NS ns.sub.example.test.",
                "ns.sub.example.test. 300 IN A 192.0.2.77",
            ],
            "the out-of-zone ns.provider.test gets no glue; the delegation of sub stays"
        );
        assert_eq!(out[0].id, 1, "the SOA keeps its id");
        assert!(out[1..7].iter().all(|r| r.id >= SYNTHETIC_ID_BASE && r.id < 1 << 53), "synthetic ids");
        let again = publish(&apex, primary_zone(), Some(&vanity_settings()));
        assert_eq!(out, again, "the same settings publish the same records and ids");
    }

    #[test]
    fn bare_ns_names_take_the_primarys_apex_ns_ttl_or_a_day_and_keep_the_rname() {
        let apex = name("example.test");
        let bare = Settings { nameservers: vec![name("a.ns.test"), name("b.ns.test")], ..Settings::default() };
        let out = lines(&publish(&apex, primary_zone(), Some(&bare)));
        assert_eq!(
            out[0],
            "example.test. 3600 IN SOA a.ns.test. hostmaster.example.test. 2024010101 3600 600 604800 300"
        );
        assert_eq!(out[1..3], ["example.test. 7200 IN NS a.ns.test.", "example.test. 7200 IN NS b.ns.test."]);
        let without_ns: Vec<StoredRecord> = primary_zone().into_iter().filter(|r| r.rtype != rtype::NS).collect();
        let out = lines(&publish(&apex, without_ns, Some(&bare)));
        assert_eq!(out[1], "example.test. 86400 IN NS a.ns.test.");
    }

    #[test]
    fn settings_without_nameservers_change_only_the_rname() {
        let apex = name("example.test");
        let only_rname = Settings { hostmaster: Some(name("ops.example.test")), ..Settings::default() };
        let out = publish(&apex, primary_zone(), Some(&only_rname));
        let mut expected = primary_zone();
        expected[0].rdata = soa("ns1.example.test", "ops.example.test", 2024010101);
        assert_eq!(out, expected);
    }

    #[test]
    fn a_malformed_soa_is_published_as_received() {
        let apex = name("example.test");
        let broken = vec![rec(1, "example.test.", rtype::SOA, 3600, vec![3, b'a', b'b'])];
        let out = publish(&apex, broken.clone(), Some(&vanity_settings()));
        assert_eq!(out[0], broken[0]);
    }

    #[test]
    fn mailbox_names_escape_the_dots_of_the_local_part() {
        assert_eq!(mailbox_name("john.doe@example.com").expect("ok").to_string(), "john\\.doe.example.com.");
        assert_eq!(mailbox_name("hostmaster@example.com").expect("ok").to_string(), "hostmaster.example.com.");
        assert_eq!(mailbox_name("john.doe@example.com").expect("ok").label_count(), 3);
        assert!(mailbox_name("nobody").is_err());
    }

    #[test]
    fn delegation_lists_the_mname_first_then_the_ns_in_order() {
        let apex = name("example.test");
        let mut zone = primary_zone();
        zone[0].rdata = soa("ns2.elsewhere.test", "hostmaster.example.test", 1);
        assert_eq!(delegation(&apex, &zone), ["ns2.elsewhere.test", "ns1.example.test"]);
        // A hidden primary (MNAME not among the NS) leaves the NS order alone.
        zone[0].rdata = soa("hidden.example.test", "hostmaster.example.test", 1);
        assert_eq!(delegation(&apex, &zone), ["ns1.example.test", "ns2.elsewhere.test"]);
        let published = publish(&apex, primary_zone(), Some(&vanity_settings()));
        assert_eq!(delegation(&apex, &published), ["vanity1.example.test", "vanity2.example.test", "ns.provider.test"]);
        assert!(delegation(&apex, &[]).is_empty());
    }

    fn set(id: i64, ns_ttl: u32, ip_ttl: u32, hostmaster: Option<&str>, nameservers: &[&str]) -> NameserverSet {
        NameserverSet {
            id,
            account_id: 1,
            name: format!("set {id}"),
            hostmaster: hostmaster.map(str::to_string),
            ns_ttl,
            ip_ttl,
            external_ref: None,
            nameservers: nameservers.iter().map(|s| s.to_string()).collect(),
            zones: vec![],
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn stored_settings_resolve_in_priority_order_with_the_first_sets_ttl_and_hostmaster() {
        let ns = ZoneNs {
            ns_names: vec!["ns.provider.test".into(), "vanity2.example.test".into()],
            sets: vec![
                set(1, 3600, 900, None, &["vanity1.example.test", "vanity2.example.test"]),
                set(2, 60, 60, Some("a.b@example.test"), &["vanity3.example.test"]),
            ],
            addresses: vec![
                NsAddresses {
                    ns_name: "vanity1.example.test".into(),
                    ip_ttl: 900,
                    records: vec![Address { rtype: "A".into(), value: "198.51.100.1".into() }],
                },
                NsAddresses {
                    ns_name: "vanity3.example.test".into(),
                    ip_ttl: 60,
                    records: vec![Address { rtype: "AAAA".into(), value: "2001:db8::3".into() }],
                },
            ],
        };
        let s = Settings::from_store(&ns);
        let names: Vec<String> = s.nameservers.iter().map(Name::to_string).collect();
        assert_eq!(
            names,
            ["ns.provider.test.", "vanity2.example.test.", "vanity1.example.test.", "vanity3.example.test."],
            "explicit names first, then each set's; vanity2 once"
        );
        assert_eq!(s.ns_ttl, Some(3600));
        assert_eq!(s.hostmaster.map(|h| h.to_string()).as_deref(), Some("a\\.b.example.test."));
        assert_eq!(s.glue.len(), 2);
        assert_eq!((s.glue[0].name.to_string().as_str(), s.glue[0].ttl), ("vanity1.example.test.", 900));
        assert_eq!((s.glue[1].name.to_string().as_str(), s.glue[1].ttl), ("vanity3.example.test.", 60));

        let bare =
            Settings::from_store(&ZoneNs { ns_names: vec!["a.ns.test".into()], sets: vec![], addresses: vec![] });
        assert_eq!(bare.ns_ttl, None);
        assert_eq!(bare.hostmaster, None);
    }
}
