#!/usr/bin/env python3
"""Sends each hostile input to one or more HTTP servers and prints what each answered.

Usage: hardening_attacks.py [--markdown] NAME=HOST:PORT [NAME=HOST:PORT ...]

Every attack runs on a fresh connection: the bytes are sent, then the script reads until the
server closes or `--wait` seconds pass. The answer is the status line of the first response (and
of a second one, if the server answered twice), plus "closed" when the server closed the
connection within the wait, or "open" when it was still open. Loopback only.
"""
import argparse
import socket
import sys
import time

H = "Host: x\r\n"

def req(head, body=b""):
    return head.encode("latin-1") + body

ATTACKS = [
    # (name, bytes, what a careful proxy should do)
    ("well-formed GET (control)", req("GET / HTTP/1.1\r\n" + H + "\r\n"), "200, stays open"),
    ("Content-Length + Transfer-Encoding", req("POST / HTTP/1.1\r\n" + H + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), "400, close"),
    ("two different Content-Length fields", req("POST / HTTP/1.1\r\n" + H + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"), "400, close"),
    ("Content-Length list 5, 6", req("POST / HTTP/1.1\r\n" + H + "Content-Length: 5, 6\r\n\r\nhello!"), "400, close"),
    ("two equal Content-Length fields", req("POST / HTTP/1.1\r\n" + H + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"), "200 or 400"),
    ("Content-Length +5", req("POST / HTTP/1.1\r\n" + H + "Content-Length: +5\r\n\r\nhello"), "400, close"),
    ("Content-Length -1", req("POST / HTTP/1.1\r\n" + H + "Content-Length: -1\r\n\r\n"), "400, close"),
    ("Content-Length 5x", req("POST / HTTP/1.1\r\n" + H + "Content-Length: 5x\r\n\r\nhello"), "400, close"),
    ("Content-Length huge (2^64)", req("POST / HTTP/1.1\r\n" + H + "Content-Length: 18446744073709551616\r\n\r\n"), "400 or 413, close"),
    ("Transfer-Encoding: gzip (final not chunked)", req("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip\r\n\r\nabc"), "400 or 501, close"),
    ("Transfer-Encoding: chunked, gzip", req("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"), "400, close"),
    ("Transfer-Encoding: gzip, chunked", req("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"), "501 (or 400), close"),
    ("Transfer-Encoding: xchunked", req("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"), "400 or 501, close"),
    ("Transfer-Encoding: chunked twice (two fields)", req("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), "400, close"),
    ("Transfer-Encoding with space before colon", req("POST / HTTP/1.1\r\n" + H + "Content-Length: 4\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"), "400, close"),
    ("Transfer-Encoding in HTTP/1.0", req("POST / HTTP/1.0\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), "400, close"),
    ("obs-fold (continuation line)", req("GET / HTTP/1.1\r\n" + H + "X-A: a\r\n b\r\n\r\n"), "400, close"),
    ("bare CR in a header value", req("GET / HTTP/1.1\r\n" + H + "X-A: a\rb\r\n\r\n"), "400, close"),
    ("bare LF line endings", req("GET / HTTP/1.1\n" + "Host: x\n\n"), "400 (or 200)"),
    ("NUL in a header value", req("GET / HTTP/1.1\r\n" + H + "X-A: a\x00b\r\n\r\n"), "400, close"),
    ("control byte 0x01 in a header value", req("GET / HTTP/1.1\r\n" + H + "X-A: a\x01b\r\n\r\n"), "400, close"),
    ("DEL in a header value", req("GET / HTTP/1.1\r\n" + H + "X-A: a\x7fb\r\n\r\n"), "400, close"),
    ("NUL in the URI", req("GET /a\x00b HTTP/1.1\r\n" + H + "\r\n"), "400, close"),
    ("space in a header name", req("GET / HTTP/1.1\r\n" + H + "X A: b\r\n\r\n"), "400, close"),
    ("bad chunk size zz", req("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"), "400, close"),
    ("chunk size overflow (17 hex digits)", req("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nhello\r\n0\r\n\r\n"), "400, close"),
    ("chunk size -5", req("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"), "400, close"),
    ("chunk extension with a control byte", req("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5;a\x01=b\r\nhello\r\n0\r\n\r\n"), "400, close"),
    ("chunk extension a=b (legal)", req("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\n\r\n"), "200"),
    ("chunk data longer than its size", req("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"), "400, close"),
    ("chunk size with LF only", req("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"), "400, close"),
    ("HTTP/1.1 without Host", req("GET / HTTP/1.1\r\n\r\n"), "400, close"),
    ("two Host fields", req("GET / HTTP/1.1\r\n" + H + "Host: y\r\n\r\n"), "400, close"),
    ("version HTTP/2.0 on HTTP/1", req("GET / HTTP/2.0\r\n" + H + "\r\n"), "400 or 505, close"),
    ("version HTTP/1.1x", req("GET / HTTP/1.1x\r\n" + H + "\r\n"), "400, close"),
    ("method with a control byte", req("G\x01T / HTTP/1.1\r\n" + H + "\r\n"), "400, close"),
    ("URI of 9 KiB", req("GET /" + "a" * 9216 + " HTTP/1.1\r\n" + H + "\r\n"), "414"),
    ("header fields of 40 KiB", req("GET / HTTP/1.1\r\n" + H + "".join("X-F%d: %s\r\n" % (i, "v" * 1000) for i in range(40)) + "\r\n"), "431 (nginx: 400)"),
    ("one header field of 40 KiB", req("GET / HTTP/1.1\r\n" + H + "X-Big: " + "v" * 40960 + "\r\n\r\n"), "431 (nginx: 400)"),
    ("150 header fields", req("GET / HTTP/1.1\r\n" + H + "".join("X-F%d: v\r\n" % i for i in range(150)) + "\r\n"), "431"),
    ("TLS ClientHello on a plain port", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64, "400, close"),
    ("random binary garbage", bytes(range(256)) * 4, "400, close"),
    ("smuggled second request behind CL+TE", req("POST / HTTP/1.1\r\n" + H + "Content-Length: 35\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"), "one 400, close"),
    ("partial head, then silence", req("GET / HTTP/1.1\r\n" + H + "X-Slow: 1"), "408 or close after header-timeout"),
]

def exchange(host, port, data, wait):
    s = socket.create_connection((host, port), timeout=wait)
    s.settimeout(wait)
    try:
        s.sendall(data)
    except OSError as e:
        return "send failed (%s)" % e.__class__.__name__
    received = b""
    state = "open"
    deadline = time.time() + wait
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            state = "reset"
            break
        if not chunk:
            state = "closed"
            break
        received += chunk
        # A complete response to a request that keeps the connection: stop waiting.
        if received.count(b"\r\n\r\n") >= 1 and b"Connection: close" not in received and state == "open":
            s.settimeout(0.3)
    s.close()
    statuses = [line.split(b" ", 2)[1].decode() if len(line.split(b" ", 2)) > 1 else "?"
                for line in received.split(b"\r\n") if line.startswith(b"HTTP/1.")]
    answer = ", ".join(statuses) if statuses else "no answer"
    return "%s, %s" % (answer, state)

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--wait", type=float, default=2.0)
    parser.add_argument("--slow-wait", type=float, default=5.0, help="wait for the partial-head attack")
    parser.add_argument("targets", nargs="+")
    args = parser.parse_args()
    targets = []
    for target in args.targets:
        name, address = target.split("=", 1)
        host, port = address.rsplit(":", 1)
        targets.append((name, host, int(port)))
    if args.markdown:
        print("| attack | expected | " + " | ".join(t[0] for t in targets) + " |")
        print("| --- | --- | " + " | ".join("---" for _ in targets) + " |")
    for name, data, expected in ATTACKS:
        wait = args.slow_wait if name.startswith("partial head") else args.wait
        answers = [exchange(host, port, data, wait) for _, host, port in targets]
        if args.markdown:
            print("| %s | %s | %s |" % (name, expected, " | ".join(answers)))
        else:
            print("%-48s %-22s %s" % (name, expected, "   ".join("%s: %s" % (t[0], a) for t, a in zip(targets, answers))))
        sys.stdout.flush()

if __name__ == "__main__":
    main()
