"""Python pika BlockingConnection publish-then-consume loop against RabbitMQ, for context beside the bare lapin loop.

Publishes N x SIZE B persistent messages with publisher confirms (pika's BlockingChannel waits for each confirm
before returning from basic_publish), then consumes them with one basic_ack per message, and prints msg/s and
process CPU per message for each phase, then a one-line JSON result. Uses its own durable queue and deletes it at
the end, also on error. Needs `pip install pika`; exits 0 with a note when RabbitMQ does not answer within 3 s.

    python3 benches/pika_loop.py [--messages N] [--size BYTES] [--prefetch N] [--url URL]
"""

import argparse
import json
import os
import sys
import time

import pika
import pika.exceptions


def params(url, name):
    p = pika.URLParameters(url)
    p.client_properties = {"connection_name": name}
    p.socket_timeout = 3
    p.connection_attempts = 1
    return p


def timed(phase):
    """Runs phase(); returns (seconds, CPU seconds) it took."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    phase()
    return time.perf_counter() - wall0, time.process_time() - cpu0


def publish(url, queue, messages, size):
    connection = pika.BlockingConnection(params(url, "bare-bench-pika-publisher"))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        body = bytes(size)
        persistent = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
        for _ in range(messages):
            # Returns once the broker confirmed; a nack raises NackError.
            channel.basic_publish(exchange="", routing_key=queue, body=body, properties=persistent)
    finally:
        connection.close()


def consume(url, queue, messages, prefetch):
    connection = pika.BlockingConnection(params(url, "bare-bench-pika-consumer"))
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=prefetch)
        received = 0
        for method, _properties, _body in channel.consume(queue, inactivity_timeout=15):
            if method is None:
                raise RuntimeError(f"stalled: {received} of {messages} messages arrived")
            channel.basic_ack(method.delivery_tag)
            received += 1
            if received == messages:
                break
        channel.cancel()
    finally:
        connection.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--prefetch", type=int, default=50)
    ap.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    args = ap.parse_args()

    try:
        admin = pika.BlockingConnection(params(args.url, "bare-bench-pika-admin"))
    except pika.exceptions.AMQPConnectionError as e:
        print(json.dumps({"tool": "pika", "skipped": f"no RabbitMQ at {args.url}: {e!r}"}))
        return 0
    queue = f"bare-bench-pika-{os.getpid()}-{time.time_ns()}"
    try:
        channel = admin.channel()
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "classic"})
        pub_s, pub_cpu = timed(lambda: publish(args.url, queue, args.messages, args.size))
        print(f"pika publish  {args.messages} msgs in {pub_s:.2f} s  {args.messages / pub_s:.0f} msg/s  "
              f"{pub_cpu * 1e6 / args.messages:.1f} us/msg cpu", file=sys.stderr)
        con_s, con_cpu = timed(lambda: consume(args.url, queue, args.messages, args.prefetch))
        print(f"pika consume  {args.messages} msgs in {con_s:.2f} s  {args.messages / con_s:.0f} msg/s  "
              f"{con_cpu * 1e6 / args.messages:.1f} us/msg cpu", file=sys.stderr)
    finally:
        try:
            admin.channel().queue_delete(queue)
        finally:
            admin.close()
    print(json.dumps({
        "tool": "pika",
        "pika": pika.__version__,
        "messages": args.messages,
        "size": args.size,
        "publish_msgs_per_s": round(args.messages / pub_s, 1),
        "publish_cpu_us_per_msg": round(pub_cpu * 1e6 / args.messages, 1),
        "consume_msgs_per_s": round(args.messages / con_s, 1),
        "consume_cpu_us_per_msg": round(con_cpu * 1e6 / args.messages, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
