#!/usr/bin/env python3
"""Peers benchmark (not run in CI): the same M/M/4 queue in SimPy and in loadtest, alternating run by run.

M/M/4 with Poisson arrivals at 3,200/s, exponential service with a 1 ms mean, 1,000,000 customers; theory (Erlang C)
gives a mean time in system of W = 1.7455 ms. Prints each run's wall time and mean sojourn time, then the medians and
the ratio SimPy / loadtest.

    pip3 install simpy
    cargo build --release
    python3 benches/peers/mm4.py [--rounds 3] [--customers 1000000] [--loadtest target/release/loadtest]
"""
import argparse
import json
import math
import os
import random
import statistics
import subprocess
import tempfile
import time

import simpy

LAMBDA, MU, SERVERS = 3200.0, 1000.0, 4
HERE = os.path.dirname(os.path.abspath(__file__))


def erlang_c_sojourn(lam, mu, c):
    a = lam / mu
    rho = a / c
    below = sum(a**k / math.factorial(k) for k in range(c))
    top = a**c / math.factorial(c) / (1 - rho)
    return top / (below + top) / (c * mu - lam) + 1 / mu


def simpy_run(customers, seed):
    """Wall seconds and mean sojourn (ms) of the M/M/4 queue in SimPy."""
    rng = random.Random(seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=SERVERS)
    total = [0.0]

    def customer():
        arrived = env.now
        with servers.request() as req:
            yield req
            yield env.timeout(rng.expovariate(MU))
        total[0] += env.now - arrived

    def source():
        for _ in range(customers):
            yield env.timeout(rng.expovariate(LAMBDA))
            env.process(customer())

    t = time.perf_counter()
    env.process(source())
    env.run()
    return time.perf_counter() - t, total[0] / customers * 1e3


def loadtest_run(binary, customers):
    """Wall seconds (the whole `loadtest run`, report folder included) and mean latency (ms) from summary.json."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "run")
        t = time.perf_counter()
        subprocess.run(
            [binary, "run", os.path.join(HERE, "mm4.toml"), "--set", f"messages={customers}", "-q", "--out", out],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - t
        with open(os.path.join(out, "summary.json")) as f:
            return wall, json.load(f)["latency_ms"]["mean"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--customers", type=int, default=1_000_000)
    p.add_argument("--loadtest", default=os.path.join(HERE, "..", "..", "target", "release", "loadtest"))
    args = p.parse_args()
    theory = erlang_c_sojourn(LAMBDA, MU, SERVERS) * 1e3
    print(f"M/M/4, lambda {LAMBDA:.0f}/s, mean service {1e3 / MU:.1f} ms, {args.customers:,} customers: W = {theory:.4f} ms")
    sp, lt = [], []
    for r in range(args.rounds):
        s = simpy_run(args.customers, 2024 + r)
        l = loadtest_run(args.loadtest, args.customers)
        sp.append(s)
        lt.append(l)
        print(
            f"round {r + 1}: SimPy {s[0]:.2f} s (mean {s[1]:.4f} ms, {(s[1] / theory - 1) * 100:+.2f}%), "
            f"loadtest {l[0]:.2f} s (mean {l[1]:.4f} ms, {(l[1] / theory - 1) * 100:+.2f}%)"
        )
    s_wall, l_wall = statistics.median(t for t, _ in sp), statistics.median(t for t, _ in lt)
    s_mean, l_mean = statistics.median(m for _, m in sp), statistics.median(m for _, m in lt)
    print(f"median: SimPy {s_wall:.2f} s, loadtest {l_wall:.2f} s: loadtest is {s_wall / l_wall:.1f}x faster")
    print(f"mean sojourn: SimPy {s_mean:.4f} ms ({(s_mean / theory - 1) * 100:+.2f}%), "
          f"loadtest {l_mean:.4f} ms ({(l_mean / theory - 1) * 100:+.2f}%), theory {theory:.4f} ms")


if __name__ == "__main__":
    main()
