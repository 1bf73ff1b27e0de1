use super::primaries::NewPrimary;
use super::*;

fn db() -> Connection {
    let mut conn = Connection::open_in_memory().expect("in-memory db");
    conn.pragma_update(None, "foreign_keys", "ON").expect("pragma");
    migrations::migrate(&mut conn).expect("migrate");
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
    zones::create(&mut c, 1, "example.com").expect("zone");
    primaries::link(&mut c, 1, &b.id.to_string(), "example.com").expect("link b");
    let linked = primaries::link(&mut c, 1, "a", "example.com").expect("link a by name");
    assert_eq!(linked.linked_zones, vec!["example.com".to_string()]);
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
    zones::create(&mut c, 1, "example.com").expect("zone");
    assert!(matches!(zones::get(&c, 2, "example.com"), Err(StoreError::NotFound { .. })));
    assert!(matches!(zones::create(&mut c, 2, "example.com"), Err(StoreError::Invalid { field: "name", .. })));
    primaries::create(&mut c, 2, primary("p")).expect("p");
    assert!(matches!(primaries::link(&mut c, 2, "p", "example.com"), Err(StoreError::Invalid { field: "zone", .. })));
}

#[test]
fn deleting_a_primary_removes_its_links_but_not_the_zones() {
    let mut c = db();
    primaries::create(&mut c, 1, primary("p")).expect("p");
    zones::create(&mut c, 1, "example.com").expect("zone");
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
