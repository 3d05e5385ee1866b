#!/usr/bin/env python3
"""Records the replies of a real redis-server 7.0 to the commands in transcripts/*.txt.

Each transcript holds command lines; this script rewrites it with a `< reply` line
(the exact RESP bytes, escaped) after each command. Usage, with a server on a port:
    redis-server --port 7379 --save '' --appendonly no &
    python3 record_transcripts.py 7379 transcripts/*.txt
"""
import shlex
import socket
import sys


def escape(data: bytes) -> str:
    out = []
    for b in data:
        if b == 0x5C:
            out.append("\\\\")
        elif b == 0x0D:
            out.append("\\r")
        elif b == 0x0A:
            out.append("\\n")
        elif 0x20 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return "".join(out)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def _exact(self, n):
        while len(self.buf) < n:
            self.buf += self.sock.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def reply(self):
        line = self._line()
        kind = line[:1]
        if kind in (b"$", b"="):
            n = int(line[1:-2])
            return line if n < 0 else line + self._exact(n + 2)
        if kind in (b"*", b"~", b">"):
            n = int(line[1:-2])
            return line + b"".join(self.reply() for _ in range(max(n, 0)))
        if kind == b"%":
            n = int(line[1:-2])
            return line + b"".join(self.reply() for _ in range(2 * n))
        return line

    def call(self, args):
        msg = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            msg += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(msg)
        return self.reply()


def main():
    port = int(sys.argv[1])
    for path in sys.argv[2:]:
        conn = Conn(port)
        conn.call(["FLUSHALL"])
        conn.call(["CONFIG", "SET", "maxmemory-samples", "5"])
        lines = [l for l in open(path).read().splitlines() if not l.startswith("< ")]
        out = []
        for line in lines:
            out.append(line)
            if not line.strip() or line.startswith("#"):
                continue
            reply = escape(conn.call(shlex.split(line)))
            # HELLO's reply carries the server's client id, which differs between
            # servers: it is executed but not compared.
            out.append("< (any)" if line.upper().startswith("HELLO") else "< " + reply)
        open(path, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
