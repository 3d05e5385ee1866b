#!/usr/bin/env python3
"""Measures how much redis-server 7.0's used_memory grows when loading each reference
dataset, and writes the figures to memory_reference.txt for tests/memory.rs.

Each dataset is loaded into a freshly started server (no persistence) so earlier
allocations do not blur the delta. Usage: python3 record_memory.py [port]
The datasets are generated exactly as tests/memory.rs generates them.
"""
import socket
import subprocess
import sys
import time

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 7390


def datasets():
    yield "strings_100k_16b_keys_100b_values", (
        ["SET", "key:%012d" % i, "v" * 100] for i in range(100_000))
    yield "strings_100k_1000b_values", (
        ["SET", "key:%012d" % i, "v" * 1000] for i in range(100_000))
    yield "strings_100k_with_ttl", (
        ["SET", "key:%012d" % i, "v" * 100, "EX", "100000"] for i in range(100_000))
    yield "integers_100k", (
        ["SET", "key:%012d" % i, str(i)] for i in range(100_000))
    yield "hashes_10k_10_fields", (
        ["HSET", "hash:%08d" % i] + sum([["field:%d" % j, "value-%d-abcdef" % j] for j in range(10)], [])
        for i in range(10_000))
    yield "lists_10k_100_elements", (
        ["RPUSH", "list:%08d" % i] + ["element-%d" % j for j in range(100)] for i in range(10_000))
    yield "sets_10k_50_members", (
        ["SADD", "set:%08d" % i] + ["member:%d" % j for j in range(50)] for i in range(10_000))
    yield "zsets_10k_50_members", (
        ["ZADD", "zset:%08d" % i] + sum([[str(j), "member:%d" % j] for j in range(50)], [])
        for i in range(10_000))


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def used_memory(sock):
    sock.sendall(encode(["INFO", "memory"]))
    data = b""
    while b"used_memory:" not in data or not data.endswith(b"\r\n\r\n") and data.count(b"\r\n") < 5:
        data += sock.recv(65536)
    for line in data.split(b"\r\n"):
        if line.startswith(b"used_memory:"):
            return int(line.split(b":")[1])
    raise RuntimeError("no used_memory")


def drain(sock, replies):
    seen = 0
    buf = b""
    while seen < replies:
        buf += sock.recv(1 << 20)
        seen = buf.count(b"\r\n")
    return buf


def main():
    lines = []
    for name, commands in datasets():
        server = subprocess.Popen(["redis-server", "--port", str(PORT), "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL)
        time.sleep(0.3)
        sock = socket.create_connection(("127.0.0.1", PORT))
        before = used_memory(sock)
        batch = []
        for cmd in commands:
            batch.append(encode(cmd))
            if len(batch) == 1000:
                sock.sendall(b"".join(batch))
                drain(sock, len(batch))
                batch = []
        if batch:
            sock.sendall(b"".join(batch))
            drain(sock, len(batch))
        time.sleep(0.2)
        after = used_memory(sock)
        lines.append("%s %d" % (name, after - before))
        print(lines[-1])
        sock.close()
        server.terminate()
        server.wait()
    with open("memory_reference.txt", "w") as f:
        f.write("# used_memory growth (bytes) of redis-server 7.0.15 per dataset, by record_memory.py\n")
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
