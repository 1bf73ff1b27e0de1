//! TLS of the TCP control API: the server's certificate and key from PEM files
//! (`[control] tls_cert`, `tls_key`), a listener that does each connection's
//! handshake on a task of its own before axum serves it, and the client's
//! configuration from a CA file. rustls on the `ring` provider; HTTP/1.1 only.
//! It imports nothing of ours.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A client that has not finished its TLS handshake this long after
/// connecting is disconnected.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The one application protocol we speak, offered in ALPN.
const HTTP_1_1: &[u8] = b"http/1.1";

/// Which of the two files a problem is with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    Cert,
    Key,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The certificates of a PEM file, in file order; an error when it has none.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| format!("{} is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {} (it needs PEM `BEGIN CERTIFICATE` blocks)", path.display()));
    }
    Ok(certs)
}

/// The server side: the certificate chain of `cert` (the server's own
/// certificate first) with the private key of `key` (PKCS#8, PKCS#1 RSA or
/// SEC1 EC, PEM). An error says which file and what is wrong with it.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, (TlsFile, String)> {
    let chain = certificates(cert).map_err(|e| (TlsFile::Cert, e))?;
    let key_bytes = read(key).map_err(|e| (TlsFile::Key, e))?;
    let private_key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| {
        let why = match e {
            pem::Error::NoItemsFound => format!(
                "no private key in {} (it needs a PEM `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` block)",
                key.display()
            ),
            e => format!("{} is not valid PEM: {e}", key.display()),
        };
        (TlsFile::Key, why)
    })?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| (TlsFile::Cert, format!("no TLS version available: {e}")))?
        .with_no_client_auth();
    let mut config = builder.with_single_cert(chain, private_key).map_err(|e| match e {
        rustls::Error::InvalidCertificate(e) => {
            (TlsFile::Cert, format!("the first certificate in {} is not usable: {e}", cert.display()))
        }
        rustls::Error::InconsistentKeys(_) => (
            TlsFile::Key,
            format!(
                "the private key in {} does not belong to the first certificate in {}",
                key.display(),
                cert.display()
            ),
        ),
        e => (TlsFile::Key, format!("cannot use the private key in {}: {e}", key.display())),
    })?;
    config.alpn_protocols = vec![HTTP_1_1.to_vec()];
    Ok(Arc::new(config))
}

/// The client side: servers whose certificate chains up to a certificate of
/// the PEM file `ca_file` (and names the address connected to) are trusted.
pub fn client_config(ca_file: &Path) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(ca_file)? {
        roots.add(cert).map_err(|e| format!("a certificate in {} is not usable as a CA: {e}", ca_file.display()))?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("no TLS version available: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![HTTP_1_1.to_vec()];
    Ok(Arc::new(config))
}

/// A TCP listener that hands over connections once their TLS handshake is
/// done ([`axum::serve`] takes it like a `TcpListener`). Each handshake runs
/// on a task of its own, bounded by [`HANDSHAKE_TIMEOUT`], so a slow or
/// silent client holds up no one; one that fails is logged at debug level and
/// dropped. Dropping the listener stops accepting.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

/// The certificate and key in force: a config reload swaps them, and each new
/// connection's handshake uses what is in force when it arrives.
pub type ServerConfigs = Arc<arc_swap::ArcSwap<ServerConfig>>;

impl TlsListener {
    pub fn new(tcp: TcpListener, configs: ServerConfigs) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let accepting = tokio::spawn(accept(tcp, configs, tx));
        Ok(TlsListener { ready, local, accepting })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task is gone (it only stops when we do): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

async fn accept(tcp: TcpListener, configs: ServerConfigs, ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = ready.closed() => return,
            accepted = tcp.accept() => match accepted {
                Ok(connection) => connection,
                Err(e) => {
                    // As axum does for a plain TcpListener: a connection that went
                    // away before we took it is nothing; anything else (out of file
                    // descriptors) is retried after a pause.
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionRefused
                            | std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::ConnectionReset
                    ) {
                        tracing::error!(error = %e, "TCP control API: cannot accept a connection; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
        };
        let acceptor = TlsAcceptor::from(configs.load_full());
        let ready = ready.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TCP control API: TLS handshake failed"),
                Err(_) => tracing::debug!(
                    %peer,
                    seconds = HANDSHAKE_TIMEOUT.as_secs(),
                    "TCP control API: no TLS handshake in time; disconnected"
                ),
            }
        });
    }
}
