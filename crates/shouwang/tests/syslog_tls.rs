//! Syslog over TLS (RFC 5425 framing inside TLS), with hostile clients, and
//! rsyslog as a real forwarding peer over TCP and TLS.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use shouwang_server::syslog::{Transport, spawn, tls_transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use crate::helpers::*;
use crate::syslog::{dead_letters, listener, stored};

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is required (.ci/run installs it)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A test CA and a server certificate it signed for `localhost` and
/// 127.0.0.1, made by the openssl CLI. Returns (CA, server chain, server key).
pub(crate) fn make_cert(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[&["req", "-x509"][..], &ec, &["-days", "2", "-subj", "/CN=Shouwang test CA", "-keyout", "ca.key", "-out", "ca.pem"]].concat(),
        dir,
    );
    openssl(&[&["req"][..], &ec, &["-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "server.csr"]].concat(), dir);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "cert.pem",
        ],
        dir,
    );
    (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"))
}

fn connector(ca: &Path) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(ca).unwrap()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

fn octet_counted(msg: &str) -> Vec<u8> {
    format!("{} {msg}", msg.len()).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_with_stalling_and_hostile_clients() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_cert(dir.path());
    let mut l = listener("syslog-tls", tls_transport(&cert, &key).unwrap(), 8);
    l.idle_timeout = Duration::from_secs(1);
    let (addr, _) = spawn(l, app.ingest.spool.clone()).await.unwrap();
    let tls = connector(&ca);
    let name = ServerName::try_from("localhost").unwrap();
    let refused = || app.ingest.pipeline.counters.refused.load(Relaxed);
    let before = refused();

    // A client that completes the handshake and then sends nothing.
    let mut stalled = tls.connect(name.clone(), tokio::net::TcpStream::connect(addr).await.unwrap()).await.unwrap();
    // A client that opens TCP and never starts the handshake.
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    // A client speaking plain syslog to the TLS port.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"<13>1 2026-11-21T08:00:00Z h app - - - plaintext to a TLS port\n").await.unwrap();

    // Meanwhile a good sender goes through: octet-counted and newline frames, and a bad record between them.
    let mut good = tls.connect(name.clone(), tokio::net::TcpStream::connect(addr).await.unwrap()).await.unwrap();
    let mut wire = octet_counted("<13>1 2026-11-21T08:00:01Z h app - - - tls first good");
    wire.extend(b"<13>1 2026-11-21T08:00:02Z h app - - - tls \xff bad utf8\n");
    wire.extend(b"<13>1 2026-11-21T08:00:03Z h app - - - tls second good\n");
    good.write_all(&wire).await.unwrap();
    good.shutdown().await.unwrap();
    let events = stored(&app, 2).await;
    let msgs: Vec<&str> = events.iter().filter_map(|e| e["message"].as_str()).collect();
    assert!(msgs.iter().any(|m| m.contains("tls first good")) && msgs.iter().any(|m| m.contains("tls second good")), "{msgs:?}");
    assert!(events.iter().all(|e| e["shouwang"]["source"] == "syslog-tls"));
    let dead = dead_letters(&app, 1).await;
    assert_eq!(dead[0]["reason"], "not_utf8", "{dead:?}");
    assert!(!msgs.iter().any(|m| m.contains("plaintext")), "plaintext must not be taken as TLS data");

    // The stalled and silent clients are closed by the server (idle timeout and handshake limit).
    let start = Instant::now();
    let mut byte = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(10), stalled.read(&mut byte)).await.expect("stalled TLS client not closed");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    let n = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut byte)).await.expect("silent client not closed");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    // The plaintext client fails the handshake; it and the silent one are counted as refused.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut rest)).await.expect("plaintext client not closed");
    for _ in 0..100 {
        if refused() - before >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(refused() - before, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_forwards_over_tcp_and_tls() {
    if Command::new("rsyslogd").arg("-v").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "rsyslogd is required in CI");
        eprintln!("skipping: rsyslogd not installed");
        return;
    }
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_cert(dir.path());
    let (tcp, _) = spawn(listener("rsyslog-tcp", Transport::Tcp, 8), app.ingest.spool.clone()).await.unwrap();
    let (tls, _) = spawn(listener("rsyslog-tls", tls_transport(&cert, &key).unwrap(), 8), app.ingest.spool.clone()).await.unwrap();

    // rsyslog takes newline-framed syslog on imtcp and forwards each message
    // octet-counted over plain TCP and over TLS (GnuTLS, verifying our certificate by name).
    let input = free_port();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let conf = format!(
        r#"global(workDirectory="{work}" defaultNetstreamDriverCAFile="{ca}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{input}" ruleset="forward")
ruleset(name="forward") {{
  action(type="omfwd" target="127.0.0.1" port="{tcp}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
  action(type="omfwd" target="127.0.0.1" port="{tls}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
         StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost")
}}
"#,
        work = work.display(),
        ca = ca.display(),
        tcp = tcp.port(),
        tls = tls.port(),
    );
    let conf_path = dir.path().join("rsyslog.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let check = Command::new("rsyslogd").arg("-N1").arg("-f").arg(&conf_path).output().unwrap();
    assert!(check.status.success(), "rsyslog config: {}", String::from_utf8_lossy(&check.stderr));
    // `rsyslogd` is a real forwarding peer; required in CI, where .ci/run installs it.
    let _rsyslog = Running(
        Command::new("rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(dir.path().join("rsyslog.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let mut sender = None;
    for _ in 0..100 {
        if let Ok(s) = tokio::net::TcpStream::connect(("127.0.0.1", input)).await {
            sender = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut sender = sender.expect("rsyslogd did not start listening");
    const N: usize = 50;
    let mut lines = String::new();
    for i in 0..N {
        lines.push_str(&format!("<38>Nov 21 08:00:{:02} web01 sshd[42]: via rsyslog {i} Failed password from 192.0.2.{i}\n", i % 60));
    }
    sender.write_all(lines.as_bytes()).await.unwrap();
    sender.shutdown().await.unwrap();

    let events = stored(&app, 2 * N).await;
    for source in ["rsyslog-tcp", "rsyslog-tls"] {
        let mut got: Vec<usize> = events
            .iter()
            .filter(|e| e["shouwang"]["source"] == source)
            .filter_map(|e| e["message"].as_str()?.split("via rsyslog ").nth(1)?.split(' ').next()?.parse().ok())
            .collect();
        got.sort_unstable();
        assert_eq!(got, (0..N).collect::<Vec<_>>(), "{source}: {events:?}");
    }
    let e = events.iter().find(|e| e["shouwang"]["source"] == "rsyslog-tls").unwrap();
    assert_eq!(e["process"]["name"], "sshd");
    assert_eq!(e["host"]["hostname"], "web01");
    assert!(dead_letters(&app, 0).await.is_empty());
}
