//! Keeps passwords out of output: masks, by position, whatever in a broker value could be a password or a token.
//!
//! One function decides what is secret ([`mask_url`]); the others apply it to a `--set` flag and to the `[broker]`
//! table of a scenario's TOML, which is how every report, page, comparison and baseline gets its scenario text.

/// Masks by position, not by recognising a scheme: the userinfo before the last `@` (`amqp://user:pw@host` ->
/// `amqp://user:****@host`; scheme-less `user:pw@host:5672` -> `user:****@host:5672`; a user-only token
/// `amqp://token@host` -> `amqp://****@host`), and the values of `SharedAccessKey=`, `SharedAccessSignature`,
/// `Password=` and `sig=` (Service Bus connection strings and SAS tokens), whatever their case.
pub fn mask_url(text: &str) -> String {
    let mut out = mask_userinfo(text);
    mask_keyed(&mut out);
    out
}

fn mask_userinfo(text: &str) -> String {
    let Some(at) = text.rfind('@') else {
        return text.to_string();
    };
    let start = text.find("://").filter(|&i| i + 3 <= at).map_or(0, |i| i + 3);
    let userinfo = &text[start..at];
    let masked = match userinfo.find(':') {
        Some(colon) => format!("{}:****", &userinfo[..colon]),
        None if userinfo.is_empty() => return text.to_string(),
        None => "****".to_string(),
    };
    format!("{}{masked}{}", &text[..start], &text[at..])
}

/// `(key, characters that end its value)`. A key matches in any case; `SharedAccessKeyName=` is not `SharedAccessKey=`.
const KEYED: [(&str, &[char]); 4] =
    [("sharedaccesskey=", &[';']), ("sharedaccesssignature", &[';']), ("password=", &[';']), ("sig=", &[';', '&'])];

fn mask_keyed(out: &mut String) {
    for (key, ends) in KEYED {
        let mut from = 0;
        while let Some(i) = out.to_ascii_lowercase()[from..].find(key).map(|i| from + i) {
            let mut start = i + key.len();
            // `SharedAccessSignature=...` and the token form `SharedAccessSignature sr=...`.
            start +=
                out[start..].chars().take_while(|c| *c == '=' || c.is_whitespace()).map(char::len_utf8).sum::<usize>();
            let end = out[start..].find(ends).map_or(out.len(), |j| start + j);
            from = start;
            if start < end {
                out.replace_range(start..end, "****");
                from += 4;
            }
        }
    }
}

/// Whether `path` (`broker.url`, `broker`, `broker.tls.key`) names a value under `[broker]`.
pub fn under_broker(path: &str) -> bool {
    let p = path.trim();
    p == "broker" || p.starts_with("broker.") || p.starts_with("broker[")
}

/// A `--set key.path=value` flag as it may be recorded or shown: a `[broker]` value masked with [`mask_url`].
pub fn mask_set(flag: &str) -> String {
    match flag.split_once('=') {
        Some((path, value)) if under_broker(path) => format!("{path}={}", mask_url(value)),
        Some(_) => flag.to_string(),
        None => mask_url(flag),
    }
}

/// A scenario's TOML with every string under `[broker]` (at any depth) passed through [`mask_url`]; the rest is
/// kept byte for byte, and text with nothing to mask comes back unchanged. Text that is not TOML is masked line by line.
pub fn mask_scenario_toml(text: &str) -> String {
    let Ok(mut doc) = text.parse::<toml_edit::DocumentMut>() else {
        return text.split_inclusive('\n').map(mask_url).collect();
    };
    let mut changed = false;
    if let Some(broker) = doc.get_mut("broker") {
        mask_item(broker, &mut changed);
    }
    if changed {
        doc.to_string()
    } else {
        text.to_string()
    }
}

fn mask_item(item: &mut toml_edit::Item, changed: &mut bool) {
    match item {
        toml_edit::Item::Value(v) => mask_value(v, changed),
        toml_edit::Item::Table(t) => t.iter_mut().for_each(|(_, i)| mask_item(i, changed)),
        toml_edit::Item::ArrayOfTables(a) => {
            a.iter_mut().for_each(|t| t.iter_mut().for_each(|(_, i)| mask_item(i, changed)))
        }
        toml_edit::Item::None => {}
    }
}

fn mask_value(v: &mut toml_edit::Value, changed: &mut bool) {
    match v {
        toml_edit::Value::String(s) => {
            let masked = mask_url(s.value());
            if masked != *s.value() {
                let decor = s.decor().clone();
                let mut fresh = toml_edit::Formatted::new(masked);
                *fresh.decor_mut() = decor;
                *s = fresh;
                *changed = true;
            }
        }
        toml_edit::Value::Array(a) => a.iter_mut().for_each(|v| mask_value(v, changed)),
        toml_edit::Value::InlineTable(t) => t.iter_mut().for_each(|(_, v)| mask_value(v, changed)),
        _ => {}
    }
}

/// `text` with every occurrence of `secret` replaced by `****` (for messages from libraries that might echo it).
pub fn scrub(text: &str, secret: &str) -> String {
    if secret.len() < 2 {
        return text.to_string();
    }
    text.replace(secret, "****")
}

#[cfg(test)]
mod tests {
    use super::{mask_scenario_toml, mask_set, mask_url, scrub};

    #[test]
    fn scrubs_a_secret_wherever_it_appears() {
        assert_eq!(scrub("auth failed for hunter2 (hunter2)", "hunter2"), "auth failed for **** (****)");
        assert_eq!(scrub("nothing here", ""), "nothing here");
    }

    #[test]
    fn masks_passwords() {
        assert_eq!(mask_url("amqp://guest:guest@127.0.0.1:5672/%2f"), "amqp://guest:****@127.0.0.1:5672/%2f");
        assert_eq!(mask_url("amqp://127.0.0.1:5672"), "amqp://127.0.0.1:5672");
        assert_eq!(
            mask_url(
                "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=abc+/=;EntityPath=q"
            ),
            "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=****;EntityPath=q"
        );
    }

    #[test]
    fn masks_by_position_whatever_the_form() {
        for (text, masked) in [
            ("user:s3cr3t@host:5672", "user:****@host:5672"),
            ("amqp://s3cr3t@host/", "amqp://****@host/"),
            ("s3cr3t@host", "****@host"),
            ("amqp://u:pa/ss@w@rd@host/v", "amqp://u:****@host/v"),
            ("amqp://:s3cr3t@host", "amqp://:****@host"),
            ("amqps://u:s3cr3t@host?heartbeat=5", "amqps://u:****@host?heartbeat=5"),
            ("@host", "@host"),
            (
                "Endpoint=sb://n.servicebus.windows.net/;sharedaccesskey=s3cr3t",
                "Endpoint=sb://n.servicebus.windows.net/;sharedaccesskey=****",
            ),
            (
                "Endpoint=sb://n/;SharedAccessSignature=SharedAccessSignature sr=n&sig=s3cr3t&se=1;EntityPath=q",
                "Endpoint=sb://n/;SharedAccessSignature=****;EntityPath=q",
            ),
            ("SharedAccessSignature sr=n&sig=s3cr3t&se=1&skn=k", "SharedAccessSignature ****"),
            ("https://n.servicebus.windows.net/q?sig=s3cr3t&se=1", "https://n.servicebus.windows.net/q?sig=****&se=1"),
            ("Password=s3cr3t;Password=s3cr3t", "Password=****;Password=****"),
        ] {
            assert_eq!(mask_url(text), masked, "{text}");
            assert_eq!(mask_url(masked), masked, "masking is idempotent: {masked}");
        }
    }

    #[test]
    fn masks_broker_flags_only() {
        assert_eq!(mask_set("broker.url=user:s3cr3t@h"), "broker.url=user:****@h");
        assert_eq!(mask_set("broker={ url = \"amqp://s3cr3t@h\" }"), "broker={ url = \"amqp://****@h\" }");
        assert_eq!(mask_set("description=ops@example.com"), "description=ops@example.com");
        assert_eq!(mask_set("broker.url:amqp://u:s3cr3t@h"), "broker.url:amqp://u:****@h");
    }

    #[test]
    fn masks_every_string_under_broker_and_keeps_the_rest_byte_for_byte() {
        let text = "name = \"a@b\" # me\n[broker]\nkind = \"embedded\"\nurl = \"u:s3cr3t@h\"  # here\n\
                    tls = { ca = \"x\", key = \"amqp://s3cr3t@h\" }\n[queue]\nname = \"q\"\n";
        let masked = mask_scenario_toml(text);
        assert_eq!(
            masked,
            "name = \"a@b\" # me\n[broker]\nkind = \"embedded\"\nurl = \"u:****@h\"  # here\n\
             tls = { ca = \"x\", key = \"amqp://****@h\" }\n[queue]\nname = \"q\"\n"
        );
        assert_eq!(mask_scenario_toml(&masked), masked);
        let plain = "[broker]\nkind = 'embedded'\n";
        assert_eq!(mask_scenario_toml(plain), plain);
        assert_eq!(mask_scenario_toml("broker = [\"u:s3cr3t@h\"]\n"), "broker = [\"u:****@h\"]\n");
        assert_eq!(mask_scenario_toml("[broker\nurl = \"u:s3cr3t@h\"\n"), "[broker\nurl = \"u:****@h\"\n");
    }
}
