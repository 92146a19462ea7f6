//! Integration tests against the real RabbitMQ at 127.0.0.1:5672 (guest/guest). They run when it is reachable, skip
//! with a visible reason when it is not, and fail when `CI` is set and it is down. Each run has its own queues and
//! connections (names carry a run id); tests that change the broker put it back as they found it.

mod support;

mod broker_faults;
mod chaos;
mod dlq;
mod failures;
mod network;
mod produce_only;
mod pubsub;
mod runs;
mod storm;
mod tls;
