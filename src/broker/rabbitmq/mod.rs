//! RabbitMQ through lapin (in progress).
