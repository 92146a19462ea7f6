//! HTTP for the Service Bus backend: the client every request goes through (reqwest with a connection pool; in the
//! emulator form it rewrites `https://<ns>.servicebus.windows.net` to plain `http://host:port`), SAS tokens, and
//! the management GET that tells whether a queue exists and how many messages it holds.

use super::conn::ConnString;
use azure_core::auth::Secret;
use azure_core::error::ErrorKind;
use azure_core::{HttpClient, Method, Request, Response};
use std::sync::Arc;
use std::time::Duration;

/// The management API version of the entity GET.
const API_VERSION: &str = "2021-05";
/// How long a SAS token this side signs stays valid.
const SAS_TTL: Duration = Duration::from_secs(3600);

/// The HTTP client handed to `azure_messaging_servicebus`: delegates to reqwest, after rewriting the scheme, host
/// and port of each request in the emulator form.
#[derive(Debug)]
pub struct Client {
    inner: reqwest::Client,
    /// `(host, port)` every request goes to instead, over plain HTTP.
    rewrite: Option<(String, u16)>,
}

impl Client {
    /// `connect_timeout` bounds each new TCP (and TLS) connection; a request may take up to `request_timeout`
    /// (longer than a receive's long poll).
    pub fn new(conn: &ConnString, connect_timeout: Duration, request_timeout: Duration) -> Result<Client, String> {
        let inner = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Client { inner, rewrite: conn.emulator.map(|port| (conn.host.clone(), port)) })
    }

    pub fn shared(self) -> Arc<dyn HttpClient> {
        Arc::new(self)
    }
}

#[async_trait::async_trait]
impl HttpClient for Client {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<Response> {
        let Some((host, port)) = &self.rewrite else { return self.inner.execute_request(request).await };
        let mut r = request.clone();
        let url = r.url_mut();
        let ok =
            url.set_scheme("http").is_ok() && url.set_host(Some(host)).is_ok() && url.set_port(Some(*port)).is_ok();
        if !ok {
            return Err(azure_core::Error::message(ErrorKind::Other, "cannot rewrite the request URL"));
        }
        self.inner.execute_request(&r).await
    }
}

/// The resource URI a token is for, as the service names it.
pub fn resource(conn: &ConnString, entity: &str) -> String {
    format!("https://{}.servicebus.windows.net/{entity}", conn.namespace)
}

/// A SAS token for `resource`: `SharedAccessSignature sr=..&sig=..&se=..&skn=..`, the HMAC-SHA256 of the encoded
/// resource and the expiry under the key's UTF-8 bytes (azure_core's helper decodes its key from base64, so the key
/// is handed to it encoded, as the Service Bus crate does).
pub fn sas_token(key_name: &str, key: &str, resource: &str, ttl: Duration) -> Result<String, String> {
    use url::form_urlencoded::byte_serialize;
    let sr: String = byte_serialize(resource.as_bytes()).collect();
    let se =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) + ttl.as_secs();
    let secret = Secret::new(azure_core::base64::encode(key));
    let sig = azure_core::hmac::hmac_sha256(&format!("{sr}\n{se}"), &secret).map_err(|e| format!("signing: {e}"))?;
    let sig: String = byte_serialize(sig.as_bytes()).collect();
    Ok(format!("SharedAccessSignature sr={sr}&sig={sig}&se={se}&skn={key_name}"))
}

/// What the management GET tells about a queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entity {
    pub active: u64,
    pub dead: u64,
    pub scheduled: u64,
    pub max_delivery_count: Option<u32>,
    /// ISO 8601, as the service writes it (`PT1M`).
    pub lock_duration: Option<String>,
    pub requires_session: bool,
    pub dead_lettering_on_expiration: bool,
}

/// Why a management GET did not describe a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntityError {
    Missing,
    /// It exists, but is not a queue (a topic).
    NotAQueue,
    Refused(u16),
    Status(u16),
    Unreachable(String),
}

/// `GET https://<ns>.servicebus.windows.net/<entity>?api-version=2021-05` (an ATOM entry; a missing entity is a 404
/// or an empty feed).
pub async fn get_entity(http: &Arc<dyn HttpClient>, conn: &ConnString, entity: &str) -> Result<Entity, EntityError> {
    let res = resource(conn, entity);
    let url = format!("{res}?api-version={API_VERSION}");
    let url = azure_core::Url::parse(&url).map_err(|e| EntityError::Unreachable(format!("bad URL: {e}")))?;
    let token = sas_token(&conn.key_name, &conn.key, &res, SAS_TTL).map_err(EntityError::Unreachable)?;
    let mut req = Request::new(url, Method::Get);
    req.insert_header(azure_core::headers::AUTHORIZATION, token);
    req.insert_header(azure_core::headers::CONTENT_LENGTH, "0");
    let rsp = http.execute_request(&req).await.map_err(|e| EntityError::Unreachable(scrub(conn, &e)))?;
    let status = u16::from(rsp.status());
    let body = rsp.into_body().collect_string().await.map_err(|e| EntityError::Unreachable(scrub(conn, &e)))?;
    match status {
        200 => parse_entity(&body),
        404 => Err(EntityError::Missing),
        401 | 403 => Err(EntityError::Refused(status)),
        s => Err(EntityError::Status(s)),
    }
}

/// The queue's description out of an ATOM entry (the elements are namespaced: match on the local names).
pub fn parse_entity(body: &str) -> Result<Entity, EntityError> {
    if !body.contains("<entry") {
        return Err(EntityError::Missing);
    }
    if !body.contains("QueueDescription") {
        return Err(EntityError::NotAQueue);
    }
    let num = |name: &str| field(body, name).and_then(|v| v.parse::<u64>().ok());
    Ok(Entity {
        active: num("ActiveMessageCount").unwrap_or(0),
        dead: num("DeadLetterMessageCount").unwrap_or(0),
        scheduled: num("ScheduledMessageCount").unwrap_or(0),
        max_delivery_count: num("MaxDeliveryCount").map(|v| v.min(u32::MAX as u64) as u32),
        lock_duration: field(body, "LockDuration").map(str::to_string),
        requires_session: field(body, "RequiresSession") == Some("true"),
        dead_lettering_on_expiration: field(body, "DeadLetteringOnMessageExpiration") == Some("true"),
    })
}

/// The text of the first element whose local name is `name` (`<name>v</name>` or `<p:name>v</p:name>`).
fn field<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = body[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before = body[..at].chars().next_back();
        let opening = match before {
            Some('<') => true,
            Some(':') => body[..at].rfind('<').is_some_and(|lt| !body[lt..at].contains(['>', '/', ' '])),
            _ => false,
        };
        if opening && body[from..].starts_with('>') {
            let start = from + 1;
            let end = body[start..].find('<')? + start;
            return Some(body[start..end].trim());
        }
    }
    None
}

/// The HTTP status of a client error, if it was one.
pub fn status_of(e: &azure_core::Error) -> Option<u16> {
    match e.kind() {
        ErrorKind::HttpResponse { status, .. } => Some(u16::from(*status)),
        _ => None,
    }
}

/// A library error as text, with its causes, and with the key (and its base64 form, which the client signs with)
/// masked.
pub fn scrub(conn: &ConnString, e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(&format!(": {more}"));
        }
        cause = c.source();
    }
    let text = crate::secret::scrub(&text, &conn.key);
    crate::secret::scrub(&text, &azure_core::base64::encode(&conn.key))
}

/// HMAC-SHA256 (RFC 2104), for checking signatures in tests.
#[cfg(test)]
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(data).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = r#"<entry xmlns="http://www.w3.org/2005/Atom"><title type="text">orders</title><content type="application/xml"><QueueDescription xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><LockDuration>PT1M</LockDuration><RequiresSession>false</RequiresSession><DeadLetteringOnMessageExpiration>false</DeadLetteringOnMessageExpiration><MaxDeliveryCount>10</MaxDeliveryCount><MessageCount>7</MessageCount><CountDetails xmlns:d2p1="http://schemas.microsoft.com/netservices/2011/06/servicebus"><d2p1:ActiveMessageCount>5</d2p1:ActiveMessageCount><d2p1:DeadLetterMessageCount>2</d2p1:DeadLetterMessageCount><d2p1:ScheduledMessageCount>3</d2p1:ScheduledMessageCount></CountDetails></QueueDescription></content></entry>"#;

    #[test]
    fn reads_a_queue_description() {
        let e = parse_entity(ENTRY).unwrap();
        assert_eq!((e.active, e.dead, e.scheduled), (5, 2, 3));
        assert_eq!(e.max_delivery_count, Some(10));
        assert_eq!(e.lock_duration.as_deref(), Some("PT1M"));
        assert!(!e.requires_session);
        let feed =
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="text">Publicly Listed Services</title></feed>"#;
        assert_eq!(parse_entity(feed), Err(EntityError::Missing));
        let topic = ENTRY.replace("QueueDescription", "TopicDescription");
        assert_eq!(parse_entity(&topic), Err(EntityError::NotAQueue));
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn signs_the_key_bytes_as_the_service_checks_them() {
        // The signature is HMAC-SHA256(key as UTF-8 bytes, "<encoded resource>\n<expiry>"), base64, URL-encoded.
        let key = "a2V5LW5vdC1yZWFs+/==";
        let t = sas_token("send", key, "https://ns.servicebus.windows.net/orders", Duration::from_secs(60)).unwrap();
        let parts: std::collections::HashMap<_, _> =
            t.trim_start_matches("SharedAccessSignature ").split('&').filter_map(|p| p.split_once('=')).collect();
        assert_eq!(parts["sr"], "https%3A%2F%2Fns.servicebus.windows.net%2Forders");
        assert_eq!(parts["skn"], "send");
        let want = azure_core::base64::encode(hmac_sha256(
            key.as_bytes(),
            format!("{}\n{}", parts["sr"], parts["se"]).as_bytes(),
        ));
        let got: String =
            url::form_urlencoded::parse(format!("s={}", parts["sig"]).as_bytes()).next().unwrap().1.into();
        assert_eq!(got, want);
        assert!(!t.contains(key));
    }
}
