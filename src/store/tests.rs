use super::primaries::NewPrimary;
use super::*;

fn db() -> Connection {
    let mut conn = Connection::open_in_memory().expect("in-memory db");
    settle(&conn).expect("settings");
    migrations::migrate(&mut conn).expect("migrate");
    links::install(&mut conn).expect("links index");
    conn
}

fn primary(name: &str) -> NewPrimary {
    NewPrimary { name: name.into(), ip: "192.0.2.1".into(), port: 53, tsig_key: None, notify_requires_tsig: false }
}

const ALL: Page = Page { page: 1, per_page: 100 };

#[test]
fn links_keep_their_order_and_show_on_both_sides() {
    let mut c = db();
    let a = primaries::create(&mut c, 1, primary("a")).expect("a");
    let b = primaries::create(&mut c, 1, primary("b")).expect("b");
    zones::create(&mut c, 1, "example.com", false).expect("zone");
    primaries::link(&mut c, 1, &b.id.to_string(), "example.com").expect("link b");
    let (linked, _) = primaries::link(&mut c, 1, "a", "example.com").expect("link a by name");
    assert_eq!(linked.linked_zones.names(), vec!["example.com".to_string()]);
    let z = zones::get(&c, 1, "example.com").expect("zone");
    assert_eq!(z.primaries.iter().map(|p| p.id).collect::<Vec<_>>(), vec![b.id, a.id]);
    let again = primaries::link(&mut c, 1, "a", "example.com").expect_err("linked twice");
    assert!(matches!(again, StoreError::Invalid { field: "zone", .. }));
    primaries::unlink(&mut c, 1, "b", "example.com").expect("unlink");
    let z = zones::get(&c, 1, "example.com").expect("zone");
    assert_eq!(z.primaries.len(), 1);
}

#[test]
fn zones_of_other_accounts_are_invisible_and_their_names_taken() {
    let mut c = db();
    zones::create(&mut c, 1, "example.com", false).expect("zone");
    assert!(matches!(zones::get(&c, 2, "example.com"), Err(StoreError::NotFound { .. })));
    assert!(matches!(zones::create(&mut c, 2, "example.com", false), Err(StoreError::Invalid { field: "name", .. })));
    primaries::create(&mut c, 2, primary("p")).expect("p");
    assert!(matches!(primaries::link(&mut c, 2, "p", "example.com"), Err(StoreError::Invalid { field: "zone", .. })));
}

#[test]
fn deleting_a_primary_removes_its_links_but_not_the_zones() {
    let mut c = db();
    primaries::create(&mut c, 1, primary("p")).expect("p");
    zones::create(&mut c, 1, "example.com", false).expect("zone");
    primaries::link(&mut c, 1, "p", "example.com").expect("link");
    primaries::delete(&mut c, 1, "p").expect("delete");
    let z = zones::get(&c, 1, "example.com").expect("zone survives");
    assert!(z.primaries.is_empty());
}

#[test]
fn lists_sort_and_paginate() {
    let mut c = db();
    for n in ["b", "c", "a"] {
        primaries::create(&mut c, 1, primary(n)).expect("create");
    }
    let by_name = Sort { column: SortColumn::Name, descending: true };
    let (items, total) = primaries::list(&c, 1, by_name, Page { page: 1, per_page: 2 }).expect("list");
    assert_eq!(total, 3);
    assert_eq!(items.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["c", "b"]);
    let (items, _) = primaries::list(&c, 1, by_name, Page { page: 2, per_page: 2 }).expect("list");
    assert_eq!(items.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["a"]);
    let (none, total) = primaries::list(&c, 9, Sort::DEFAULT, ALL).expect("list");
    assert!(none.is_empty() && total == 0);
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let mut c = db();
    c.pragma_update(None, "user_version", migrations::CURRENT + 1).expect("pragma");
    let e = migrations::migrate(&mut c).expect_err("newer schema");
    assert!(e.to_string().contains("newer"), "{e}");
}

mod zone_data {
    use super::*;
    use crate::store::zonedata::{self, Committed, Diff, DiffError, RecordFilter};
    use crate::wire::{Name, Record};

    fn rec(owner: &str, last: u8) -> Record {
        Record {
            owner: Name::from_ascii(owner).expect("name"),
            rtype: 1,
            class: 1,
            ttl: 300,
            rdata: vec![192, 0, 2, last],
        }
    }

    fn committed(serial: u32) -> Committed {
        Committed {
            serial,
            soa: [3600, 600, 86400, 300],
            primary: "p".into(),
            primary_id: PRIMARY,
            summary_json: "{}".into(),
        }
    }

    /// The id of the one primary of [`zone`] (the first one of a new store).
    const PRIMARY: i64 = 1;

    /// Creates zone `z.test`, linked to primary `p` ([`PRIMARY`]), and returns its id.
    fn zone(c: &mut Connection) -> i64 {
        let p = primaries::create(c, 1, primary("p")).expect("primary");
        assert_eq!(p.id, PRIMARY);
        let id = zones::create(c, 1, "z.test", false).expect("zone").id;
        primaries::link(c, 1, "p", "z.test").expect("link");
        id
    }

    /// A small full load kept packed, in one row of `zone_packed`.
    fn load_packed(c: &mut Connection, id: i64, records: &[Record], committed: &Committed) {
        let load = zonedata::SmallLoad::new(zonedata::Row::all(records));
        assert!(matches!(load, zonedata::SmallLoad::Packed { .. }));
        zonedata::replace_small_then(c, id, &load, committed, |_| Ok(())).expect("packed load");
    }

    /// A small full load as rows of `zone_records` (what a load of more than
    /// `PACKED_ZONE` records, or one stored before packing, is).
    fn load_rows(c: &mut Connection, id: i64, records: &[Record], committed: &Committed) {
        let load = zonedata::SmallLoad::Rows(zonedata::Rows::unique(zonedata::Row::all(records)));
        zonedata::replace_small_then(c, id, &load, committed, |_| Ok(())).expect("rows load");
    }

    type Load = fn(&mut Connection, i64, &[Record], &Committed);

    /// Both forms of a small zone, for the tests that must hold for each.
    const SMALL_FORMS: [(&str, Load); 2] = [("packed", load_packed), ("rows", load_rows)];

    /// Rows of the zone in `zone_records` and in `zone_packed`.
    fn stored_in(c: &Connection, id: i64) -> (i64, i64) {
        let n = |t: &str| -> i64 {
            c.query_row(&format!("SELECT count(*) FROM {t} WHERE zone_id = ?1"), [id], |r| r.get(0)).expect("count")
        };
        (n("zone_records"), n("zone_packed"))
    }

    fn names(c: &Connection, id: i64) -> Vec<(String, u8)> {
        let (rows, _) = zonedata::records(c, id, &RecordFilter::default(), -1, 0).expect("records");
        rows.into_iter().map(|r| (r.owner, r.rdata[3])).collect()
    }

    #[test]
    fn a_small_load_with_its_attempt_writes_the_zones_row_twice_and_keeps_every_field() {
        let mut c = db();
        let id = zone(&mut c);
        let records = [soa(7), rec("a.z.test", 1), rec("b.z.test", 2)];
        let end = zonedata::AttemptEnd {
            started_at: 1_000,
            notice: Some(("127.0.0.1:5300", Some(7), 1_001)),
            times: Some((3, 9)),
            next_refresh_at: 5_000,
            expires_at: Some(90_000),
            backoff: 0,
        };
        let before = c.total_changes();
        let committed = Committed { summary_json: r#"{"records":3}"#.into(), ..committed(7) };
        zonedata::replace_small_then(
            &mut c,
            id,
            &zonedata::SmallLoad::new(zonedata::Row::all(&records)),
            &committed,
            |tx| zonedata::record_attempt(tx, id, &end),
        )
        .expect("load");
        // The three records packed in one row, the zones row once for the
        // version and once for the attempt (it was five times: a statement
        // per field group).
        assert_eq!(c.total_changes() - before, 1 + 2);
        assert_eq!(stored_in(&c, id), (0, 1));
        let st = zones::by_id(&c, id).expect("zone").status;
        assert_eq!((st.serial, st.record_count, st.soa_timers), (Some(7), 3, Some([3600, 600, 86400, 300])));
        assert_eq!((st.attempts, st.last_attempt_at), (1, Some(1_000)));
        assert_eq!(st.last_notify, Some(("127.0.0.1:5300".to_string(), Some(7), 1_001)));
        assert_eq!((st.next_refresh_at, st.expires_at, st.backoff), (Some(5_000), Some(90_000), 0));
        let xfr: serde_json::Value = serde_json::from_str(st.last_xfr.as_deref().expect("summary")).expect("json");
        assert_eq!(xfr, serde_json::json!({"records": 3, "commit_ms": 3, "total_ms": 9}));
        assert_eq!(names(&c, id).len(), 3);

        // An attempt without a NOTIFY or a transfer keeps what those left.
        let failed = zonedata::AttemptEnd { notice: None, times: None, backoff: 1, ..end };
        zonedata::record_attempt(&c, id, &failed).expect("attempt");
        let st = zones::by_id(&c, id).expect("zone").status;
        assert_eq!((st.attempts, st.backoff), (2, 1));
        assert_eq!(st.last_notify, Some(("127.0.0.1:5300".to_string(), Some(7), 1_001)));
        let xfr: serde_json::Value = serde_json::from_str(st.last_xfr.as_deref().expect("summary")).expect("json");
        assert_eq!(xfr["commit_ms"], 3);
    }

    #[test]
    fn a_full_load_is_invisible_until_committed_and_replaces_the_old_version() {
        let mut c = db();
        let id = zone(&mut c);
        let v = zonedata::begin_full(&mut c, id).expect("begin");
        zonedata::insert_batch(&mut c, id, v, &zonedata::Row::all(&[rec("a.z.test", 1), rec("b.z.test", 2)]))
            .expect("insert");
        assert!(names(&c, id).is_empty(), "nothing visible before the commit");
        zonedata::commit_full(&mut c, id, v, 2, &committed(1)).expect("commit");
        assert_eq!(names(&c, id).len(), 2);

        let v2 = zonedata::begin_full(&mut c, id).expect("begin");
        zonedata::insert_batch(&mut c, id, v2, &zonedata::Row::all(&[rec("c.z.test", 3)])).expect("insert");
        assert_eq!(names(&c, id).len(), 2, "the old version serves during the load");
        zonedata::discard(&mut c, id, v2).expect("discard");
        assert_eq!(names(&c, id).len(), 2, "a discarded load changes nothing");
        assert_eq!(zonedata::collect_garbage(&mut c).expect("gc"), 0);
    }

    fn ids(c: &Connection, id: i64) -> Vec<(String, u16, i64)> {
        let (rows, _) = zonedata::records(c, id, &RecordFilter::default(), -1, 0).expect("records");
        rows.into_iter().map(|r| (r.owner, r.rtype, r.id)).collect()
    }

    #[test]
    fn a_record_keeps_its_id_across_full_transfers_and_the_soa_across_serials() {
        let mut c = db();
        let id = zone(&mut c);
        zonedata::replace_small(&mut c, id, &[soa(1), rec("a.z.test", 1), rec("b.z.test", 2)], &committed(1))
            .expect("load");
        let before = ids(&c, id);
        // Another order, one record gone, one new, a new serial: a full transfer.
        let v = zonedata::begin_full(&mut c, id).expect("begin");
        zonedata::insert_batch(&mut c, id, v, &zonedata::Row::all(&[soa(2), rec("c.z.test", 3), rec("b.z.test", 2)]))
            .expect("insert");
        zonedata::commit_full(&mut c, id, v, 3, &committed(2)).expect("commit");
        let after = ids(&c, id);
        let id_of = |rows: &[(String, u16, i64)], owner: &str, rtype: u16| {
            rows.iter().find(|r| r.0 == owner && r.1 == rtype).map(|r| r.2).expect("the record")
        };
        assert_eq!(id_of(&before, "b.z.test.", 1), id_of(&after, "b.z.test.", 1), "b kept its id");
        assert_eq!(id_of(&before, "z.test.", 6), id_of(&after, "z.test.", 6), "the SOA kept its id");
        let c_id = id_of(&after, "c.z.test.", 1);
        assert!(before.iter().all(|r| r.2 != c_id), "a new record takes no id that named another");
        assert!(after.iter().all(|r| (1..=zonedata::MAX_RECORD_ID).contains(&r.2)), "{after:?}");
    }

    #[test]
    fn the_name_filter_finds_an_owner_whose_label_ends_in_an_escaped_dot() {
        for (form, load) in SMALL_FORMS {
            let mut c = db();
            let id = zone(&mut c);
            load(&mut c, id, &[soa(1), rec("dot\\..z.test", 1), rec("dot.z.test", 2)], &committed(1));
            let find = |name: &str| {
                let filter = RecordFilter { name: Some(name.into()), rtype: None };
                let (rows, _) = zonedata::records(&c, id, &filter, -1, 0).expect("records");
                rows.into_iter().map(|r| r.owner).collect::<Vec<_>>()
            };
            assert_eq!(find("dot\\."), vec!["dot\\..z.test.".to_string()], "{form}");
            assert_eq!(find("dot."), vec!["dot.z.test.".to_string()], "{form}: an unescaped final dot is dropped");
            assert_eq!(find("DOT"), vec!["dot.z.test.".to_string()], "{form}");
        }
    }

    #[test]
    fn both_forms_of_a_small_zone_list_filter_and_page_its_records_alike() {
        let records = [soa(1), rec("a.z.test", 1), ns("z.test", "ns1.z.test"), rec("B.z.test", 2), rec("c.z.test", 3)];
        let listing = |load: Load| {
            let mut c = db();
            let id = zone(&mut c);
            load(&mut c, id, &records, &committed(1));
            let list = |filter: RecordFilter, limit: i64, offset: i64| {
                let (rows, total) = zonedata::records(&c, id, &filter, limit, offset).expect("records");
                (rows.into_iter().map(|r| (r.id, r.owner, r.rtype, r.ttl, r.rdata)).collect::<Vec<_>>(), total)
            };
            let all = RecordFilter::default();
            [
                list(all.clone(), -1, 0),
                list(all.clone(), 2, 1),
                list(all, 10, 9),
                list(RecordFilter { name: None, rtype: Some(1) }, -1, 0),
                list(RecordFilter { name: Some("b".into()), rtype: None }, -1, 0),
                list(RecordFilter { name: Some("".into()), rtype: Some(2) }, 1, 0),
            ]
        };
        let (packed, rows) = (listing(load_packed), listing(load_rows));
        assert_eq!(packed, rows);
        assert_eq!(packed[0].0.len(), 5);
        assert_eq!(packed[1].0.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(), ["a.z.test.", "z.test."]);
        assert_eq!((packed[2].0.len(), packed[2].1), (0, 5), "a page past the end is empty, the total stays");
        assert_eq!(packed[3].1, 3);
        assert_eq!(packed[4].0[0].1, "B.z.test.", "owners keep their case");
        assert_eq!(packed[5].0[0].2, 2);
    }

    /// The apex SOA at `serial`, with a fixed MNAME and RNAME.
    fn soa(serial: u32) -> Record {
        let mut rdata = Vec::new();
        for n in ["ns1.z.test", "hostmaster.z.test"] {
            rdata.extend_from_slice(Name::from_ascii(n).expect("name").as_wire());
        }
        for v in [serial, 3600, 600, 86400, 300] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        Record { owner: Name::from_ascii("z.test").expect("name"), rtype: 6, class: 1, ttl: 300, rdata }
    }

    #[test]
    fn after_an_ixfr_the_soa_is_still_the_first_record_in_stored_order() {
        for (_, load) in SMALL_FORMS {
            after_an_ixfr_the_soa_is_still_first(load);
        }
    }

    fn after_an_ixfr_the_soa_is_still_first(load: Load) {
        let mut c = db();
        let id = zone(&mut c);
        let full = [soa(1), rec("a.z.test", 1), rec("b.z.test", 2)];
        load(&mut c, id, &full, &committed(1));
        // Two steps, each replacing the SOA; the second also adds a record after it.
        let steps = [
            Diff { from: 1, to: 2, deleted: vec![soa(1)], added: vec![soa(2)] },
            Diff { from: 2, to: 3, deleted: vec![soa(2), rec("a.z.test", 1)], added: vec![rec("c.z.test", 3), soa(3)] },
        ];
        zonedata::apply_diffs(&mut c, id, &steps, &committed(3), (100, 1 << 20)).expect("apply");
        let (rows, total) = zonedata::records(&c, id, &RecordFilter::default(), -1, 0).expect("records");
        assert_eq!(total, 3);
        assert_eq!(rows[0].rtype, 6, "the SOA comes first: {rows:?}");
        assert_eq!(rows[0].rdata, soa(3).rdata, "and it is the new one");
        let rest: Vec<(&str, u8)> = rows[1..].iter().map(|r| (r.owner.as_str(), r.rdata[3])).collect();
        assert_eq!(rest, vec![("b.z.test.", 2), ("c.z.test.", 3)]);
    }

    #[test]
    fn journaled_steps_reach_the_table_when_folded_or_before_the_next_strict_apply() {
        let mut c = db();
        let id = zone(&mut c);
        let v = zonedata::begin_full(&mut c, id).expect("begin");
        zonedata::insert_batch(&mut c, id, v, &zonedata::Row::all(&[soa(1), rec("a.z.test", 1), rec("b.z.test", 2)]))
            .expect("insert");
        zonedata::commit_full(&mut c, id, v, 3, &committed(1)).expect("commit");
        let step = |from: u32, deleted: Vec<Record>, added: Vec<Record>| Diff { from, to: from + 1, deleted, added };
        // Two steps journaled only: the serial and the count move, the table waits.
        let steps = [
            step(1, vec![soa(1), rec("a.z.test", 1)], vec![soa(2), rec("c.z.test", 3)]),
            step(2, vec![soa(2)], vec![soa(3), rec("d.z.test", 4)]),
        ];
        assert_eq!(zonedata::append_diffs(&mut c, id, &steps, &committed(3)).expect("append"), 4);
        assert!(zonedata::fold_pending(&c, id).expect("pending"));
        let serial: i64 = c.query_row("SELECT serial FROM zones WHERE id = ?1", [id], |r| r.get(0)).expect("serial");
        assert_eq!(serial, 3);
        let owners = |c: &Connection| -> Vec<String> { names(c, id).into_iter().map(|(o, _)| o).collect() };
        assert_eq!(owners(&c), ["z.test.", "a.z.test.", "b.z.test."]);
        assert_eq!(zonedata::fold_journal(&mut c, id, Some((100, 1 << 20))).expect("fold"), 2);
        assert!(!zonedata::fold_pending(&c, id).expect("pending"));
        let (rows, total) = zonedata::records(&c, id, &RecordFilter::default(), -1, 0).expect("records");
        assert_eq!(total, 4);
        assert_eq!(rows[0].rdata, soa(3).rdata, "the new SOA, first in stored order");
        assert_eq!(zonedata::fold_journal(&mut c, id, None).expect("again"), 0, "nothing left to fold");
        // A step journaled, then a strict apply (no view to check it): the
        // apply folds the journaled step first, so its own delete finds the row.
        zonedata::append_diffs(&mut c, id, &[step(3, vec![soa(3)], vec![soa(4), rec("e.z.test", 5)])], &committed(4))
            .expect("append");
        let strict = step(4, vec![soa(4), rec("e.z.test", 5)], vec![soa(5)]);
        assert_eq!(zonedata::apply_diffs(&mut c, id, &[strict], &committed(5), (100, 1 << 20)).expect("apply"), 4);
        assert!(!zonedata::fold_pending(&c, id).expect("pending"));
        assert_eq!(owners(&c), ["z.test.", "b.z.test.", "c.z.test.", "d.z.test."]);
        let journal: i64 =
            c.query_row("SELECT count(*) FROM zone_journal WHERE zone_id = ?1", [id], |r| r.get(0)).expect("count");
        assert_eq!(journal, 4, "every step stays in the journal for IXFR out");
        // A stop between an append and its fold: start-up folds every zone.
        zonedata::append_diffs(&mut c, id, &[step(5, vec![soa(5)], vec![soa(6)])], &committed(6)).expect("append");
        assert_eq!(zonedata::fold_all(&mut c).expect("fold all"), 1);
        let (rows, _) = zonedata::records(&c, id, &RecordFilter::default(), -1, 0).expect("records");
        assert_eq!(rows[0].rdata, soa(6).rdata);
    }

    #[test]
    fn diffs_apply_atomically_and_the_journal_stays_bounded() {
        let mut c = db();
        let id = zone(&mut c);
        let v = zonedata::begin_full(&mut c, id).expect("begin");
        zonedata::insert_batch(&mut c, id, v, &zonedata::Row::all(&[rec("a.z.test", 1), rec("b.z.test", 2)]))
            .expect("insert");
        zonedata::commit_full(&mut c, id, v, 2, &committed(1)).expect("commit");
        for serial in 2..=6u32 {
            let d = Diff {
                from: serial - 1,
                to: serial,
                deleted: vec![rec("a.z.test", serial as u8 - 1)],
                added: vec![rec("A.Z.TEST", serial as u8)],
            };
            zonedata::apply_diffs(&mut c, id, &[d], &committed(serial), (3, 1 << 20)).expect("apply");
        }
        assert_eq!(names(&c, id), vec![("b.z.test.".to_string(), 2), ("A.Z.TEST.".to_string(), 6)]);
        let journal: i64 =
            c.query_row("SELECT count(*) FROM zone_journal WHERE zone_id = ?1", [id], |r| r.get(0)).expect("count");
        assert_eq!(journal, 3, "only the newest 3 diffs are kept");
        zonedata::apply_diffs(
            &mut c,
            id,
            &[Diff { from: 6, to: 7, deleted: vec![rec("b.z.test", 2)], added: vec![rec("c.z.test", 7)] }],
            &committed(7),
            (100, 1),
        )
        .expect("apply");
        let journal: i64 =
            c.query_row("SELECT count(*) FROM zone_journal WHERE zone_id = ?1", [id], |r| r.get(0)).expect("count");
        assert_eq!(journal, 0, "a 1-byte budget keeps nothing");

        let bad = Diff { from: 7, to: 8, deleted: vec![rec("c.z.test", 7), rec("nope.z.test", 9)], added: vec![] };
        let e = zonedata::apply_diffs(&mut c, id, &[bad], &committed(8), (100, 1 << 20)).expect_err("mismatch");
        assert!(matches!(e, DiffError::Mismatch(ref m) if m.contains("nope.z.test")));
        assert_eq!(names(&c, id).len(), 2, "a diff that does not apply changes nothing");
        let serial: i64 = c.query_row("SELECT serial FROM zones WHERE id = ?1", [id], |r| r.get(0)).expect("serial");
        assert_eq!(serial, 7);
    }

    #[test]
    fn no_commit_happens_once_the_primary_is_unlinked_or_deleted() {
        let mut c = db();
        let id = zone(&mut c);
        zonedata::replace_small(&mut c, id, &[soa(1), rec("a.z.test", 1)], &committed(1)).expect("load");
        let v = zonedata::begin_full(&mut c, id).expect("begin");
        zonedata::insert_batch(&mut c, id, v, &zonedata::Row::all(&[soa(2), rec("b.z.test", 2)])).expect("insert");
        primaries::unlink(&mut c, 1, "p", "z.test").expect("unlink");
        let unlinked =
            |e: &StoreError| matches!(e, StoreError::Unlinked { zone_id, primary_id: PRIMARY } if *zone_id == id);
        let e = zonedata::commit_full(&mut c, id, v, 2, &committed(2)).expect_err("unlinked: full");
        assert!(unlinked(&e), "{e}");
        let e = zonedata::replace_small(&mut c, id, &[soa(2)], &committed(2)).expect_err("unlinked: small");
        assert!(unlinked(&e), "{e}");
        let step = Diff { from: 1, to: 2, deleted: vec![soa(1)], added: vec![soa(2)] };
        let e = zonedata::apply_diffs(&mut c, id, std::slice::from_ref(&step), &committed(2), (100, 1 << 20))
            .expect_err("unlinked: diff");
        assert!(matches!(e, DiffError::Store(ref e) if unlinked(e)), "{e:?}");
        let serial: i64 = c.query_row("SELECT serial FROM zones WHERE id = ?1", [id], |r| r.get(0)).expect("serial");
        assert_eq!(serial, 1, "the copy stays as it was");
        let owners: Vec<String> = names(&c, id).into_iter().map(|(owner, _)| owner).collect();
        assert_eq!(owners, vec!["z.test.", "a.z.test."]);

        // Linked again, the same diff commits; deleting the primary stops the next one.
        primaries::link(&mut c, 1, "p", "z.test").expect("link");
        zonedata::apply_diffs(&mut c, id, &[step], &committed(2), (100, 1 << 20)).expect("linked: diff");
        primaries::delete(&mut c, 1, "p").expect("delete primary");
        let e = zonedata::replace_small(&mut c, id, &[soa(3)], &committed(3)).expect_err("deleted");
        assert!(unlinked(&e), "{e}");
    }

    fn ns(owner: &str, target: &str) -> Record {
        let rdata = Name::from_ascii(target).expect("name").as_wire().to_vec();
        Record { owner: Name::from_ascii(owner).expect("name"), rtype: 2, class: 1, ttl: 300, rdata }
    }

    fn a_records(c: &Connection, id: i64) -> Vec<(String, u8)> {
        let (rows, _) = zonedata::records(c, id, &RecordFilter::default(), -1, 0).expect("records");
        rows.into_iter().filter(|r| r.rtype == 1).map(|r| (r.owner, r.rdata[3])).collect()
    }

    fn count(c: &Connection, id: i64) -> i64 {
        c.query_row("SELECT record_count FROM zones WHERE id = ?1", [id], |r| r.get(0)).expect("count")
    }

    /// A zone with a duplicate A and an NS given twice in different case, then
    /// an IXFR that deletes both: nothing of them may stay behind.
    fn duplicates_are_one_record_and_an_ixfr_deletes_them_for_good(load: impl Fn(&mut Connection, i64, &[Record])) {
        let mut c = db();
        let id = zone(&mut c);
        let zone = [rec("a.z.test", 1), rec("A.z.test", 1), ns("z.test", "ns1.z.test"), ns("Z.test", "NS1.Z.TEST")];
        load(&mut c, id, &zone);
        assert_eq!(a_records(&c, id), vec![("a.z.test.".to_string(), 1)], "one A record");
        assert_eq!(count(&c, id), 2);
        let (_, total) = zonedata::records(&c, id, &RecordFilter::default(), -1, 0).expect("records");
        assert_eq!(total, 2, "one A and one NS record are stored");
        // The primary no longer has them: no ghost remains.
        let d = Diff { from: 1, to: 2, deleted: vec![rec("a.z.test", 1), ns("z.test", "Ns1.z.Test")], added: vec![] };
        zonedata::apply_diffs(&mut c, id, &[d], &committed(2), (10, 1 << 20)).expect("apply");
        assert!(a_records(&c, id).is_empty(), "the A record is gone, not one copy of it");
        let (rows, total) = zonedata::records(&c, id, &RecordFilter::default(), -1, 0).expect("records");
        assert_eq!((rows.len(), total), (0, 0), "the NS record is gone too: {rows:?}");
        assert_eq!(count(&c, id), 0);
    }

    #[test]
    fn duplicates_in_a_small_full_load_are_stored_once() {
        for (_, load) in SMALL_FORMS {
            duplicates_are_one_record_and_an_ixfr_deletes_them_for_good(|c, id, zone| load(c, id, zone, &committed(1)));
        }
    }

    #[test]
    fn duplicates_in_a_large_full_load_are_stored_once() {
        duplicates_are_one_record_and_an_ixfr_deletes_them_for_good(|c, id, zone| {
            let v = zonedata::begin_full(c, id).expect("begin");
            // In two batches: the copies are in different transactions.
            zonedata::insert_batch(c, id, v, &zonedata::Row::all(&zone[..1])).expect("insert");
            zonedata::insert_batch(c, id, v, &zonedata::Row::all(&zone[1..])).expect("insert");
            let shared = zonedata::shared_keys(zone.iter().map(zonedata::record_key).collect());
            assert_eq!(shared.len(), 2, "the A and the NS records share their keys");
            let removed = zonedata::dedupe_full(c, id, v, &shared).expect("dedupe");
            assert_eq!(removed, 2);
            zonedata::commit_full(c, id, v, zone.len() as u64 - removed, &committed(1)).expect("commit");
        });
    }

    #[test]
    fn a_row_keyed_before_keys_were_canonical_is_still_found_by_an_ixfr() {
        let mut c = db();
        let id = zone(&mut c);
        let old = ns("z.test", "NS1.Z.TEST");
        load_rows(&mut c, id, std::slice::from_ref(&old), &committed(1));
        c.execute("UPDATE zone_records SET rkey = ?1", [zonedata::legacy_key(&old)]).expect("old key");
        let d = Diff { from: 1, to: 2, deleted: vec![old], added: vec![] };
        zonedata::apply_diffs(&mut c, id, &[d], &committed(2), (10, 1 << 20)).expect("apply");
        assert_eq!(count(&c, id), 0);
    }

    #[test]
    fn an_ixfr_adding_a_record_we_have_changes_nothing_and_journals_nothing() {
        for (_, load) in SMALL_FORMS {
            an_ixfr_adding_a_record_we_have_changes_nothing(load);
        }
    }

    fn an_ixfr_adding_a_record_we_have_changes_nothing(load: Load) {
        let mut c = db();
        let id = zone(&mut c);
        load(&mut c, id, &[rec("a.z.test", 1), ns("z.test", "ns1.z.test")], &committed(1));
        let d = Diff {
            from: 1,
            to: 2,
            deleted: vec![],
            added: vec![rec("A.Z.test", 1), ns("z.test", "NS1.z.test"), rec("b.z.test", 2), rec("b.z.test", 2)],
        };
        zonedata::apply_diffs(&mut c, id, &[d], &committed(2), (10, 1 << 20)).expect("apply");
        assert_eq!(a_records(&c, id), vec![("a.z.test.".to_string(), 1), ("b.z.test.".to_string(), 2)]);
        assert_eq!(count(&c, id), 3);
        let chain = zonedata::journal_chain(&c, id, 1, 2).expect("journal").expect("a step 1→2");
        assert_eq!(chain[0].added, vec![rec("b.z.test", 2)], "the journal holds what took effect");
    }

    /// The zone's records as a rebuild of its view at start-up reads them.
    fn as_read_at_start(c: &Connection, id: i64) -> Vec<(Vec<u8>, u16, u32, Vec<u8>)> {
        let mut out = Vec::new();
        zonedata::for_each_record(c, id, |o, t, ttl, rd| {
            out.push((o.to_vec(), t, ttl, rd.to_vec()));
            Ok(())
        })
        .expect("read");
        out
    }

    #[test]
    fn a_packed_zone_folds_its_journal_and_reads_back_as_rows_do() {
        let full = [soa(1), rec("a.z.test", 1), rec("b.z.test", 2)];
        let step = |from: u32, deleted: Vec<Record>, added: Vec<Record>| Diff { from, to: from + 1, deleted, added };
        let steps = [
            step(1, vec![soa(1), rec("a.z.test", 1)], vec![soa(2), rec("c.z.test", 3)]),
            step(2, vec![soa(2)], vec![soa(3), rec("d.z.test", 4)]),
        ];
        let after = |load: Load| {
            let mut c = db();
            let id = zone(&mut c);
            load(&mut c, id, &full, &committed(1));
            assert_eq!(as_read_at_start(&c, id).len(), 3);
            zonedata::append_diffs(&mut c, id, &steps, &committed(3)).expect("append");
            assert_eq!(zonedata::fold_journal(&mut c, id, Some((100, 1 << 20))).expect("fold"), 2);
            // The view sorts what it reads; rows come in the order of their index.
            let mut read = as_read_at_start(&c, id);
            read.sort();
            (read, names(&c, id), count(&c, id), stored_in(&c, id))
        };
        let (packed, rows) = (after(load_packed), after(load_rows));
        assert_eq!(packed.0, rows.0, "the view is built from the same records");
        assert_eq!(packed.1, rows.1);
        assert_eq!(
            packed.1.iter().map(|(o, _)| o.as_str()).collect::<Vec<_>>(),
            ["z.test.", "b.z.test.", "c.z.test.", "d.z.test."]
        );

        assert_eq!((packed.2, rows.2), (4, 4));
        assert_eq!((packed.3, rows.3), ((0, 1), (4, 0)));
    }

    #[test]
    fn a_zone_moves_between_its_forms_without_leaving_records_behind() {
        let mut c = db();
        let id = zone(&mut c);
        let many: Vec<Record> = std::iter::once(soa(1))
            .chain((0..zonedata::PACKED_ZONE).map(|i| rec(&format!("h{i}.z.test"), 7)))
            .collect();
        assert!(matches!(zonedata::SmallLoad::new(zonedata::Row::all(&many)), zonedata::SmallLoad::Rows(_)));
        zonedata::replace_small(&mut c, id, &[soa(1), rec("a.z.test", 1)], &committed(1)).expect("packed");
        assert_eq!(stored_in(&c, id), (0, 1));
        zonedata::replace_small(&mut c, id, &many, &committed(2)).expect("rows");
        assert_eq!(stored_in(&c, id), (many.len() as i64, 0), "a load past PACKED_ZONE is rows");
        assert_eq!(as_read_at_start(&c, id).len(), many.len());
        zonedata::replace_small(&mut c, id, &[soa(3), rec("b.z.test", 2)], &committed(3)).expect("packed again");
        assert_eq!(stored_in(&c, id), (0, 1));
        let owners: Vec<String> = names(&c, id).into_iter().map(|(o, _)| o).collect();
        assert_eq!(owners, ["z.test.", "b.z.test."]);
        // A large load replaces the packed row too.
        let v = zonedata::begin_full(&mut c, id).expect("begin");
        assert!(v > 0, "a large load's table is never the shared one");
        zonedata::insert_batch(&mut c, id, v, &zonedata::Row::all(&[soa(4), rec("c.z.test", 3)])).expect("insert");
        zonedata::commit_full(&mut c, id, v, 2, &committed(4)).expect("commit");
        assert_eq!(stored_in(&c, id), (0, 0));
        assert_eq!(names(&c, id).len(), 2);
        // Deleting a packed zone deletes its row; an orphan row is garbage.
        zonedata::replace_small(&mut c, id, &[soa(5)], &committed(5)).expect("packed");
        assert_eq!(stored_in(&c, id), (0, 1));
        c.execute("INSERT INTO zone_packed (zone_id, records) VALUES (999, x'00')", []).expect("orphan");
        assert_eq!(zonedata::collect_garbage(&mut c).expect("gc"), 1 + 1, "the orphan row and the large load's table");
        zones::delete(&mut c, 1, "z.test").expect("delete");
        assert_eq!(stored_in(&c, id), (0, 0));
    }

    #[test]
    fn a_packed_zone_grown_by_ixfrs_past_twice_the_bound_moves_to_rows() {
        let mut c = db();
        let id = zone(&mut c);
        zonedata::replace_small(&mut c, id, &[soa(1)], &committed(1)).expect("load");
        let added: Vec<Record> = (0..2 * zonedata::PACKED_ZONE).map(|i| rec(&format!("h{i}.z.test"), 1)).collect();
        let d = Diff { from: 1, to: 2, deleted: vec![soa(1)], added: [vec![soa(2)], added.clone()].concat() };
        zonedata::apply_diffs(&mut c, id, &[d], &committed(2), (10, 1 << 30)).expect("apply");
        assert_eq!(stored_in(&c, id), (1 + added.len() as i64, 0));
        let (rows, total) = zonedata::records(&c, id, &RecordFilter::default(), -1, 0).expect("records");
        assert_eq!(total as usize, 1 + added.len());
        assert_eq!(rows[0].rdata, soa(2).rdata);
        // And IXFRs go on applying to its rows.
        let d = Diff { from: 2, to: 3, deleted: vec![soa(2), added[5].clone()], added: vec![soa(3)] };
        zonedata::apply_diffs(&mut c, id, &[d], &committed(3), (10, 1 << 30)).expect("apply");
        assert_eq!(count(&c, id), added.len() as i64);
    }

    #[test]
    fn packed_records_that_do_not_decode_are_an_error_not_a_zone() {
        let mut c = db();
        let id = zone(&mut c);
        zonedata::replace_small(&mut c, id, &[soa(1), rec("a.z.test", 1)], &committed(1)).expect("load");
        c.execute("UPDATE zone_packed SET records = substr(records, 1, length(records) - 2)", []).expect("cut");
        let e = zonedata::for_each_record(&c, id, |_, _, _, _| Ok(())).expect_err("cut short");
        assert!(e.to_string().contains("do not decode"), "{e}");
        let e = zonedata::records(&c, id, &RecordFilter::default(), -1, 0).expect_err("listing");
        assert!(e.to_string().contains("do not decode"), "{e}");
    }
}

#[test]
fn a_journal_chain_is_found_only_when_unbroken() {
    use super::zonedata::chain_span;
    let steps = [(1, 2), (2, 3), (3, 5), (7, 8)];
    assert_eq!(chain_span(steps, 1, 5), Some((0, 3)));
    assert_eq!(chain_span(steps, 2, 3), Some((1, 1)));
    assert_eq!(chain_span(steps, 3, 8), None, "5 → 7 is missing");
    assert_eq!(chain_span(steps, 4, 5), None, "no step starts at 4");
}

/// The link index against the table, for one primary.
fn linked_in_table(c: &Connection, primary: i64) -> Vec<String> {
    let mut stmt = c
        .prepare(
            "SELECT z.name FROM zone_primaries zp JOIN zones z ON z.id = zp.zone_id WHERE zp.primary_id = ?1
             ORDER BY z.name",
        )
        .expect("prepare");
    stmt.query_map([primary], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows")
}

#[test]
fn the_link_index_follows_every_change_to_the_links() {
    let mut c = db();
    let a = primaries::create(&mut c, 1, primary("a")).expect("a");
    let b = primaries::create(&mut c, 1, primary("b")).expect("b");
    for z in ["c.example", "a.example", "b.example", "d.example"] {
        zones::create(&mut c, 1, z, false).expect("zone");
        primaries::link(&mut c, 1, "a", z).expect("link a");
    }
    primaries::link(&mut c, 1, "b", "b.example").expect("link b");
    let check = |c: &Connection| {
        for p in [a.id, b.id] {
            assert_eq!(links::linked_zones(p).expect("index").names(), linked_in_table(c, p), "primary {p}");
        }
    };
    check(&c);
    assert_eq!(
        primaries::get(&c, 1, "a").expect("a").linked_zones.as_json(),
        r#"["a.example","b.example","c.example","d.example"]"#
    );
    // Unlink; delete a zone (the links go by cascade); a failed link changes nothing.
    primaries::unlink(&mut c, 1, "a", "c.example").expect("unlink");
    zones::delete(&mut c, 1, "b.example").expect("delete zone");
    assert!(primaries::link(&mut c, 1, "a", "a.example").is_err(), "linked twice");
    check(&c);
    assert_eq!(primaries::get(&c, 1, "a").expect("a").linked_zones.names(), vec!["a.example", "d.example"]);
    assert!(primaries::get(&c, 1, "b").expect("b").linked_zones.names().is_empty());
    // A rolled-back transaction leaves the index as it was.
    {
        let tx = c.transaction().expect("tx");
        tx.execute(
            "INSERT INTO zone_primaries (zone_id, primary_id, position, zone_name)
             SELECT id, ?1, 9, name FROM zones WHERE name = 'd.example'",
            [b.id],
        )
        .expect("insert");
        // Inside the transaction, the index shows its own change.
        assert_eq!(links::linked_zones(b.id).expect("index").names(), vec!["d.example"]);
        tx.rollback().expect("rollback");
    }
    check(&c);
    // Deleting the primary drops its links from the index too.
    primaries::delete(&mut c, 1, "a").expect("delete primary");
    assert_eq!(links::linked_zones(a.id).expect("index").as_json(), "[]");
    check(&c);
}

#[test]
fn the_notify_acl_follows_primaries_links_and_zones_and_rolled_back_changes_leave_it() {
    let mut conn = Connection::open_in_memory().expect("in-memory db");
    settle(&conn).expect("settings");
    migrations::migrate(&mut conn).expect("migrate");
    let mut c = conn;
    let acl = links::install(&mut c).expect("links index");
    let ips = |zone: &str| -> Option<Vec<String>> {
        let snap = acl.load();
        let z = snap.zone(zone)?;
        Some(snap.primaries(z).map(|p| p.ip.map(|i| i.to_string()).unwrap_or_default()).collect())
    };
    let mut mapped = primary("mapped");
    mapped.ip = "::ffff:192.0.2.7".into(); // an older row's form: compared as 192.0.2.7
    primaries::create(&mut c, 1, mapped).expect("p");
    primaries::create(&mut c, 1, primary("q")).expect("q");
    assert_eq!(ips("example.com"), None);
    zones::create(&mut c, 1, "example.com", false).expect("zone");
    assert_eq!(ips("example.com"), Some(vec![]));
    primaries::link(&mut c, 1, "mapped", "example.com").expect("link");
    primaries::link(&mut c, 1, "q", "example.com").expect("link");
    assert_eq!(ips("example.com"), Some(vec!["192.0.2.7".to_string(), "192.0.2.1".to_string()]));
    primaries::unlink(&mut c, 1, "mapped", "example.com").expect("unlink");
    assert_eq!(ips("example.com"), Some(vec!["192.0.2.1".to_string()]));
    // A transaction that fails changes nothing.
    assert!(primaries::link(&mut c, 1, "q", "example.com").is_err());
    assert_eq!(ips("example.com"), Some(vec!["192.0.2.1".to_string()]));
    primaries::delete(&mut c, 1, "q").expect("delete");
    assert_eq!(ips("example.com"), Some(vec![]));
    primaries::link(&mut c, 1, "mapped", "example.com").expect("link");
    zones::delete(&mut c, 1, "example.com").expect("delete zone");
    assert_eq!(ips("example.com"), None);
}

#[test]
fn the_link_and_show_statements_are_prepared_once_whatever_the_zone() {
    let mut c = db();
    primaries::create(&mut c, 1, primary("p")).expect("p");
    primaries::create(&mut c, 1, primary("q")).expect("q");
    for i in 0..40 {
        let (a, b) = (format!("a{i}.example"), format!("b{i}.example"));
        zones::create(&mut c, 1, &a, false).expect("zone");
        primaries::link(&mut c, 1, "p", &a).expect("link");
        primaries::link(&mut c, 1, "q", &a).expect("second link");
        zones::create_linked(&mut c, 1, &b, false, &["p".to_string(), "q".to_string()]).expect("create linked");
        zones::get(&c, 1, &a).expect("show");
        primaries::unlink(&mut c, 1, "q", &b).expect("unlink");
    }
    // The statements whose plan SQLite would tie to the bound zone (max()
    // under a bound WHERE, ORDER BY after an equality): each ran 80 times.
    for sql in [primaries::LINK_SQL, zones::LINKED_PRIMARIES_SQL] {
        let stmt = c.prepare_cached(sql).expect("cached");
        assert!(stmt.get_status(rusqlite::StatementStatus::Run) >= 80, "{sql} ran");
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0, "{sql} was prepared again");
    }
}

/// A writer's connection in memory with its link index, primary `p` and
/// the zones `zones` of account 1.
fn writer_with(zones: &[&str]) -> (Connection, std::sync::Arc<notify_acl::NotifyAcl>) {
    let mut c = Connection::open_in_memory().expect("in-memory db");
    settle(&c).expect("settings");
    migrations::migrate(&mut c).expect("migrate");
    let acl = links::install(&mut c).expect("links index");
    primaries::create(&mut c, 1, primary("p")).expect("p");
    for z in zones {
        zones::create(&mut c, 1, z, false).expect("zone");
    }
    (c, acl)
}

/// The zones linked to any primary, as the table has them, in name order.
fn stored_links(c: &Connection) -> Vec<String> {
    c.prepare("SELECT zone_name FROM zone_primaries ORDER BY zone_name")
        .expect("sql")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("names")
}

#[test]
fn in_a_group_commit_a_failed_job_leaves_nothing_and_the_others_stand() {
    let (mut c, acl) = writer_with(&["a.example", "b.example"]);
    let linked = |zone: &str| acl.load().zone(zone).map(|z| acl.load().primaries(z).count());
    let (tx, rx) = std::sync::mpsc::channel();
    let (a, a_done) = job_of(|c| primaries::link(c, 1, "p", "a.example"));
    // Links b, then fails: its link must go, from the table, the link index
    // and the NOTIFY ACL alike.
    let (b, b_done) = job_of(|c| {
        primaries::link(c, 1, "p", "b.example")?;
        Err::<(), _>(StoreError::Invalid { field: "zone", message: "made to fail".into() })
    });
    let (seen, seen_done) = job_of(|c| primaries::get(c, 1, "p"));
    for job in [a, b, seen] {
        tx.send(job).expect("queued");
    }
    drop(tx);
    run_writer(&mut c, &rx);
    let (a, b, seen) = (a_done.blocking_recv(), b_done.blocking_recv(), seen_done.blocking_recv());
    assert!(a.expect("a answered").0.is_ok());
    assert!(matches!(b.expect("b answered").0, Err(StoreError::Invalid { .. })));
    let seen = seen.expect("answered").0.expect("primary");
    assert_eq!(seen.linked_zones.names(), vec!["a.example".to_string()], "the group sees a, not b");
    assert_eq!(stored_links(&c), vec!["a.example".to_string()]);
    assert_eq!(primaries::get(&c, 1, "p").expect("p").linked_zones.names(), vec!["a.example".to_string()]);
    assert!(c.is_autocommit(), "the group's transaction ended");
    assert_eq!((linked("a.example"), linked("b.example")), (Some(1), Some(0)), "NOTIFY ACL");
}

#[test]
fn a_job_without_savepoint_that_fails_keeps_its_group_if_it_changed_nothing_and_rolls_it_back_if_it_did() {
    let (mut c, _acl) = writer_with(&["a.example", "b.example", "c.example"]);
    fn unguarded<R>((mut job, rx): (Job, R)) -> (Job, R) {
        job.savepoint = false;
        (job, rx)
    }

    // Fails in a check, before any change: the group goes on and commits.
    let (tx, rx) = std::sync::mpsc::channel();
    let (a, a_done) = job_of(|c| primaries::link(c, 1, "p", "a.example"));
    let (check, check_done) =
        unguarded(job_of(|_| Err::<(), _>(StoreError::Invalid { field: "zone", message: "checked first".into() })));
    let (b, b_done) = unguarded(job_of(|c| primaries::link(c, 1, "p", "b.example")));
    for job in [a, check, b] {
        tx.send(job).expect("queued");
    }
    drop(tx);
    run_writer(&mut c, &rx);
    assert!(a_done.blocking_recv().expect("a answered").0.is_ok());
    assert!(matches!(check_done.blocking_recv().expect("answered").0, Err(StoreError::Invalid { .. })));
    assert!(b_done.blocking_recv().expect("b answered").0.is_ok(), "a job without savepoint that succeeds stands");
    assert_eq!(stored_links(&c), ["a.example", "b.example"]);

    // Fails after a change: nothing of the group stands, and every job hears it.
    let (tx, rx) = std::sync::mpsc::channel();
    let (a, a_done) = job_of(|c| primaries::unlink(c, 1, "p", "a.example"));
    let (half, half_done) = unguarded(job_of(|c| {
        primaries::link(c, 1, "p", "c.example")?;
        Err::<(), _>(StoreError::Invalid { field: "zone", message: "made to fail".into() })
    }));
    for job in [a, half] {
        tx.send(job).expect("queued");
    }
    drop(tx);
    run_writer(&mut c, &rx);
    let a = a_done.blocking_recv().expect("a answered").0;
    assert!(
        matches!(&a, Err(StoreError::Db(e)) if e.to_string().contains("rolled back")),
        "the group's other job gets the rollback: {a:?}"
    );
    assert!(matches!(half_done.blocking_recv().expect("answered").0, Err(StoreError::Invalid { .. })), "its own error");
    assert_eq!(stored_links(&c), ["a.example", "b.example"], "the unlink of a went with the group");
    assert!(c.is_autocommit(), "the group's transaction ended");
    assert_eq!(primaries::get(&c, 1, "p").expect("p").linked_zones.names(), ["a.example", "b.example"], "link index");
}
