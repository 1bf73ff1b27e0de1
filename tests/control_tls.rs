//! HTTPS on the TCP control API (`[control] tls_cert`, `tls_key`): a token
//! works over it, plain HTTP to it gets nothing in clear, a client that does
//! not trust the certificate is refused, a silent client holds up no one, and
//! a config with half of the pair is refused naming the missing key.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{test_tls_file, Daemon, TEST_CERT, TEST_KEY};
use secondaryd::client::{Client, ClientError, Endpoint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "token-for-account-one";
const CONFIG: &str = "[[token]]\naccount = 1\nsecret = \"token-for-account-one\"\n";

/// Sends `request` in clear to `addr` and returns what comes back before the
/// server closes (5 s at most).
async fn plain_exchange(addr: std::net::SocketAddr, request: &str) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server neither answered nor closed within 5 s");
    answer
}

#[tokio::test]
async fn https_with_a_token_works_and_plain_http_to_it_gets_nothing_in_clear() {
    let d = Daemon::start_with_tcp(CONFIG).await;
    let addr = d.tcp.expect("the TCP API");
    let r = d.tcp_client(Some(TOKEN)).get("/v2/whoami").await.expect("HTTPS call");
    assert_eq!((r.status, &r.body["data"]["account"]["id"]), (200, &serde_json::json!(1)), "{:?}", r.body);
    assert_eq!(d.tcp_client(None).get("/v2/1/zones").await.expect("HTTPS call").status, 401);
    assert!(d.log().contains("HTTPS only"), "{}", d.log());

    let request = format!("GET /v2/whoami HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    let answer = plain_exchange(addr, &request).await;
    assert!(!answer.starts_with(b"HTTP/") && !answer.contains(&b'{'), "served in clear: {answer:?}");
    let plain = Client::new(Endpoint::Tcp { addr, token: Some(TOKEN.to_string()) });
    assert!(plain.get("/v2/whoami").await.is_err(), "the plain-HTTP client gets no answer");

    // A client that trusts another CA (here: the server's own certificate,
    // which is no CA) refuses the server.
    let other = secondaryd::tls::client_config(&test_tls_file(TEST_CERT)).expect("a PEM certificate");
    let untrusting = Client::new(Endpoint::Https { addr, token: Some(TOKEN.to_string()), tls: other });
    match untrusting.get("/v2/whoami").await {
        Err(ClientError::Tls { error, .. }) => assert!(error.to_string().contains("certificate"), "{error}"),
        other => panic!("a server the client does not trust was accepted: {other:?}"),
    }

    // Failed handshakes do not stop the listener.
    let r = d.tcp_client(Some(TOKEN)).get("/v2/whoami").await.expect("HTTPS call after failed handshakes");
    assert_eq!(r.status, 200);
    assert!(d.log().contains("TLS handshake failed"), "logged at debug level: {}", d.log());
}

#[tokio::test]
async fn a_client_that_never_starts_its_handshake_holds_up_no_one() {
    let d = Daemon::start_with_tcp(CONFIG).await;
    let addr = d.tcp.expect("the TCP API");
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
    }
    let r = tokio::time::timeout(Duration::from_secs(5), d.tcp_client(Some(TOKEN)).get("/v2/whoami"))
        .await
        .expect("answered while silent clients are connected")
        .expect("HTTPS call");
    assert_eq!(r.status, 200);
    drop(silent);
}

#[tokio::test]
async fn without_tls_files_the_tcp_api_stays_plain_http() {
    let d = Daemon::start_with_plain_tcp(CONFIG).await;
    let r = d.tcp_client(Some(TOKEN)).get("/v2/whoami").await.expect("plain HTTP call");
    assert_eq!(r.status, 200);
    assert!(d.log().contains("plain HTTP"), "{}", d.log());
    assert!(!d.log().contains("travel unencrypted"), "no warning on loopback: {}", d.log());
}

/// Runs `secondaryd --config FILE` (a daemon start, not `--check-config`) on `config`.
fn start_with_config(config: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("secondaryd.toml");
    let base = format!(
        "[store]\npath = \"secondaryd.db\"\n[dns]\nlisten = [\"127.0.0.1:{}\"]\n[[token]]\naccount = 1\nsecret = \"{TOKEN}\"\n",
        common::free_port()
    );
    std::fs::write(&path, format!("{base}{config}")).expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_secondaryd"))
        .arg("--config")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run secondaryd");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait for secondaryd").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("secondaryd started on a config it should have refused:\n{config}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("secondaryd's output");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn half_a_tls_pair_or_a_missing_file_is_refused_naming_the_key() {
    let listen = format!("[control]\nsocket = \"control.sock\"\nlisten = \"127.0.0.1:{}\"\n", common::free_port());
    let cert = format!("{:?}", test_tls_file(TEST_CERT).display().to_string());
    let key = format!("{:?}", test_tls_file(TEST_KEY).display().to_string());

    let (code, err) = start_with_config(&format!("{listen}tls_cert = {cert}\n"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("key `control.tls_key`") && err.contains("control.tls_cert"), "{err}");

    let (code, err) = start_with_config(&format!("{listen}tls_key = {key}\n"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("key `control.tls_cert`"), "{err}");

    let (code, err) = start_with_config(&format!("{listen}tls_cert = \"/nonexistent/cert.pem\"\ntls_key = {key}\n"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("key `control.tls_cert`: cannot read /nonexistent/cert.pem: "), "{err}");
}
