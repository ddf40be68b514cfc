#!/usr/bin/env python3
"""h2spec-style HTTP/2 checks (RFC 9113, RFC 7541) against a live server.

Usage: h2checks.py HOST PORT (h2c|tls) INDEX_FILE

Each check opens its own connection (prior knowledge for h2c, ALPN h2 for
tls), sends raw frames and verifies what comes back, as h2spec does: a
connection error is a GOAWAY with one of the expected codes or the
connection closing; a stream error is a RST_STREAM with one of the
expected codes, or a connection error. Prints "PASS name" or
"FAIL name: why" per check and a count at the end; exits 1 if any
failed. Only the standard library: stdlib socket/ssl, a few HPACK
static-table bytes, no HPACK decoding (bodies are compared instead).
"""

import socket
import ssl
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x2, 0x3
STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, COMPRESSION_ERROR = 0x5, 0x6, 0x7, 0x9
TIMEOUT = 3.0


def frame(kind, flags, stream, payload=b""):
    n = len(payload)
    return struct.pack(">BHBBI", n >> 16, n & 0xFFFF, kind, flags, stream) + payload


def settings(*pairs):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def literal(name, value):
    """A literal field without indexing, new name (RFC 7541 §6.2.2)."""
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def request_block(method=b"GET", path=b"/", extra=b""):
    """A request header block: static-table pseudo-headers (RFC 7541 App. A)."""
    m = {b"GET": b"\x82", b"POST": b"\x83"}[method]
    p = b"\x84" if path == b"/" else b"\x04" + bytes([len(path)]) + path
    return m + b"\x86" + p + b"\x01\x09localhost" + extra


class Conn:
    def __init__(self, host, port, mode):
        raw = socket.create_connection((host, port), timeout=TIMEOUT)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if mode == "tls":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            raw = ctx.wrap_socket(raw, server_hostname="localhost")
            assert raw.selected_alpn_protocol() == "h2", raw.selected_alpn_protocol()
        self.sock = raw
        self.buf = b""
        self.closed = False

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def handshake(self, *pairs):
        """Preface and SETTINGS; waits for the server's SETTINGS and our ACK."""
        self.send(PREFACE + settings(*pairs))
        got_settings = got_ack = False
        while not (got_settings and got_ack):
            f = self.read()
            if f is None:
                raise AssertionError("no SETTINGS exchange")
            kind, flags, _, _ = f
            if kind == SETTINGS and not flags & ACK:
                got_settings = True
                self.send(frame(SETTINGS, ACK, 0))
            elif kind == SETTINGS:
                got_ack = True

    def read(self, timeout=TIMEOUT):
        """The next frame (kind, flags, stream, payload), or None on close/timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 9:
                n = (self.buf[0] << 16) | (self.buf[1] << 8) | self.buf[2]
                if len(self.buf) >= 9 + n:
                    kind, flags = self.buf[3], self.buf[4]
                    stream = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
                    payload = self.buf[9 : 9 + n]
                    self.buf = self.buf[9 + n :]
                    return kind, flags, stream, payload
            left = deadline - time.monotonic()
            if self.closed or left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except (OSError, ssl.SSLError):
                self.closed = True
                return None
            if not chunk:
                self.closed = True
                return None
            self.buf += chunk

    def expect(self, pred, what):
        while True:
            f = self.read()
            if f is None:
                raise AssertionError(f"{what}: {'closed' if self.closed else 'timed out'}")
            if pred(f):
                return f

    def conn_error(self, *codes):
        while True:
            f = self.read()
            if f is None:
                if self.closed:
                    return
                raise AssertionError(f"expected GOAWAY {codes} or close: timed out")
            if f[0] == GOAWAY:
                code = struct.unpack(">I", f[3][4:8])[0]
                assert code in codes, f"GOAWAY code {code:#x}, expected {codes}"
                return

    def stream_error(self, stream, *codes):
        while True:
            f = self.read()
            if f is None:
                if self.closed:
                    return
                raise AssertionError(f"expected RST_STREAM {codes} on {stream}: timed out")
            if f[0] == RST_STREAM and f[2] == stream:
                code = struct.unpack(">I", f[3][:4])[0]
                assert code in codes, f"RST_STREAM code {code:#x}, expected {codes}"
                return
            if f[0] == GOAWAY:
                code = struct.unpack(">I", f[3][4:8])[0]
                assert code in codes, f"GOAWAY code {code:#x}, expected {codes}"
                return

    def body(self, stream):
        """HEADERS then DATA until END_STREAM on `stream`; returns the body."""
        self.expect(lambda f: f[0] == HEADERS and f[2] == stream, f"HEADERS on {stream}")
        out = b""
        while True:
            f = self.expect(lambda f: f[0] == DATA and f[2] == stream, f"DATA on {stream}")
            out += f[3]
            if f[1] & END_STREAM:
                return out

    def alive(self):
        self.send(frame(PING, 0, 0, b"liveness"))
        self.expect(lambda f: f[0] == PING and f[1] & ACK and f[3] == b"liveness", "PING ACK")


CHECKS = []


def check(name):
    def wrap(fn):
        CHECKS.append((name, fn))
        return fn

    return wrap


@check("3.5 preface and SETTINGS exchange; GET / byte-exact")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block()))
    body = c.body(1)
    assert body == index, f"body of {len(body)} bytes differs"


@check("4.2 DATA of 2^14 octets is accepted")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_HEADERS, 1, request_block(b"POST")))
    c.send(frame(DATA, END_STREAM, 1, b"x" * 16384))
    c.expect(lambda f: f[0] == HEADERS and f[2] == 1, "HEADERS")


@check("4.2 DATA over SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_HEADERS, 1, request_block(b"POST")))
    c.send(frame(DATA, END_STREAM, 1, b"x" * 16385))
    c.stream_error(1, FRAME_SIZE_ERROR)


@check("4.2 HEADERS over SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR")
def _(c, index):
    c.handshake()
    block = request_block(extra=b"".join(literal(b"x-pad%03d" % i, b"y" * 100) for i in range(160)))
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
    c.conn_error(FRAME_SIZE_ERROR)


@check("5.1.1 even stream identifier: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 2, request_block()))
    c.conn_error(PROTOCOL_ERROR)


@check("5.1.1 stream identifier smaller than a previous one: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 5, request_block()))
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 3, request_block()))
    c.conn_error(PROTOCOL_ERROR)


@check("5.1 idle: DATA on an idle stream: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(DATA, END_STREAM, 1, b"x"))
    c.conn_error(PROTOCOL_ERROR)


@check("5.1.2 streams over SETTINGS_MAX_CONCURRENT_STREAMS are refused")
def _(c, index):
    c.handshake((4, 0))
    c.send(b"".join(frame(HEADERS, END_STREAM | END_HEADERS, 1 + 2 * i, request_block()) for i in range(129)))
    c.stream_error(1 + 2 * 128, PROTOCOL_ERROR, REFUSED_STREAM)


@check("5.5 unknown frame type is ignored")
def _(c, index):
    c.handshake()
    c.send(frame(0x16, 0, 0, b"unknown"))
    c.alive()


@check("6.1 DATA on stream 0: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(DATA, END_STREAM, 0, b"x"))
    c.conn_error(PROTOCOL_ERROR)


@check("6.2 HEADERS on stream 0: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 0, request_block()))
    c.conn_error(PROTOCOL_ERROR)


@check("6.4 RST_STREAM on an idle stream: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(RST_STREAM, 0, 1, struct.pack(">I", 8)))
    c.conn_error(PROTOCOL_ERROR)


@check("6.5.2 SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1: connection error")
def _(c, index):
    c.handshake()
    c.send(settings((4, 2**31)))
    # RFC 9113 asks for FLOW_CONTROL_ERROR; the h2 crate says PROTOCOL_ERROR
    # (one of its documented deviations, see the README).
    c.conn_error(FLOW_CONTROL_ERROR, PROTOCOL_ERROR)


@check("6.5.2 SETTINGS_MAX_FRAME_SIZE out of range: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(settings((5, 16383)))
    c.conn_error(PROTOCOL_ERROR)


@check("6.5.3 SETTINGS is acknowledged")
def _(c, index):
    c.handshake()
    c.send(settings((4, 100)))
    c.expect(lambda f: f[0] == SETTINGS and f[1] & ACK, "SETTINGS ACK")


@check("6.7 PING is answered with the same payload")
def _(c, index):
    c.handshake()
    c.alive()


@check("6.7 PING with ACK is not answered")
def _(c, index):
    c.handshake()
    c.send(frame(PING, ACK, 0, b"unsolici"))
    c.send(frame(PING, 0, 0, b"expected"))
    f = c.expect(lambda f: f[0] == PING, "PING ACK")
    assert f[3] == b"expected", f[3]


@check("6.7 PING on a stream: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(PING, 0, 1, b"12345678"))
    c.conn_error(PROTOCOL_ERROR)


@check("6.8 GOAWAY on a stream: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(GOAWAY, 0, 1, struct.pack(">II", 0, 0)))
    c.conn_error(PROTOCOL_ERROR)


@check("6.9 WINDOW_UPDATE of 0 on the connection: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0)))
    c.conn_error(PROTOCOL_ERROR)


@check("6.9.1 window of 1: one DATA frame of 1 octet")
def _(c, index):
    c.handshake((4, 1))
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block()))
    f = c.expect(lambda f: f[0] == DATA and f[2] == 1, "DATA")
    assert len(f[3]) == 1, f"DATA of {len(f[3])} octets"


@check("6.9.1 connection window over 2^31-1: FLOW_CONTROL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 2**31 - 1)))
    c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 2**31 - 1)))
    c.conn_error(FLOW_CONTROL_ERROR)


@check("6.9.1 stream window over 2^31-1: FLOW_CONTROL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_HEADERS, 1, request_block()))
    c.send(frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 2**31 - 1)))
    c.send(frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 2**31 - 1)))
    c.stream_error(1, FLOW_CONTROL_ERROR)


@check("6.9.2 window raised by SETTINGS after HEADERS releases DATA")
def _(c, index):
    c.handshake((4, 0))
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block()))
    c.expect(lambda f: f[0] == HEADERS and f[2] == 1, "HEADERS")
    c.send(settings((4, 1)))
    f = c.expect(lambda f: f[0] == DATA and f[2] == 1, "DATA")
    assert len(f[3]) == 1, f"DATA of {len(f[3])} octets"


@check("6.10 CONTINUATION after END_HEADERS: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_HEADERS, 1, request_block()))
    c.send(frame(CONTINUATION, END_HEADERS, 1, literal(b"x-a", b"b")))
    c.conn_error(PROTOCOL_ERROR)


@check("6.10 HEADERS split over CONTINUATION frames")
def _(c, index):
    c.handshake()
    block = request_block()
    c.send(frame(HEADERS, END_STREAM, 1, block[:3]) + frame(CONTINUATION, 0, 1, block[3:6]))
    c.send(frame(CONTINUATION, END_HEADERS, 1, block[6:]))
    assert c.body(1) == index


@check("8.1 POST with a body and trailers is answered")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_HEADERS, 1, request_block(b"POST")))
    c.send(frame(DATA, 0, 1, b"body"))
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, literal(b"x-trailer", b"1")))
    c.expect(lambda f: f[0] == HEADERS and f[2] == 1, "HEADERS")


@check("8.2.1 upper-case field name: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block(extra=literal(b"X-Upper", b"1"))))
    c.stream_error(1, PROTOCOL_ERROR)


@check("8.2.2 connection-specific field: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block(extra=literal(b"connection", b"keep-alive"))))
    c.stream_error(1, PROTOCOL_ERROR)


@check("8.3.1 missing :path: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, b"\x82\x86\x01\x09localhost"))
    c.stream_error(1, PROTOCOL_ERROR)


@check("8.4 PUSH_PROMISE from a client: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(PUSH_PROMISE, END_HEADERS, 1, struct.pack(">I", 2) + request_block()))
    c.conn_error(PROTOCOL_ERROR)


@check("many streams with a small window are all byte-exact")
def _(c, index):
    c.handshake((4, 1000))
    for i in range(50):
        c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1 + 2 * i, request_block()))
    c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 2**30)))
    bodies, done = {}, set()
    while len(done) < 50:
        f = c.expect(lambda f: f[0] in (DATA, HEADERS), "responses")
        if f[0] == DATA:
            bodies[f[2]] = bodies.get(f[2], b"") + f[3]
            c.send(frame(WINDOW_UPDATE, 0, f[2], struct.pack(">I", max(len(f[3]), 1))))
            if f[1] & END_STREAM:
                done.add(f[2])
    assert all(b == index for b in bodies.values()), "a body differs"


@check("5.3.1 HEADERS that depends on itself: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    prio = struct.pack(">IB", 1, 15)
    c.send(frame(HEADERS, END_STREAM | END_HEADERS | 0x20, 1, prio + request_block()))
    c.stream_error(1, PROTOCOL_ERROR)


@check("6.3 PRIORITY on an idle stream is accepted")
def _(c, index):
    c.handshake()
    c.send(frame(PRIORITY, 0, 3, struct.pack(">IB", 0, 15)))
    c.alive()


@check("6.3 PRIORITY on stream 0: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(PRIORITY, 0, 0, struct.pack(">IB", 0, 15)))
    c.conn_error(PROTOCOL_ERROR)


@check("6.5.2 SETTINGS_ENABLE_PUSH of 2: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(settings((2, 2)))
    c.conn_error(PROTOCOL_ERROR)


@check("6.9 WINDOW_UPDATE of 0 on a stream: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_HEADERS, 1, request_block()))
    c.send(frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0)))
    c.stream_error(1, PROTOCOL_ERROR)


@check("6.10 HEADERS followed by a frame other than CONTINUATION: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_STREAM, 1, request_block()) + frame(DATA, 0, 1, b"x"))
    c.conn_error(PROTOCOL_ERROR)


@check("6.10 CONTINUATION on another stream: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    block = request_block()
    c.send(frame(HEADERS, END_STREAM, 1, block[:3]) + frame(CONTINUATION, END_HEADERS, 3, block[3:]))
    c.conn_error(PROTOCOL_ERROR)


@check("8.1 HEAD gets HEADERS with END_STREAM")
def _(c, index):
    c.handshake()
    block = b"\x42\x04HEAD" + request_block()[1:]
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
    f = c.expect(lambda f: f[0] == HEADERS and f[2] == 1, "HEADERS")
    assert f[1] & END_STREAM, "HEAD response has a body"


@check("8.1.1 content-length not matching DATA: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_HEADERS, 1, request_block(b"POST", extra=literal(b"content-length", b"1"))))
    c.send(frame(DATA, END_STREAM, 1, b"test"))
    c.stream_error(1, PROTOCOL_ERROR)


@check("8.2.2 TE other than trailers: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block(extra=literal(b"te", b"gzip"))))
    c.stream_error(1, PROTOCOL_ERROR)


@check("8.3.1 empty :path: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, b"\x82\x86\x04\x00\x01\x09localhost"))
    c.stream_error(1, PROTOCOL_ERROR)


@check("8.3 unknown pseudo-header: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block(extra=literal(b":foo", b"bar"))))
    c.stream_error(1, PROTOCOL_ERROR)


@check("8.3 pseudo-header after a regular field: PROTOCOL_ERROR")
def _(c, index):
    c.handshake()
    block = b"\x82\x86" + literal(b"x-a", b"b") + b"\x84\x01\x09localhost"
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
    c.stream_error(1, PROTOCOL_ERROR)


@check("header list over max_header_list_size is refused, connection lives")
def _(c, index):
    c.handshake()
    # A big but legal header section works...
    block = request_block(extra=b"".join(literal(b"x-big%02d" % i, b"v" * 120) for i in range(20)))
    c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
    assert c.body(1) == index
    # ... one over the limit (HPACK bomb, CONTINUATION flood) is refused.
    huge = b"".join(literal(b"x-huge%03d" % i, b"v" * 120) for i in range(200))
    parts = [huge[i : i + 16000] for i in range(0, len(huge), 16000)]
    assert len(parts) > 1
    c.send(frame(HEADERS, END_STREAM, 3, request_block() + parts[0]))
    for i, p in enumerate(parts[1:]):
        c.send(frame(CONTINUATION, END_HEADERS if i == len(parts) - 2 else 0, 3, p))
    f = c.expect(lambda f: f[2] == 3 or f[0] == GOAWAY, "an answer on stream 3")
    assert f[0] in (HEADERS, RST_STREAM), f"frame type {f[0]}"
    c.alive()


@check("3.5 invalid connection preface: connection closed (TLS only)")
def _(c, index):
    # On the plain port anything but the preface is HTTP/1.1 (prior
    # knowledge shares the port), so this is a TLS-only check.
    if MODE != "tls":
        return
    c.send(b"INVALID CONNECTION PREFACE\r\n\r\n")
    c.conn_error(PROTOCOL_ERROR)


MODE = ""


def main():
    global MODE
    host, port, mode, index_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    MODE = mode
    index = open(index_path, "rb").read()
    passed = failed = 0
    for name, fn in CHECKS:
        try:
            c = Conn(host, port, mode)
            try:
                fn(c, index)
            finally:
                c.sock.close()
            print(f"PASS {name}")
            passed += 1
        except Exception as e:  # noqa: BLE001 - every failure is reported
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            failed += 1
    print(f"h2checks over {mode}: {passed} of {passed + failed} checks passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
