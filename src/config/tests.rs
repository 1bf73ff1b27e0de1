use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, "test.toml", Path::new("/etc/secondaryd"))
}

#[test]
fn an_empty_file_gives_the_documented_production_defaults() {
    let c = parse("").expect("empty config is valid");
    assert_eq!(c.store_path, Path::new("/var/lib/secondaryd/secondaryd.db"));
    assert_eq!(c.control_socket, Path::new("/run/secondaryd/control.sock"));
    assert_eq!(c.dns_listen.len(), 2);
    assert_eq!(c.transfer.concurrency, 50);
    assert_eq!(c.transfer.per_primary, 10);
    assert_eq!(c.transfer.refresh_min.as_secs(), 300);
    assert!(c.control_listen.is_none());
    assert!(c.metrics_listen.is_none(), "the metrics endpoint is off by default");
}

#[test]
fn the_metrics_endpoint_takes_an_address_and_a_bad_one_names_the_key() {
    let c = parse("[metrics]\nlisten = \"127.0.0.1:9153\"\n").expect("valid");
    assert_eq!(c.metrics_listen, Some("127.0.0.1:9153".parse().expect("addr")));
    let e = parse("[metrics]\nlisten = \"localhost\"\n").expect_err("bad address");
    assert_eq!(e.key.as_deref(), Some("metrics.listen"));
    let e = parse("[metrics]\nport = 9153\n").expect_err("unknown key");
    assert!(e.to_string().contains("port"), "{e}");
}

#[test]
fn the_development_defaults_are_unprivileged_and_local() {
    let c = Config::dev();
    assert!(c.store_path.starts_with(DEV_DIR));
    assert!(c.control_socket.starts_with(DEV_DIR));
    assert_eq!(c.dns_listen[0].port(), 5300);
}

#[test]
fn relative_paths_are_taken_from_the_config_files_directory() {
    let c = parse("[store]\npath = \"db/x.db\"\n").expect("valid");
    assert_eq!(c.store_path, Path::new("/etc/secondaryd/db/x.db"));
}

#[test]
fn an_unknown_key_is_an_error_that_names_it_and_the_file() {
    let e = parse("[store]\npaht = \"x\"\n").expect_err("unknown key");
    let msg = e.to_string();
    assert!(msg.contains("test.toml") && msg.contains("paht"), "{msg}");
}

#[test]
fn a_bad_listen_address_names_the_key() {
    let e = parse("[dns]\nlisten = [\"127.0.0.1:53\", \"nope\"]\n").expect_err("bad address");
    assert_eq!(e.key.as_deref(), Some("dns.listen[1]"));
}

#[test]
fn tsig_keys_need_a_known_algorithm_and_base64_secret() {
    let ok = parse("[[tsig_key]]\nname = \"Xfr-Key.\"\nsecret = \"c2VjcmV0c2VjcmV0\"\n").expect("valid key");
    assert_eq!(ok.tsig_keys[0].name, "xfr-key");
    assert_eq!(ok.tsig_keys[0].algorithm, "hmac-sha256");
    assert!(ok.tsig_key("XFR-KEY.").is_some());
    let e = parse("[[tsig_key]]\nname = \"k\"\nalgorithm = \"hmac-md5\"\nsecret = \"c2VjcmV0\"\n").expect_err("md5");
    assert_eq!(e.key.as_deref(), Some("tsig_key[0].algorithm"));
    let e = parse("[[tsig_key]]\nname = \"k\"\nsecret = \"not base64!\"\n").expect_err("bad secret");
    assert_eq!(e.key.as_deref(), Some("tsig_key[0].secret"));
    // Every algorithm the config takes is one the TSIG code can use, and
    // hmac-sha224 (which it cannot) is refused here, not at start-up.
    for alg in crate::config::TSIG_ALGORITHMS {
        assert!(alg.parse::<crate::wire::tsig::Algorithm>().is_ok(), "{alg}");
    }
    let e =
        parse("[[tsig_key]]\nname = \"k\"\nalgorithm = \"hmac-sha224\"\nsecret = \"c2VjcmV0\"\n").expect_err("sha224");
    assert_eq!(e.key.as_deref(), Some("tsig_key[0].algorithm"));
}

#[test]
fn a_tcp_api_without_tokens_is_refused() {
    let e = parse("[control]\nlisten = \"127.0.0.1:8053\"\n").expect_err("no tokens");
    assert_eq!(e.key.as_deref(), Some("control.listen"));
    let ok =
        parse("[control]\nlisten = \"127.0.0.1:8053\"\n[[token]]\naccount = 7\nsecret = \"0123456789abcdef0123\"\n")
            .expect("valid");
    assert_eq!(ok.tokens[0].account, 7);
}

#[test]
fn short_tokens_and_inverted_clamps_are_refused() {
    let e = parse("[[token]]\naccount = 1\nsecret = \"short\"\n").expect_err("short");
    assert_eq!(e.key.as_deref(), Some("token[0].secret"));
    let e = parse("[transfer]\nrefresh_min = 100\nrefresh_max = 50\n").expect_err("inverted");
    assert_eq!(e.key.as_deref(), Some("transfer.refresh_min"));
}

#[test]
fn the_outbound_policy_allows_everything_by_default_and_names_a_bad_network() {
    let c = parse("").expect("valid");
    assert_eq!(c.transfer.primaries, policy::AddressPolicy::allow_all());
    let c = parse("[transfer]\nallow_primaries = [\"127.0.0.0/8\", \"::1\"]\ndeny_primaries = [\"127.0.0.53\"]\n")
        .expect("valid");
    assert!(c.transfer.primaries.check("127.0.0.1".parse().expect("ip")).is_ok());
    assert!(c.transfer.primaries.check("127.0.0.53".parse().expect("ip")).is_err());
    let e = parse("[transfer]\ndeny_primaries = [\"10.0.0.0/8\", \"10.1.0.0/8\"]\n").expect_err("host bits");
    assert_eq!(e.key.as_deref(), Some("transfer.deny_primaries[1]"));
    assert!(e.message.contains("did you mean 10.0.0.0/8"), "{e}");
}

/// The multi-tenant setting shown (commented) in `etc/secondaryd.toml` parses
/// and refuses this host, private networks, metadata and mapped forms.
#[test]
fn the_documented_multi_tenant_deny_list_refuses_internal_addresses() {
    let etc = include_str!("../../etc/secondaryd.toml");
    let mut text = String::new();
    let mut in_block = false;
    for line in etc.lines() {
        if line.starts_with("# deny_primaries = [") {
            in_block = true;
        }
        if in_block {
            text.push_str(line.trim_start_matches("# ").trim_start_matches('#'));
            text.push('\n');
            if line.trim() == "# ]" {
                break;
            }
        } else if !line.starts_with("deny_primaries") {
            text.push_str(line);
            text.push('\n');
        }
    }
    let c = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let p = &c.transfer.primaries;
    for refused in [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.20.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",
    ] {
        assert!(p.check(refused.parse().expect("ip")).is_err(), "{refused} should be refused");
    }
    for allowed in ["8.8.8.8", "2a00:1450::1"] {
        assert!(p.check(allowed.parse().expect("ip")).is_ok(), "{allowed} should be allowed");
    }
}

#[test]
fn downstreams_take_an_address_or_network_a_known_key_a_notify_target_and_zones() {
    let key = "[[tsig_key]]\nname = \"Xfr-Key.\"\nsecret = \"c2Vjb25kYXJ5ZC10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=\"\n";
    let c = parse(&format!(
        "{key}[[downstream]]\naddress = \"127.0.0.2\"\ntsig_key = \"xfr-key\"\n\
         [[downstream]]\naddress = \"127.0.0.0/8\"\nnotify = \"127.0.0.9:5301\"\nzones = [\"Example.COM.\"]\n\
         [[downstream]]\naddress = \"::1/128\"\n\
         [[downstream]]\naddress = \"127.0.1.0/24\"\n"
    ))
    .expect("valid downstreams");
    let d = &c.downstreams;
    assert_eq!(d.len(), 4);
    assert_eq!(d[0].tsig_key.as_deref(), Some("xfr-key"));
    assert_eq!(d[0].notify, Some("127.0.0.2:53".parse().expect("addr")), "a single address is notified on port 53");
    assert_eq!(d[1].notify, Some("127.0.0.9:5301".parse().expect("addr")));
    assert_eq!(d[1].zones.as_deref(), Some(&["example.com".to_string()][..]));
    assert_eq!(d[2].notify, Some("[::1]:53".parse().expect("addr")));
    assert_eq!(d[3].notify, None, "a network is not notified");
    assert_eq!(c.dns.transfer_out.max_concurrent, 100);

    for (text, key, words) in [
        ("[[downstream]]\naddress = \"127.0.0.1/8\"\n", "downstream[0].address", "127.0.0.0/8"),
        ("[[downstream]]\naddress = \"127.0.0.1\"\ntsig_key = \"nope\"\n", "downstream[0].tsig_key", "no [[tsig_key]]"),
        ("[[downstream]]\naddress = \"127.0.0.1\"\nnotify = \"127.0.0.1\"\n", "downstream[0].notify", "IP:PORT"),
        ("[[downstream]]\naddress = \"127.0.0.1\"\nzones = [\"a..b\"]\n", "downstream[0].zones[0]", "a..b"),
        ("[dns.transfer_out]\nmax_concurrent = 0\n", "dns.transfer_out.max_concurrent", "from 1"),
    ] {
        let e = parse(text).expect_err(text).to_string();
        assert!(e.contains(key) && e.contains(words), "{text}: {e}");
    }
}

#[test]
fn tls_takes_a_certificate_and_its_key_both_or_neither_relative_to_the_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls");
    let tls = |cert: &str, key: &str| {
        Config::from_toml(&format!("[control]\ntls_cert = \"{cert}\"\ntls_key = \"{key}\"\n"), "test.toml", &dir)
    };
    let c = tls("cert.pem", "test-only-key.pem").expect("the test certificate and key");
    let t = c.control_tls.expect("TLS configured");
    assert_eq!((t.cert, t.key), (dir.join("cert.pem"), dir.join("test-only-key.pem")));
    assert!(parse("").expect("valid").control_tls.is_none(), "plain HTTP by default");

    let e = parse("[control]\ntls_cert = \"cert.pem\"\n").expect_err("no key");
    assert_eq!(e.key.as_deref(), Some("control.tls_key"));
    assert!(e.message.contains("control.tls_cert"), "{e}");
    let e = parse("[control]\ntls_key = \"key.pem\"\n").expect_err("no certificate");
    assert_eq!(e.key.as_deref(), Some("control.tls_cert"));

    let missing = dir.join("missing.pem");
    for (cert, key, which, words) in [
        ("missing.pem", "test-only-key.pem", "control.tls_cert", format!("cannot read {}: ", missing.display())),
        ("cert.pem", "missing.pem", "control.tls_key", format!("cannot read {}: ", missing.display())),
        ("test-only-key.pem", "test-only-key.pem", "control.tls_cert", "no certificate in".to_string()),
        ("cert.pem", "cert.pem", "control.tls_key", "no private key in".to_string()),
        ("ca.pem", "test-only-key.pem", "control.tls_key", "does not belong to the first certificate".to_string()),
        ("README.md", "test-only-key.pem", "control.tls_cert", "no certificate in".to_string()),
    ] {
        let e = tls(cert, key).expect_err(&format!("{cert} with {key}"));
        let text = e.to_string();
        assert_eq!(e.key.as_deref(), Some(which), "{cert} with {key}: {text}");
        assert!(text.contains(&words), "{cert} with {key}: {text}");
    }
}
