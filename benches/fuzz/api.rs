//! `api`: the control API in process (the handler's store and engine, an
//! `api::App` whose reload always fails, `api::unix_router` served on a Unix
//! socket in a temp dir), sent mutated JSON bodies and query strings on every
//! endpoint that takes a body, with `secondaryd::client::Client`.
//!
//! Input: endpoint byte, path-parameter byte, query-string length byte, the
//! query string (percent-encoded when sent), the body. Invariants: every
//! answer is 2xx or 4xx (no 5xx, no closed connection, no timeout); a 4xx
//! has a JSON body with a `message`; `GET /v2/whoami` keeps answering 200.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use secondaryd::api;
use secondaryd::client::{Client, Endpoint};
use serde_json::{json, Value};

use crate::handler::Daemon;
use crate::mutate::{self, without_numbers};

/// (method, path with `{}` for the parameter).
const ENDPOINTS: [(&str, &str); 9] = [
    ("POST", "/v2/1/secondary_dns/primaries"),
    ("PUT", "/v2/1/secondary_dns/primaries/{}/link"),
    ("PUT", "/v2/1/secondary_dns/primaries/{}/unlink"),
    ("POST", "/v2/1/secondary_dns/zones"),
    ("PUT", "/v2/1/zones/{}/ns_records"),
    ("PUT", "/v2/1/zones/{}/downstreams"),
    ("POST", "/v2/1/nameserver_sets"),
    ("PUT", "/v2/1/nameserver_sets/{}"),
    ("POST", "/v2/1/custom_ns"),
];

/// Path parameters: ids, names, and odd ones.
const PARAMS: [&str; 14] = [
    "p1",
    "1",
    "2",
    "example.test",
    "EXAMPLE.TEST.",
    "other.test",
    "nocopy.test",
    "999999999999999999999",
    "-1",
    "0",
    "%00",
    "%C3%BCn%C3%AF.test",
    "a..b",
    "set1",
];

/// (endpoint, parameter, query string, body) of the seeds.
pub const SEEDS: &[(u8, u8, &str, &str)] = &[
    (0, 0, "", r#"{"name":"p2","ip":"127.0.0.1","port":5300}"#),
    (0, 0, "", r#"{"name":"p3","ip":"::1","port":"5301","tsig_key":"fuzz-key","notify_requires_tsig":true}"#),
    (0, 0, "", r#"{"name":"far","ip":"127.0.0.2"}"#),
    (1, 0, "", r#"{"zone":"example.test"}"#),
    (1, 1, "zone=other.test", ""),
    (2, 0, "", r#"{"zone":"other.test"}"#),
    (3, 0, "", r#"{"name":"new.test"}"#),
    (3, 0, "", r#"{"name":"cat.test","catalog":true}"#),
    (4, 3, "", r#"{"ns_names":["ns1.example.test","ns2.example.test."]}"#),
    (4, 5, "", r#"{"ns_set_ids":[1]}"#),
    (
        5,
        3,
        "",
        r#"{"downstreams":[{"address":"127.0.0.1"},{"address":"127.0.0.0/8","tsig_key":"fuzz-key","notify":"127.0.0.1:5399"}]}"#,
    ),
    (5, 5, "", r#"{"downstreams":[]}"#),
    (
        6,
        0,
        "",
        r#"{"name":"set1","hostmaster":"hostmaster.example.test","ns_ttl":3600,"ip_ttl":300,"external_ref":"x"}"#,
    ),
    (7, 1, "", r#"{"name":"set2","hostmaster":null}"#),
    (
        8,
        0,
        "",
        r#"{"ns_name":"ns9.example.test","ns_set":1,"dns_records":[{"type":"A","value":"192.0.2.9"},{"type":"AAAA","value":"2001:db8::9"}]}"#,
    ),
    (0, 0, "page=1&per_page=10", r#"{"name":"p4","ip":"127.0.0.4"}"#),
];

struct NoReload;

impl api::Reload for NoReload {
    fn reload(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<secondaryd::model::Reloaded, String>> + Send + '_>>
    {
        Box::pin(async { Err("no reload in the fuzzer".to_string()) })
    }
}

pub struct Api {
    d: Daemon,
    client: Client,
    _shutdown: tokio::sync::watch::Sender<bool>,
    execs: u64,
    statuses: std::collections::BTreeMap<u16, u64>,
}

impl Api {
    pub fn new() -> Api {
        let d = Daemon::new();
        let socket = d.dir.path().join("fuzz-api.sock");
        let app = api::App {
            store: d.store.clone(),
            engine: d.engine.clone(),
            dns: d.stats.clone(),
            reload: Arc::new(NoReload),
        };
        let (tx, rx) = tokio::sync::watch::channel(false);
        let listener = {
            let _guard = d.rt.enter();
            tokio::net::UnixListener::bind(&socket).expect("bind the API socket")
        };
        d.rt.spawn(api::serve::serve(listener, api::unix_router(app), api::serve::UNIX_CONNECTIONS, rx));
        let client = Client::new(Endpoint::Unix(socket));
        Api { d, client, _shutdown: tx, execs: 0, statuses: Default::default() }
    }
}

/// Percent-encodes what is not safe in a query string or path (keeping `=&%`
/// in the query, so its structure and escapes survive).
fn encode(bytes: &[u8], keep: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.random_range(0..16u8) {
        0 => Value::Null,
        1 => json!(rng.random_bool(0.5)),
        2 => json!(rng.random::<i64>()),
        3 => json!([0u64, 1, 65_535, 65_536, u64::MAX][rng.random_range(0..5)]),
        4 => serde_json::from_str("1e308").unwrap_or(Value::Null),
        5 => serde_json::from_str("18446744073709551616").unwrap_or(Value::Null),
        6 => json!(-1.5),
        7 => json!("x".repeat([64usize, 254, 256, 4096, 70_000][rng.random_range(0..5)])),
        8 => json!(
            ["é.test", "ß.example.test", "\u{0}", "🦀", "\u{202e}abc", "xn--bcher-kva.test", "", " "]
                [rng.random_range(0..8)]
        ),
        9 => json!(
            ["127.0.0.1", "::1", "0.0.0.0", "255.255.255.255", "::ffff:127.0.0.1", "127.0.0.1:0", "fe80::1%lo"]
                [rng.random_range(0..7)]
        ),
        10 => {
            json!(["a.b.", ".", "..", "*.test", "-a.test", "a_b.test", "fuzz-key", "FUZZ-KEY."][rng.random_range(0..8)])
        }
        11 if depth < 4 => Value::Array((0..rng.random_range(0..4)).map(|_| random_value(rng, depth + 1)).collect()),
        12 if depth < 4 => {
            let mut m = serde_json::Map::new();
            for k in ["name", "zone", "ip", "port", "address", "value", "type", "ns_set"] {
                if rng.random_bool(0.3) {
                    m.insert(k.to_string(), random_value(rng, depth + 1));
                }
            }
            Value::Object(m)
        }
        13 => {
            // Deep nesting.
            let mut v = json!(1);
            for _ in 0..rng.random_range(10..300) {
                v = json!([v]);
            }
            v
        }
        _ => json!(rng.random_range(0..100u32).to_string()),
    }
}

/// One structural mutation somewhere in `v`: a value replaced, a field
/// removed or added, an array element duplicated.
fn mutate_json(rng: &mut StdRng, v: &mut Value, depth: u32) {
    match v {
        Value::Object(m) if !m.is_empty() && rng.random_bool(0.75) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let k = keys[rng.random_range(0..keys.len())].clone();
            match rng.random_range(0..6u8) {
                0 => {
                    m.remove(&k);
                }
                1 => {
                    let extra = ["zzz", "id", "account_id", "name", "catalog", "ns_names"][rng.random_range(0..6)];
                    m.insert(extra.to_string(), random_value(rng, depth));
                }
                _ => {
                    if let Some(x) = m.get_mut(&k) {
                        mutate_json(rng, x, depth + 1);
                    }
                }
            }
        }
        Value::Array(a) if !a.is_empty() && rng.random_bool(0.75) => {
            let i = rng.random_range(0..a.len());
            match rng.random_range(0..5u8) {
                0 => {
                    let x = a[i].clone();
                    for _ in 0..rng.random_range(1..40) {
                        a.push(x.clone());
                    }
                }
                1 => {
                    a.remove(i);
                }
                _ => mutate_json(rng, &mut a[i], depth + 1),
            }
        }
        Value::String(s) if rng.random_bool(0.5) => {
            let mut b = s.clone().into_bytes();
            mutate::mutate(rng, &mut b, &[], 512, 0);
            *s = String::from_utf8_lossy(&b).into_owned();
        }
        _ => *v = random_value(rng, depth),
    }
}

impl crate::Target for Api {
    fn max_len(&self) -> usize {
        100_000
    }

    fn mutate(&mut self, rng: &mut StdRng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) -> bool {
        if input.len() < 3 {
            return false;
        }
        let (mut ep, mut param) = (input[0], input[1]);
        let qlen = usize::from(input[2]).min(input.len() - 3);
        let mut query = input[3..3 + qlen].to_vec();
        let mut body = input[3 + qlen..].to_vec();
        match rng.random_range(0..20u8) {
            0 => ep = rng.random_range(0..ENDPOINTS.len() as u8),
            1 => param = rng.random(),
            2 | 3 => {
                let extra = ["zone=example.test", "page=0", "per_page=99999999999", "sort=name:desc", "zone=%FF", "a"];
                if rng.random_bool(0.5) {
                    query = extra[rng.random_range(0..extra.len())].as_bytes().to_vec();
                } else {
                    mutate::mutate(rng, &mut query, &[], 200, 0);
                }
            }
            4..=12 => match serde_json::from_slice::<Value>(&body) {
                Ok(mut v) => {
                    mutate_json(rng, &mut v, 0);
                    body = serde_json::to_vec(&v).unwrap_or_default();
                }
                Err(_) => mutate::mutate(rng, &mut body, &[], 4096, 0),
            },
            13 if !corpus.is_empty() => {
                // Another endpoint's body.
                let other = &corpus[rng.random_range(0..corpus.len())];
                if other.len() >= 3 {
                    let ql = usize::from(other[2]).min(other.len() - 3);
                    body = other[3 + ql..].to_vec();
                }
            }
            _ => mutate::mutate(rng, &mut body, &[], 4096, 0),
        }
        query.truncate(255);
        *input = [vec![ep, param, query.len() as u8], query, body].concat();
        true
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        if input.len() < 3 {
            return Ok("short".into());
        }
        let (method, path) = ENDPOINTS[usize::from(input[0]) % ENDPOINTS.len()];
        let param = PARAMS[usize::from(input[1]) % PARAMS.len()];
        let qlen = usize::from(input[2]).min(input.len() - 3);
        let query = encode(&input[3..3 + qlen], b"=&%");
        let body = String::from_utf8_lossy(&input[3 + qlen..]).into_owned();
        let mut path = path.replace("{}", param);
        if !query.is_empty() {
            path = format!("{path}?{query}");
        }
        self.execs += 1;
        let client = &self.client;
        let whoami = self.execs.is_multiple_of(100);
        let (r, alive) = self.d.rt.block_on(async {
            let r = tokio::time::timeout(Duration::from_secs(20), client.request_raw(method, &path, Some(body))).await;
            let alive = if whoami {
                Some(tokio::time::timeout(Duration::from_secs(20), client.get("/v2/whoami")).await)
            } else {
                None
            };
            (r, alive)
        });
        if let Some(alive) = alive {
            match alive {
                Ok(Ok(resp)) if resp.status == 200 => {}
                Ok(Ok(resp)) => return Err(format!("GET /v2/whoami answered {}", resp.status)),
                Ok(Err(e)) => return Err(format!("GET /v2/whoami got no answer: {e}")),
                Err(_) => return Err("GET /v2/whoami timed out".into()),
            }
        }
        let resp = match r {
            Err(_) => return Err(format!("{method} {path}: no answer in 20 s")),
            Ok(Err(e)) => return Err(format!("{method} {path}: no answer: {e}")),
            Ok(Ok(resp)) => resp,
        };
        *self.statuses.entry(resp.status).or_default() += 1;
        let message = resp.body.get("message").and_then(Value::as_str).map(str::to_string);
        match resp.status {
            200..=299 => Ok(format!("{method} {} {}", input[0] % 9, resp.status)),
            400..=499 => match message {
                Some(m) => {
                    let m: String = without_numbers(&m).chars().take(40).collect();
                    Ok(format!("{method} {} {} {m}", input[0] % 9, resp.status))
                }
                None => Err(format!("{method} {path}: {} without a JSON message: {}", resp.status, resp.body)),
            },
            s => Err(format!("{method} {path}: answered {s}: {}", resp.body)),
        }
    }

    fn stats(&self) -> String {
        format!("statuses {:?}", self.statuses)
    }
}
