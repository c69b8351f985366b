//! Syslog listeners: UDP (one datagram, one record), TCP and TCP with TLS
//! (RFC 6587 octet counting or newline framing, per frame; RFC 5425 is the
//! same octet-counted stream inside TLS). Every record is in the
//! durable spool before more is read from its connection, so a full spool
//! slows TCP senders instead of dropping their data; UDP cannot be slowed,
//! so what a full spool refuses there is counted and logged.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use shouwang_ingest::Format;
use shouwang_ingest::framing::{StreamFrame, SyslogFramer};
use shouwang_pipeline::{Spool, SpoolError, SpoolRecord};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Clone)]
pub enum Transport {
    Udp,
    Tcp,
    /// TCP inside TLS, with the server's certificate chain and key.
    Tls(TlsAcceptor),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls(_) => "tls",
        })
    }
}

/// A certificate or key that cannot be loaded, naming the file and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TlsSetupError {
    pub path: String,
    pub reason: String,
}

/// The TLS transport from PEM files: a certificate chain (leaf first) and its private key.
pub fn tls_transport(cert_chain: &Path, key: &Path) -> Result<Transport, TlsSetupError> {
    let fail = |path: &Path, reason: String| TlsSetupError { path: path.display().to_string(), reason };
    let certs = CertificateDer::pem_file_iter(cert_chain)
        .map_err(|e| fail(cert_chain, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(cert_chain, e.to_string()))?;
    if certs.is_empty() {
        return Err(fail(cert_chain, "no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| fail(key, e.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(cert_chain, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| fail(cert_chain, format!("certificate and key do not make a usable pair: {e}")))?;
    Ok(Transport::Tls(TlsAcceptor::from(Arc::new(config))))
}

/// A TLS handshake must finish within this (or the idle timeout, if shorter),
/// so a client that connects and stalls does not hold a connection slot.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One configured listener.
#[derive(Debug, Clone)]
pub struct SyslogListener {
    /// Source name on every event (`syslog-udp`, `fw-tcp`, …).
    pub name: String,
    pub listen: SocketAddr,
    pub transport: Transport,
    /// `syslog` or `cef` (CEF behind a syslog header).
    pub format: Format,
    /// The sensor or unit the senders on this port belong to.
    pub sensor: Option<String>,
    /// TCP connections at once; more are closed on accept and counted.
    pub max_connections: usize,
    /// A TCP connection idle this long is closed.
    pub idle_timeout: Duration,
}

/// Binds the listener and serves it on the runtime; returns the bound address.
pub async fn spawn(l: SyslogListener, spool: Arc<Spool>) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let l = Arc::new(l);
    match &l.transport {
        Transport::Udp => {
            let sock = UdpSocket::bind(l.listen).await?;
            let addr = sock.local_addr()?;
            tracing::info!(name = %l.name, %addr, "syslog listening (UDP)");
            Ok((addr, tokio::spawn(udp(sock, l, spool))))
        }
        Transport::Tcp | Transport::Tls(_) => {
            let listener = TcpListener::bind(l.listen).await?;
            let addr = listener.local_addr()?;
            tracing::info!(name = %l.name, %addr, transport = ?l.transport, "syslog listening");
            Ok((addr, tokio::spawn(tcp(listener, l, spool))))
        }
    }
}

/// Appends on a blocking thread (it fsyncs); waits while the spool is full.
async fn append(spool: &Arc<Spool>, l: &Arc<SyslogListener>, data: Arc<Vec<u8>>, frames: Arc<Vec<StreamFrame>>, wait_when_full: bool) {
    loop {
        let (s, l2, d, fr) = (spool.clone(), l.clone(), data.clone(), frames.clone());
        let r = tokio::task::spawn_blocking(move || {
            let received = jiff::Timestamp::now();
            let recs: Vec<SpoolRecord> = fr
                .iter()
                .map(|f| {
                    let base = SpoolRecord {
                        format: l2.format,
                        variant: "",
                        received,
                        source: &l2.name,
                        sensor: l2.sensor.as_deref(),
                        reject: None,
                        bytes: &[],
                    };
                    match f {
                        StreamFrame::Record(r) => SpoolRecord { bytes: &d[r.clone()], ..base },
                        StreamFrame::Refused { head, reason, detail } => {
                            SpoolRecord { bytes: &d[head.clone()], reject: Some((*reason, detail)), ..base }
                        }
                    }
                })
                .collect();
            s.append(&recs)
        })
        .await;
        match r {
            Ok(Ok(())) => return,
            Ok(Err(SpoolError::Full { .. })) if wait_when_full => tokio::time::sleep(Duration::from_millis(500)).await,
            Ok(Err(e)) => {
                spool.counters().refused.fetch_add(frames.len() as u64, Relaxed);
                tracing::error!(name = %l.name, error = %e, records = frames.len(), "syslog records refused by the spool");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "spool append task failed");
                return;
            }
        }
    }
}

async fn udp(sock: UdpSocket, l: Arc<SyslogListener>, spool: Arc<Spool>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        // Take what has arrived (up to 1024 datagrams) and spool it with one fsync.
        let mut data = Vec::new();
        let mut frames = Vec::new();
        match sock.recv_from(&mut buf).await {
            Ok((n, _)) => push_datagram(&mut data, &mut frames, &buf[..n]),
            Err(e) => {
                tracing::warn!(error = %e, "syslog UDP receive failed");
                continue;
            }
        }
        while frames.len() < 1024 {
            match sock.try_recv_from(&mut buf) {
                Ok((n, _)) => push_datagram(&mut data, &mut frames, &buf[..n]),
                Err(_) => break,
            }
        }
        append(&spool, &l, Arc::new(data), Arc::new(frames), false).await;
    }
}

fn push_datagram(data: &mut Vec<u8>, frames: &mut Vec<StreamFrame>, d: &[u8]) {
    let mut d = d;
    while let Some(rest) = d.strip_suffix(b"\n").or_else(|| d.strip_suffix(b"\r")).or_else(|| d.strip_suffix(b"\0")) {
        d = rest;
    }
    if d.is_empty() {
        return;
    }
    let start = data.len();
    data.extend_from_slice(d);
    frames.push(StreamFrame::Record(start..data.len()));
}

async fn tcp(listener: TcpListener, l: Arc<SyslogListener>, spool: Arc<Spool>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(l.max_connections));
    loop {
        let (sock, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors, say: back off instead of spinning.
                tracing::warn!(error = %e, "syslog TCP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            spool.counters().refused.fetch_add(1, Relaxed);
            tracing::debug!(%peer, limit = l.max_connections, "syslog TCP connection refused: at the connection limit");
            drop(sock);
            continue;
        };
        let (l, spool) = (l.clone(), spool.clone());
        tokio::spawn(async move {
            match &l.transport {
                Transport::Tls(acceptor) => {
                    let limit = HANDSHAKE_TIMEOUT.min(l.idle_timeout);
                    match tokio::time::timeout(limit, acceptor.accept(sock)).await {
                        Ok(Ok(tls)) => connection(tls, peer, &l, &spool).await,
                        Ok(Err(e)) => {
                            spool.counters().refused.fetch_add(1, Relaxed);
                            tracing::info!(%peer, error = %e, "syslog TLS handshake failed");
                        }
                        Err(_) => {
                            spool.counters().refused.fetch_add(1, Relaxed);
                            tracing::info!(%peer, "syslog TLS handshake not finished in time; closing");
                        }
                    }
                }
                _ => connection(sock, peer, &l, &spool).await,
            }
            drop(permit);
        });
    }
}

async fn connection<S: AsyncRead + Unpin>(mut sock: S, peer: SocketAddr, l: &Arc<SyslogListener>, spool: &Arc<Spool>) {
    let max = spool.max_record;
    let mut framer = SyslogFramer::default();
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let (n, eof) = match tokio::time::timeout(l.idle_timeout, sock.read(&mut chunk)).await {
            Err(_) => {
                tracing::debug!(%peer, "syslog TCP connection idle; closing");
                (0, true)
            }
            Ok(Ok(0)) => (0, true),
            Ok(Ok(n)) => (n, false),
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "syslog TCP read failed");
                (0, true)
            }
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut frames = Vec::new();
        let used = framer.decode(&buf, max, eof, &mut frames);
        if !frames.is_empty() {
            let data = Arc::new(std::mem::take(&mut buf));
            append(spool, l, data.clone(), Arc::new(frames), true).await;
            // The blocking task has finished with its clone: the buffer comes back without a copy.
            buf = Arc::try_unwrap(data).unwrap_or_else(|d| (*d).clone());
        }
        buf.drain(..used);
        if eof {
            return;
        }
    }
}
