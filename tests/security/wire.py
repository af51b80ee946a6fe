"""Raw HTTP and WebSocket probes: exact bytes on a socket, as an attacker (or a browser) sends them.

A library client would tidy a request (quote a NUL, merge ranges, fill in Host and Origin); these
send what they are told, with a deadline on every read.
"""

import base64
import os
import socket
import ssl
import struct

# A probe that has no answer by then has failed (a loaded CI machine included).
READ_TIMEOUT_S = 20.0


def connect(port, host="127.0.0.1", source_address=None, tls_context=None, server_name=None,
            timeout=READ_TIMEOUT_S):
    """A connected socket (TLS-wrapped with ``tls_context``), with the read deadline set."""
    sock = socket.create_connection((host, port), timeout=timeout,
                                    source_address=(source_address, 0) if source_address else None)
    if tls_context is not None:
        sock = tls_context.wrap_socket(sock, server_hostname=server_name or host)
    return sock


def read_response(sock, limit=1 << 20):
    """(status, headers dict with lower-case names, body bytes) of one HTTP answer on ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    if status == 101:
        return status, headers, body
    if length is not None:
        while len(body) < min(int(length), limit):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return status, headers, body


def request(port, path, headers=(), method="GET", **connect_args):
    """(status, headers, body) of one raw HTTP/1.1 request (``Connection: close``)."""
    with connect(port, **connect_args) as sock:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
        names = {name.lower() for name, _ in headers}
        if "host" in names:
            lines = lines[:1] + lines[2:]
        lines += [f"{name}: {value}" for name, value in headers]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        return read_response(sock)


def upgrade_request(path, host, headers=()):
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def websocket(port, path="/ws", headers=(), host=None, **connect_args):
    """(status, headers, socket): a WebSocket handshake; the socket stays open (close it)."""
    sock = connect(port, **connect_args)
    sock.sendall(upgrade_request(path, host or f"127.0.0.1:{port}", headers))
    status, answer_headers, rest = read_response(sock)
    return status, answer_headers, WebSocketReader(sock, rest)


def handshake_status(port, path="/ws", headers=(), **kwargs):
    """The HTTP status of a WebSocket handshake (the socket is closed)."""
    status, _, reader = websocket(port, path, headers, **kwargs)
    reader.sock.close()
    return status


class WebSocketReader:
    """Reads server frames from a socket opened by ``websocket``; sends masked text frames."""

    def __init__(self, sock, pending=b""):
        self.sock = sock
        self._pending = pending

    def _read(self, count):
        while len(self._pending) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self._pending += chunk
        data, self._pending = self._pending[:count], self._pending[count:]
        return data

    def frame(self):
        """(opcode, payload) of the next frame."""
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack(">H", self._read(2))[0]
        elif length == 127:
            length = struct.unpack(">Q", self._read(8))[0]
        return first & 0x0F, self._read(length)

    def send_text(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)

    def close(self):
        self.sock.close()


def tls_client_context(ca_file):
    """An ssl context that trusts only ``ca_file`` and checks the host name."""
    context = ssl.create_default_context(cafile=str(ca_file))
    return context
