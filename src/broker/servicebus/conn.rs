//! The Service Bus connection string (`Endpoint=sb://<ns>.servicebus.windows.net/;SharedAccessKeyName=..;
//! SharedAccessKey=..[;EntityPath=..]`, or the emulator form with `UseDevelopmentEmulator=true`): parsed once, and
//! never shown with its key.

/// Where the connection string comes from when `[broker] url` names none.
pub const CONN_ENV: &str = "LOADTEST_SERVICEBUS_CONNECTION";

/// A parsed connection string. `Debug` and `Display` mask the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnString {
    /// The namespace name (`contoso` of `contoso.servicebus.windows.net`); for the emulator form, the host.
    pub namespace: String,
    /// The endpoint's host as written (`contoso.servicebus.windows.net`, or `127.0.0.1`).
    pub host: String,
    /// The emulator form: every request goes over plain HTTP to `host:port` instead of
    /// `https://<namespace>.servicebus.windows.net`.
    pub emulator: Option<u16>,
    pub key_name: String,
    pub key: String,
    pub entity_path: Option<String>,
}

impl std::fmt::Debug for ConnString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnString")
            .field("namespace", &self.namespace)
            .field("host", &self.host)
            .field("emulator", &self.emulator)
            .field("key_name", &self.key_name)
            .field("key", &"****")
            .field("entity_path", &self.entity_path)
            .finish()
    }
}

impl std::fmt::Display for ConnString {
    /// The connection string with its key masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.emulator {
            Some(port) => write!(f, "Endpoint=sb://{}:{port}", self.host)?,
            None => write!(f, "Endpoint=sb://{}/", self.host)?,
        }
        write!(f, ";SharedAccessKeyName={};SharedAccessKey=****", self.key_name)?;
        if let Some(e) = &self.entity_path {
            write!(f, ";EntityPath={e}")?;
        }
        if self.emulator.is_some() {
            write!(f, ";UseDevelopmentEmulator=true")?;
        }
        Ok(())
    }
}

const FORM: &str = "use Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=<policy>;\
                    SharedAccessKey=<key> (from `az servicebus namespace authorization-rule keys list`)";

impl ConnString {
    /// Parses a connection string. Errors name the part that is wrong, never the key.
    pub fn parse(text: &str) -> Result<ConnString, String> {
        let (mut endpoint, mut key_name, mut key, mut entity, mut emulator) = (None, None, None, None, false);
        for part in text.trim().split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                // Never shown: it may be a key pasted without its name.
                return Err(format!("the connection string has a part without `=` where it needs Key=Value; {FORM}"));
            };
            match k.trim().to_ascii_lowercase().as_str() {
                "endpoint" => endpoint = Some(v.trim().to_string()),
                "sharedaccesskeyname" => key_name = Some(v.trim().to_string()),
                "sharedaccesskey" => key = Some(v.trim().to_string()),
                "entitypath" => entity = Some(v.trim().to_string()).filter(|e| !e.is_empty()),
                "usedevelopmentemulator" => emulator = v.trim().eq_ignore_ascii_case("true"),
                "sharedaccesssignature" => {
                    return Err(format!("a SharedAccessSignature connection string is not supported; {FORM}"))
                }
                _ => {}
            }
        }
        let endpoint = endpoint.ok_or_else(|| format!("the connection string has no Endpoint; {FORM}"))?;
        let rest = endpoint.strip_prefix("sb://").ok_or_else(|| {
            let endpoint = crate::secret::mask_url(&endpoint);
            format!("the connection string's Endpoint must start with sb:// (it is {endpoint}); {FORM}")
        })?;
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("the Endpoint's port `{}` is not a number", crate::secret::mask_url(p)))?;
                (h.to_string(), Some(port))
            }
            None => (authority.to_string(), None),
        };
        if host.is_empty() {
            return Err(format!("the connection string's Endpoint names no namespace; {FORM}"));
        }
        let key_name = key_name.filter(|k| !k.is_empty());
        let key_name = key_name.ok_or_else(|| format!("the connection string has no SharedAccessKeyName; {FORM}"))?;
        let key = key.filter(|k| !k.is_empty());
        let key = key.ok_or_else(|| format!("the connection string has no SharedAccessKey; {FORM}"))?;
        let (namespace, emulator) = if emulator {
            (host.clone(), Some(port.unwrap_or(80)))
        } else {
            let Some(ns) = host.strip_suffix(".servicebus.windows.net") else {
                return Err(format!(
                    "the Endpoint's host {} is not <namespace>.servicebus.windows.net (for the local emulator \
                     add ;UseDevelopmentEmulator=true)",
                    crate::secret::mask_url(&host)
                ));
            };
            if ns.is_empty() || !ns.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                let ns = crate::secret::mask_url(ns);
                return Err(format!("the Endpoint's namespace `{ns}` must use only letters, digits and `-`"));
            }
            (ns.to_string(), None)
        };
        Ok(ConnString { namespace, host, emulator, key_name, key, entity_path: entity })
    }

    /// `contoso.servicebus.windows.net`, or `127.0.0.1:5300 (emulator form)`: where requests go, for messages.
    pub fn place(&self) -> String {
        match self.emulator {
            Some(port) => format!("{}:{port} (emulator form, plain HTTP)", self.host),
            None => format!("{}.servicebus.windows.net", self.namespace),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConnString;

    const KEY: &str = "c2VjcmV0LWtleS1ub3QtcmVhbA+/=";

    #[test]
    fn parses_a_namespace_connection_string() {
        let text = format!(
            "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;\
             SharedAccessKey={KEY};EntityPath=orders"
        );
        let c = ConnString::parse(&text).unwrap();
        assert_eq!(c.namespace, "contoso");
        assert_eq!(c.key_name, "RootManageSharedAccessKey");
        assert_eq!(c.key, KEY);
        assert_eq!(c.entity_path.as_deref(), Some("orders"));
        assert_eq!(c.emulator, None);
        for shown in [format!("{c:?}"), c.to_string()] {
            assert!(!shown.contains(KEY), "{shown}");
            assert!(shown.contains("****"), "{shown}");
        }
    }

    #[test]
    fn parses_the_emulator_form() {
        let text = format!(
            "Endpoint=sb://127.0.0.1:5300;SharedAccessKeyName=k;SharedAccessKey={KEY};UseDevelopmentEmulator=true"
        );
        let c = ConnString::parse(&text).unwrap();
        assert_eq!((c.host.as_str(), c.emulator), ("127.0.0.1", Some(5300)));
        assert!(c.to_string().contains("UseDevelopmentEmulator=true"));
    }

    #[test]
    fn errors_name_the_missing_part_and_never_the_key() {
        let cases = [
            (format!("SharedAccessKeyName=k;SharedAccessKey={KEY}"), "no Endpoint"),
            (
                format!("Endpoint=https://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey={KEY}"),
                "sb://",
            ),
            (format!("Endpoint=sb://x.servicebus.windows.net/;SharedAccessKey={KEY}"), "SharedAccessKeyName"),
            ("Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k".to_string(), "no SharedAccessKey"),
            (
                format!("Endpoint=sb://example.com/;SharedAccessKeyName=k;SharedAccessKey={KEY}"),
                "UseDevelopmentEmulator",
            ),
            ("Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;c2VjcmV0".to_string(), "Key=Value"),
        ];
        for (text, want) in cases {
            let e = ConnString::parse(&text).unwrap_err();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains(KEY) && !e.contains("c2VjcmV0"), "{e}");
        }
    }
}
