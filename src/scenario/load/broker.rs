//! The `[broker]` and `[queue]` tables, and the rules that tie a real broker to the rest of the scenario.

use super::super::node::{Node, NodeValue};
use super::super::reader::{Errs, TableReader};
use super::super::*;

pub(super) fn broker(mut r: TableReader) -> BrokerCfg {
    use BrokerKind::*;
    let kind = r.choice("kind", &[Embedded, Rabbitmq, Servicebus]).unwrap_or(Embedded);
    let default_clock = if kind == Embedded { ClockKind::Virtual } else { ClockKind::Real };
    let clock = r.choice("clock", &[ClockKind::Virtual, ClockKind::Real]).unwrap_or(default_clock);
    // `kind = "servicebus"` in virtual time is the embedded broker with Service Bus semantics.
    let modelled = clock == ClockKind::Virtual && kind == Servicebus;
    let default_semantics = if kind == Servicebus { Semantics::Servicebus } else { Semantics::Rabbitmq };
    let kind = if modelled { Embedded } else { kind };
    if clock == ClockKind::Virtual && kind != Embedded {
        let m = "broker.clock = \"virtual\" only works with the embedded broker: a real broker runs on wall-clock time";
        r.error("clock", format!("{m}; use clock = \"real\""));
    }
    let semantics = r.choice("semantics", &[Semantics::Rabbitmq, Semantics::Servicebus]).unwrap_or(default_semantics);
    if semantics != default_semantics && kind != Embedded {
        let m = format!(
            "broker.semantics chooses what the embedded broker models; a real {} broker has its own. Remove it, or \
             set broker.kind = \"embedded\"",
            if kind == Servicebus { "Service Bus" } else { "RabbitMQ" }
        );
        r.error("semantics", m);
    }
    let time_scale = r.f64_where("time_scale", |v| v > 0.0 && v <= 1e6, "must be greater than 0 and at most 1000000");
    let time_scale = time_scale.unwrap_or(1.0);
    let url = url(&mut r, kind);
    let tls = r.table("tls").map(|mut t| {
        let mut file = |key: &'static str| {
            let path = t.str(key)?;
            let ok = std::path::Path::new(&path).is_file();
            t.check(key, ok, "must name a readable PEM file").then_some(path)
        };
        let tls = TlsCfg { ca: file("ca"), cert: file("cert"), key: file("key") };
        if tls.cert.is_some() != tls.key.is_some() && t.errs.clean(&["broker.tls"]) {
            let missing = if tls.cert.is_some() { "key" } else { "cert" };
            let m = format!("broker.tls: a client certificate needs both `cert` and `key`; add `{missing}`");
            t.error(missing, m);
        }
        t.finish();
        tls
    });
    if let (Some(_), Some(u)) = (&tls, url.as_deref()) {
        if !u.trim_start().starts_with("amqps://") {
            r.error(
                "tls",
                "broker.tls only applies to amqps:// URLs; use an amqps:// url or remove [broker.tls]".into(),
            );
        }
    }
    let connect_timeout = r.dur_pos("connect_timeout").unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let drain_timeout = r.dur_pos("drain_timeout").unwrap_or(DEFAULT_DRAIN_TIMEOUT);
    let via_proxy = r.bool("via_proxy").unwrap_or(false);
    if via_proxy && kind == Embedded {
        r.error(
            "via_proxy",
            "broker.via_proxy routes a real broker's connections through the fault proxy; the \
                 embedded broker has none. Remove it or set broker.kind = \"rabbitmq\""
                .into(),
        );
    }
    let confirm_latency = r.dur("confirm_latency").unwrap_or_default();
    if !confirm_latency.is_zero() && kind != Embedded {
        let m = "broker.confirm_latency models the embedded broker's publisher confirms; a real broker confirms in \
                 its own time (producers.confirm_window bounds it there). Remove it, or set broker.kind = \"embedded\"";
        r.error("confirm_latency", m.into());
    }
    r.finish();
    let c = confirm_latency;
    BrokerCfg {
        kind,
        semantics,
        clock,
        time_scale,
        url,
        tls,
        connect_timeout,
        drain_timeout,
        via_proxy,
        confirm_latency: c,
    }
}

/// `broker.url`, checked without ever echoing it (it may carry a password).
fn url(r: &mut TableReader, kind: BrokerKind) -> Option<String> {
    let node = r.get("url")?;
    let NodeValue::Str(text) = &node.value else {
        r.errs.at(
            &r.child("url"),
            Some(node),
            None,
            "broker.url must be a string like \"amqp://host:5672/%2f\"".into(),
        );
        return None;
    };
    if kind == BrokerKind::Rabbitmq {
        if let Err(why) = crate::amqp_url::AmqpUrl::parse(text) {
            r.errs.at(&r.child("url"), Some(node), None, format!("broker.url: {why}"));
            return None;
        }
    }
    if kind == BrokerKind::Servicebus {
        // The error names the part that is wrong, never the key.
        if let Err(why) = crate::broker::servicebus::ConnString::parse(text) {
            r.errs.at(&r.child("url"), Some(node), None, format!("broker.url: {why}"));
            return None;
        }
    }
    Some(text.clone())
}

pub(super) fn queue(mut r: TableReader) -> QueueCfg {
    let name = r.str("name").unwrap_or_else(|| "loadtest".to_string());
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let rule = "must be non-empty and use only letters, digits, `.`, `_` and `-`";
    r.check("name", !name.is_empty() && name.chars().all(valid), rule);
    r.check("name", name.len() <= 200, "must be at most 200 characters (RabbitMQ names take 255 bytes with suffixes)");
    let max_delivery_count = r.u32("max_delivery_count", 1);
    let message_ttl = r.dur_pos("message_ttl");
    let max_length = r.u64("max_length", 1);
    let overflow = r.choice("overflow", &[Overflow::DropHead, Overflow::RejectPublish, Overflow::Block]);
    let overflow = overflow.unwrap_or(Overflow::DropHead);
    let queue_type = r.choice("type", &[QueueType::Classic, QueueType::Quorum]).unwrap_or_default();
    let reuse = r.bool("reuse").unwrap_or(false);
    let lock_duration = r.dur_pos("lock_duration");
    let lock_rule = "must be at most 5 minutes (Service Bus's maximum LockDuration)";
    let lock_duration = lock_duration.filter(|d| r.check("lock_duration", *d <= MAX_LOCK_DURATION, lock_rule));
    let max_auto_lock_renewal = r.dur("max_auto_lock_renewal");
    let dead_lettering_on_message_expiration = r.bool("dead_lettering_on_message_expiration").unwrap_or(false);
    r.finish();
    QueueCfg {
        name,
        max_delivery_count,
        message_ttl,
        max_length,
        overflow,
        queue_type,
        reuse,
        lock_duration,
        max_auto_lock_renewal,
        dead_lettering_on_message_expiration,
    }
}

/// Service Bus semantics fill in Service Bus's defaults (LockDuration 60 s, MaxDeliveryCount 10, renewal 5 min), so
/// that the resolved scenario says what ran.
pub(super) fn servicebus_defaults(b: &BrokerCfg, q: &mut QueueCfg) {
    if b.semantics != Semantics::Servicebus {
        return;
    }
    q.lock_duration.get_or_insert(DEFAULT_LOCK_DURATION);
    q.max_auto_lock_renewal.get_or_insert(DEFAULT_MAX_AUTO_LOCK_RENEWAL);
    q.max_delivery_count.get_or_insert(DEFAULT_SERVICEBUS_MAX_DELIVERY_COUNT);
}

/// Rules that only a real broker imposes, and the produce-only mode.
pub(super) fn real_broker_rules(
    errs: &Errs,
    tree: &Node,
    b: &BrokerCfg,
    q: &QueueCfg,
    c: &ConsumerCfg,
    duration: Option<Dur>,
    faults: &[Fault],
) {
    let at = |path: &[&str]| tree.get_path(path);
    let section = |name: &str| tree.get(name);
    let real = b.kind != BrokerKind::Embedded;
    if b.kind == BrokerKind::Rabbitmq && q.max_delivery_count.is_some() && q.queue_type == QueueType::Classic {
        let m = "queue.max_delivery_count needs a quorum queue on RabbitMQ (x-delivery-limit; classic queues do not \
                 count deliveries); set queue.type = \"quorum\"";
        errs.at("queue.max_delivery_count", at(&["queue", "max_delivery_count"]), section("queue"), m.into());
    }
    if c.count == 0 && errs.clean(&["consumers.count"]) {
        let node = at(&["consumers", "count"]);
        if !real {
            let m = "consumers.count = 0 (produce-only) leaves nobody to consume the embedded broker's queue; \
                     set consumers.count to at least 1, or run against a real broker whose queue your own service \
                     consumes (broker.kind = \"rabbitmq\", queue.reuse = true)";
            errs.at("consumers.count", node, section("consumers"), m.into());
        } else if !q.reuse {
            let m = "consumers.count = 0 (produce-only) publishes into a queue that your own service consumes, so \
                     loadtest must not invent a per-run queue name: pin queue.name and set queue.reuse = true \
                     (or pass --reuse-queue)";
            errs.at("consumers.count", node, section("consumers"), m.into());
        } else if duration.is_none() {
            let m = "consumers.count = 0 (produce-only) ends when your consumers have drained the queue, so a run \
                     whose queue never drains needs a bound: set duration (e.g. duration = \"30m\")";
            errs.at("duration", tree.get("duration"), section("consumers"), m.into());
        }
    }
    let proxied = b.via_proxy || faults.iter().any(|f| matches!(f, Fault::Network { .. }));
    if proxied && b.kind == BrokerKind::Servicebus {
        let m = "the fault proxy (network faults, broker.via_proxy) forwards AMQP; the Service Bus backend speaks \
                 HTTPS to the namespace, so remove the network faults and broker.via_proxy for kind = \"servicebus\"";
        errs.at("broker.via_proxy", at(&["broker", "via_proxy"]), section("broker"), m.into());
    }
    if proxied && b.url.as_deref().is_some_and(|u| u.trim_start().starts_with("amqps://")) {
        let m = "the fault proxy (network faults, broker.via_proxy) forwards plain AMQP only: over TLS the broker's \
                 certificate would not match the proxy's loopback address. Use an amqp:// url for chaos runs";
        errs.at("broker.url", at(&["broker", "url"]), section("broker"), m.into());
    }
    if q.overflow == Overflow::Block && real {
        let m = "queue.overflow = \"block\" is modelled by the embedded broker only: a real broker has no blocking \
                 overflow (RabbitMQ holds publishers back with connection.blocked on a memory or disk alarm, and the \
                 confirm window bounds them). Use overflow = \"reject-publish\" (a full queue refuses the publish), or \
                 remove it and let producers.confirm_window bound the publisher";
        errs.at("queue.overflow", at(&["queue", "overflow"]), section("queue"), m.into());
    }
    if q.reuse && !real {
        let m = "queue.reuse uses an existing queue of a real broker; the embedded broker has none. Remove it or set \
                 broker.kind = \"rabbitmq\"";
        errs.at("queue.reuse", at(&["queue", "reuse"]), section("queue"), m.into());
    }
}
