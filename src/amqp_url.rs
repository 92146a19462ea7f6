//! AMQP connection URLs (`amqp://user:pass@host:port/vhost?heartbeat=10`, `amqps://...`): parsed once, shown
//! only without the password. Error messages never repeat the URL as given.

use percent_encoding::percent_decode_str;
use std::fmt;

/// Where a real RabbitMQ is, and who we are to it. `Debug` and `Display` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub vhost: String,
    pub user: String,
    password: String,
    /// The URL gave a user and no password (`amqp://token@host`): the user may be a token, so it is never shown.
    user_is_token: bool,
    pub heartbeat: Option<u16>,
    pub frame_max: Option<u32>,
}

/// The URL used when a scenario says `kind = "rabbitmq"` without a `url` and `LOADTEST_AMQP_URL` is unset.
pub const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// The environment variable that supplies the URL (keeps passwords out of scenario files and shell history).
pub const URL_ENV: &str = "LOADTEST_AMQP_URL";

impl AmqpUrl {
    /// Parses `text`. The error explains the expected form and never contains `text` itself.
    pub fn parse(text: &str) -> Result<AmqpUrl, String> {
        const FORM: &str = "write amqp://user:password@host:5672/vhost (or amqps://...; the default vhost `/` is %2f)";
        let url = url::Url::parse(text.trim()).map_err(|e| format!("not a URL ({e}); {FORM}"))?;
        let tls = match url.scheme() {
            "amqp" => false,
            "amqps" => true,
            other => return Err(format!("the scheme `{other}` is not amqp or amqps; {FORM}")),
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) => decode(d)?,
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(format!("the URL has no host; {FORM}")),
        };
        if host.is_empty() {
            return Err(format!("the URL has no host; {FORM}"));
        }
        let port = url.port().unwrap_or(if tls { 5671 } else { 5672 });
        let vhost = match url.path() {
            "" | "/" => "/".to_string(),
            p => decode(&p[1..])?,
        };
        let user = match url.username() {
            "" => "guest".to_string(),
            u => decode(u)?,
        };
        let user_is_token = !url.username().is_empty() && url.password().is_none();
        let password = match url.password() {
            None => "guest".to_string(),
            Some(p) => decode(p)?,
        };
        let mut heartbeat = None;
        let mut frame_max = None;
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "heartbeat" => {
                    heartbeat = Some(v.parse().map_err(|_| format!("heartbeat={v} is not a number of seconds"))?)
                }
                "frame_max" => {
                    frame_max = Some(v.parse().map_err(|_| format!("frame_max={v} is not a number of bytes"))?)
                }
                other => {
                    return Err(format!("unknown URL parameter `{other}`; loadtest reads heartbeat and frame_max"))
                }
            }
        }
        Ok(AmqpUrl { tls, host, port, vhost, user, password, user_is_token, heartbeat, frame_max })
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The user as messages may show it: `****` when the URL gave it without a password (it may be a token).
    pub fn shown_user(&self) -> &str {
        if self.user_is_token {
            "****"
        } else {
            &self.user
        }
    }

    /// What must never be shown besides the password: the user of a user-only URL; empty otherwise.
    pub fn token(&self) -> &str {
        if self.user_is_token {
            &self.user
        } else {
            ""
        }
    }

    /// `host:port, vhost "/"`: how messages name the broker.
    pub fn place(&self) -> String {
        format!("{}:{} (vhost \"{}\")", self.host, self.port, self.vhost)
    }
}

fn decode(s: &str) -> Result<String, String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| "the URL is not valid UTF-8 after percent-decoding".into())
}

/// `amqp://guest@127.0.0.1:5672/%2f`: the URL without its password (and `amqp://****@...` for a user-only URL).
impl fmt::Display for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "amqps" } else { "amqp" };
        let vhost: String =
            percent_encoding::utf8_percent_encode(&self.vhost, percent_encoding::NON_ALPHANUMERIC).collect();
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        write!(f, "{scheme}://{}@{host}:{}/{vhost}", self.shown_user(), self.port)
    }
}

impl fmt::Debug for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AmqpUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_users_write() {
        let u = AmqpUrl::parse("amqp://guest:s3cr%40t@127.0.0.1:5672/%2f").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.vhost.as_str(), u.user.as_str()), ("127.0.0.1", 5672, "/", "guest"));
        assert_eq!(u.password(), "s3cr@t");
        assert_eq!(u.to_string(), "amqp://guest@127.0.0.1:5672/%2F");
        let u = AmqpUrl::parse("amqps://app@rabbit.example.com/orders?heartbeat=10").unwrap();
        assert_eq!((u.tls, u.port, u.vhost.as_str(), u.heartbeat), (true, 5671, "orders", Some(10)));
        let u = AmqpUrl::parse("amqp://localhost").unwrap();
        assert_eq!((u.vhost.as_str(), u.user.as_str(), u.password()), ("/", "guest", "guest"));
        let u = AmqpUrl::parse("amqp://u:p@[::1]:5673/v").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 5673));
        assert_eq!(u.to_string(), "amqp://u@[::1]:5673/v");
    }

    #[test]
    fn errors_never_repeat_the_password() {
        for bad in [
            "http://guest:hunter2@host/",
            "amqp//guest:hunter2@host",
            "amqp://guest:hunter2@host:99999/",
            "amqp://guest:hunter2@host/?bogus=1",
            "amqp://guest:hunter2@/vhost",
        ] {
            let e = AmqpUrl::parse(bad).unwrap_err();
            assert!(!e.contains("hunter2"), "{bad}: {e}");
        }
        let u = AmqpUrl::parse("amqp://guest:hunter2@host/").unwrap();
        assert!(!format!("{u} {u:?} {}", u.place()).contains("hunter2"));
        let u = AmqpUrl::parse("amqp://hunter2@host/").unwrap();
        assert_eq!((u.user.as_str(), u.token(), u.shown_user()), ("hunter2", "hunter2", "****"));
        assert_eq!(format!("{u} {u:?}"), "amqp://****@host:5672/%2F AmqpUrl(amqp://****@host:5672/%2F)");
    }
}
