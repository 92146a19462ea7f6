//! Keeps passwords out of output: masks the password in broker URLs and connection strings.

/// `amqp://user:secret@host/vhost` -> `amqp://user:****@host/vhost`; Service Bus `SharedAccessKey=...` -> `SharedAccessKey=****`.
pub fn mask_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..].find('/').map(|i| rest_start + i).unwrap_or(out.len());
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let at = rest_start + at;
            if let Some(colon) = out[rest_start..at].find(':') {
                let colon = rest_start + colon;
                out.replace_range(colon + 1..at, "****");
            }
        }
    }
    for key in ["SharedAccessKey=", "Password=", "password="] {
        if let Some(i) = out.find(key) {
            let start = i + key.len();
            let end = out[start..].find(';').map(|j| start + j).unwrap_or(out.len());
            out.replace_range(start..end, "****");
        }
    }
    out
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
    use super::{mask_url, scrub};

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
}
