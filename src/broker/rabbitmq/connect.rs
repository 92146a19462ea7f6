//! Reaching RabbitMQ: a quick probe first (TCP, TLS handshake, the server's `connection.start` with its product and
//! version) so that an unreachable broker or a bad certificate is named within seconds, then lapin connections, each
//! with a `connection_name` carrying the run id. Errors name host, port and vhost, never the password.

use crate::amqp_url::AmqpUrl;
use crate::scenario::TlsCfg;
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::uri::{AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo};
use lapin::{Connection, ConnectionProperties};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the broker is and how to reach it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub url: AmqpUrl,
    pub tls: Option<TlsCfg>,
    pub timeout: Duration,
    /// Connect here instead (the fault proxy on loopback, which forwards to the URL's host and port).
    pub via: Option<std::net::SocketAddr>,
}

/// What the broker says about itself in `connection.start`.
#[derive(Clone, Debug, Default)]
pub struct ServerInfo {
    pub product: String,
    pub version: String,
}

impl Endpoint {
    /// "cannot connect to RabbitMQ at host:port (vhost "/"): why".
    pub fn failure(&self, why: impl std::fmt::Display) -> String {
        format!("cannot connect to RabbitMQ at {}: {why}", self.url.place())
    }

    /// Connects, shakes hands (TLS if amqps) and reads the server's greeting; within `timeout`. Blocking.
    pub fn probe(&self) -> Result<ServerInfo, String> {
        let deadline = Instant::now() + self.timeout;
        let addrs: Vec<_> = (self.url.host.as_str(), self.url.port)
            .to_socket_addrs()
            .map_err(|e| self.failure(format!("cannot resolve the host ({e})")))?
            .collect();
        let mut last = String::from("the host resolves to no address");
        let mut tcp = None;
        for addr in addrs {
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
            match TcpStream::connect_timeout(&addr, left) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = plain_io(&e),
            }
        }
        let tcp = tcp.ok_or_else(|| self.failure(last))?;
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        let _ = tcp.set_read_timeout(Some(left));
        let _ = tcp.set_write_timeout(Some(left));
        let greeting = if self.url.tls {
            let config = self.rustls_config().map_err(|e| self.failure(e))?;
            let name = ServerName::try_from(self.url.host.clone())
                .map_err(|_| self.failure("the host is not a valid TLS server name"))?;
            let conn = rustls::ClientConnection::new(Arc::new(config), name)
                .map_err(|e| self.failure(format!("TLS setup failed: {e}")))?;
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            greet(&mut tls).map_err(|e| self.failure(tls_error(&e)))?
        } else {
            let mut tcp = tcp;
            greet(&mut tcp).map_err(|e| self.failure(plain_io(&e)))?
        };
        parse_start(&greeting).ok_or_else(|| self.failure("the server did not answer as an AMQP 0-9-1 broker"))
    }

    /// The rustls configuration the probe uses: the system's roots plus `broker.tls.ca`, an optional client
    /// certificate; the server name is checked.
    fn rustls_config(&self) -> Result<rustls::ClientConfig, String> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        let tls = self.tls.clone().unwrap_or(TlsCfg { ca: None, cert: None, key: None });
        if let Some(ca) = &tls.ca {
            let certs = CertificateDer::pem_file_iter(ca)
                .map_err(|e| format!("cannot read broker.tls.ca {ca}: {e}"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("broker.tls.ca {ca} is not a PEM certificate file: {e}"))?;
            if certs.is_empty() {
                return Err(format!("broker.tls.ca {ca} holds no certificate"));
            }
            for c in certs {
                roots.add(c).map_err(|e| format!("broker.tls.ca {ca}: {e}"))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        match (&tls.cert, &tls.key) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("broker.tls.cert {cert} is not a PEM certificate file: {e}"))?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| format!("broker.tls.key {key} is not a PEM private key: {e}"))?;
                builder.with_client_auth_cert(chain, key).map_err(|e| format!("client certificate: {e}"))
            }
            _ => Ok(builder.with_no_client_auth()),
        }
    }

    fn lapin_tls(&self) -> Result<OwnedTLSConfig, String> {
        let Some(tls) = &self.tls else { return Ok(OwnedTLSConfig::default()) };
        let read = |what: &str, path: &str| {
            std::fs::read(path).map_err(|e| format!("cannot read broker.tls.{what} {path}: {e}"))
        };
        let cert_chain = match &tls.ca {
            Some(ca) => Some(String::from_utf8_lossy(&read("ca", ca)?).into_owned()),
            None => None,
        };
        let identity = match (&tls.cert, &tls.key) {
            (Some(c), Some(k)) => Some(OwnedIdentity::PKCS8 { pem: read("cert", c)?, key: read("key", k)? }),
            _ => None,
        };
        Ok(OwnedTLSConfig { identity, cert_chain })
    }

    fn lapin_uri(&self) -> AMQPUri {
        let u = &self.url;
        AMQPUri {
            scheme: if u.tls { AMQPScheme::AMQPS } else { AMQPScheme::AMQP },
            authority: AMQPAuthority {
                userinfo: AMQPUserInfo { username: u.user.clone(), password: u.password().to_string() },
                host: self.via.map_or_else(|| u.host.clone(), |a| a.ip().to_string()),
                port: self.via.map_or(u.port, |a| a.port()),
            },
            vhost: u.vhost.clone(),
            query: AMQPQueryString {
                frame_max: u.frame_max,
                heartbeat: Some(u.heartbeat.unwrap_or(10)),
                connection_timeout: Some(self.timeout.as_millis() as u64),
                ..Default::default()
            },
        }
    }

    /// A lapin connection named `name` (shown by `rabbitmqctl list_connections` and the management UI).
    pub async fn open(&self, name: &str) -> Result<Connection, String> {
        let props = ConnectionProperties::default().with_connection_name(name.into());
        let tls = self.lapin_tls().map_err(|e| self.failure(e))?;
        let runtime = lapin::runtime::default_runtime().map_err(|e| self.failure(e))?;
        let connect = Connection::connect_uri_with_config(self.lapin_uri(), props, tls, runtime);
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(self.failure(lapin_error(&e, &self.url))),
            Err(_) => Err(self.failure(format!("no answer within {:.1} s", self.timeout.as_secs_f64()))),
        }
    }
}

/// Sends the AMQP 0-9-1 protocol header and reads the server's first frame (connection.start).
fn greet(s: &mut (impl Read + Write)) -> std::io::Result<Vec<u8>> {
    s.write_all(b"AMQP\x00\x00\x09\x01")?;
    s.flush()?;
    let mut head = [0u8; 7];
    s.read_exact(&mut head)?;
    if head[0] != 1 {
        return Err(std::io::Error::other("not an AMQP 0-9-1 method frame"));
    }
    let size = u32::from_be_bytes([head[3], head[4], head[5], head[6]]) as usize;
    if size > 1 << 20 {
        return Err(std::io::Error::other("the greeting frame is implausibly large"));
    }
    let mut rest = vec![0u8; size + 1];
    s.read_exact(&mut rest)?;
    let mut frame = head.to_vec();
    frame.extend_from_slice(&rest);
    Ok(frame)
}

fn parse_start(frame: &[u8]) -> Option<ServerInfo> {
    use amq_protocol::frame::AMQPFrame;
    use amq_protocol::protocol::{connection, AMQPClass};
    let (_, parsed) = amq_protocol::frame::parsing::parse_frame(frame).ok()?;
    let AMQPFrame::Method(_, AMQPClass::Connection(connection::AMQPMethod::Start(start))) = parsed else {
        return None;
    };
    let field = |k: &str| match start.server_properties.inner().get(k) {
        Some(lapin::types::AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        _ => String::new(),
    };
    Some(ServerInfo { product: field("product"), version: field("version") })
}

fn plain_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused (is RabbitMQ running and listening there?)".into(),
        TimedOut | WouldBlock => "no answer (timed out)".into(),
        UnexpectedEof | ConnectionReset => "the server closed the connection during the greeting".into(),
        _ => e.to_string(),
    }
}

fn tls_error(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls) => format!("TLS handshake failed: {tls}"),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "TLS handshake failed: the server closed the connection (is this a TLS port?)".into()
        }
        None => format!("TLS handshake failed: {}", plain_io(e)),
    }
}

/// lapin's errors in a user's words; AMQP codes kept for searching. The library's own text is scrubbed of the
/// password in case it ever repeats it.
fn lapin_error(e: &lapin::Error, url: &AmqpUrl) -> String {
    let scrub = |s: String| crate::secret::scrub(&crate::secret::scrub(&s, url.password()), url.token());
    match e.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => match amqp.get_id() {
            403 => format!(
                "the broker refused user \"{}\" (ACCESS_REFUSED: wrong user name or password)",
                url.shown_user()
            ),
            530 => {
                format!(
                    "vhost \"{}\" does not exist or user \"{}\" may not use it (NOT_ALLOWED)",
                    url.vhost,
                    url.shown_user()
                )
            }
            code => scrub(format!("{} ({code})", amqp.get_message())),
        },
        lapin::ErrorKind::IOError(io) => scrub(plain_io(io)),
        _ => scrub(e.to_string()),
    }
}
