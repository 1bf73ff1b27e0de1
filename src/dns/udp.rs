//! The UDP loop of one socket. On Linux, datagrams are taken and answered in
//! batches: one `recvmmsg` takes every query waiting (up to [`BATCH`]), each is
//! answered, and one `sendmmsg` sends the answers, as NSD and Knot do. Under
//! load most of a query's cost is the kernel's, and two system calls per query
//! become two per batch. Elsewhere (and whenever a batch call fails) it is one
//! `recv_from`/`send_to` at a time.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;

use super::{opcode, rrl, truncated, DnsServer};

/// Datagrams per batch.
#[cfg(target_os = "linux")]
const BATCH: usize = 32;
/// A query longer than this over UDP is dropped (queries are a few hundred
/// bytes; the limit is on what we receive, not on answers).
#[cfg(target_os = "linux")]
const MAX_QUERY: usize = 4096;

impl DnsServer {
    /// What to send for one datagram, after rate limiting; `None`: nothing.
    async fn answer_datagram(
        &self,
        query: &[u8],
        src: SocketAddr,
        rrl_logged: &mut Option<std::time::Instant>,
    ) -> Option<Vec<u8>> {
        let reply = self.handle(query, src, false).await?;
        // Answers to queries are rate limited; NOTIFY replies are not.
        let is_query = reply.get(2).is_some_and(|b| (b >> 3) & 0x0f == opcode::QUERY);
        let verdict =
            if is_query { self.stats.rrl.check(src.ip(), std::time::Instant::now()) } else { rrl::Verdict::Send };
        match verdict {
            rrl::Verdict::Send => Some(reply),
            rrl::Verdict::Slip => truncated(&reply),
            rrl::Verdict::Drop => {
                self.note_rate_limited(rrl_logged);
                None
            }
        }
    }

    /// Serves one UDP socket until the task is aborted.
    pub(super) async fn serve_udp(self: Arc<Self>, sock: UdpSocket) {
        #[cfg(target_os = "linux")]
        {
            self.serve_udp_batched(sock).await
        }
        #[cfg(not(target_os = "linux"))]
        {
            self.serve_udp_single(sock).await
        }
    }

    #[cfg_attr(target_os = "linux", allow(dead_code))]
    async fn serve_udp_single(self: Arc<Self>, sock: UdpSocket) {
        let mut buf = vec![0u8; 65_535];
        let mut rrl_logged = None;
        loop {
            let (n, src) = match sock.recv_from(&mut buf).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::debug!(error = %e, "UDP receive error");
                    continue;
                }
            };
            if let Some(reply) = self.answer_datagram(&buf[..n], src, &mut rrl_logged).await {
                if let Err(e) = sock.send_to(&reply, src).await {
                    tracing::debug!(%src, error = %e, "cannot send a UDP reply");
                }
            }
        }
    }

    #[cfg(target_os = "linux")]
    async fn serve_udp_batched(self: Arc<Self>, sock: UdpSocket) {
        use std::os::fd::AsRawFd;
        use tokio::io::Interest;

        let fd = sock.as_raw_fd();
        let mut bufs = vec![[0u8; MAX_QUERY]; BATCH];
        let mut got: Vec<(usize, usize, SocketAddr)> = Vec::with_capacity(BATCH);
        let mut out: Vec<(Vec<u8>, SocketAddr)> = Vec::with_capacity(BATCH);
        let mut rrl_logged = None;
        loop {
            if let Err(e) = sock.readable().await {
                tracing::debug!(error = %e, "UDP socket error");
                continue;
            }
            got.clear();
            let received = sock.try_io(Interest::READABLE, || recv_batch(fd, &mut bufs, &mut got));
            match received {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => {
                    tracing::debug!(error = %e, "UDP receive error");
                    continue;
                }
            }
            out.clear();
            for &(i, len, src) in &got {
                if let Some(reply) = self.answer_datagram(&bufs[i][..len], src, &mut rrl_logged).await {
                    out.push((reply, src));
                }
            }
            let mut sent = 0;
            while sent < out.len() {
                match sock.try_io(Interest::WRITABLE, || send_batch(fd, &out[sent..])) {
                    Ok(n) if n > 0 => sent += n,
                    _ => {
                        // Full socket buffer or a failed batch: the rest one at a time.
                        for (reply, dst) in &out[sent..] {
                            if let Err(e) = sock.send_to(reply, *dst).await {
                                tracing::debug!(%dst, error = %e, "cannot send a UDP reply");
                            }
                        }
                        break;
                    }
                }
            }
        }
    }
}

/// One `recvmmsg` without waiting: of the datagrams waiting now, the buffer
/// index, length and sender of each in `got`. Oversized (truncated) ones are
/// left out.
#[cfg(target_os = "linux")]
fn recv_batch(
    fd: std::os::fd::RawFd,
    bufs: &mut [[u8; MAX_QUERY]],
    got: &mut Vec<(usize, usize, SocketAddr)>,
) -> std::io::Result<()> {
    use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
    use std::io::IoSliceMut;

    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(bufs.len(), None);
    let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs.iter_mut().map(|b| [IoSliceMut::new(&mut b[..])]).collect();
    let results = recvmmsg(fd, &mut headers, iovs.iter_mut(), MsgFlags::MSG_DONTWAIT, None)
        .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
    for (i, msg) in results.enumerate() {
        if let Some(src) = msg.address.and_then(|a| storage_to_addr(&a)) {
            if !msg.flags.contains(MsgFlags::MSG_TRUNC) {
                got.push((i, msg.bytes, src));
            }
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn storage_to_addr(a: &nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4(std::net::SocketAddrV4::from(*v4)));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::V6(std::net::SocketAddrV6::from(*v6)))
}

/// One `sendmmsg` without waiting; how many of `out` were sent.
#[cfg(target_os = "linux")]
fn send_batch(fd: std::os::fd::RawFd, out: &[(Vec<u8>, SocketAddr)]) -> std::io::Result<usize> {
    use nix::sys::socket::{sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage};
    use std::io::IoSlice;

    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(out.len(), None);
    let iovs: Vec<[IoSlice<'_>; 1]> = out.iter().map(|(r, _)| [IoSlice::new(r)]).collect();
    let addrs: Vec<Option<SockaddrStorage>> = out.iter().map(|(_, a)| Some(SockaddrStorage::from(*a))).collect();
    let no_cmsgs: [ControlMessage<'_>; 0] = [];
    let results = sendmmsg(fd, &mut headers, iovs.iter(), addrs, no_cmsgs, MsgFlags::MSG_DONTWAIT)
        .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
    Ok(results.count())
}
