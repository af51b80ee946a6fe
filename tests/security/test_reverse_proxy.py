"""The relay behind Debian's nginx terminating TLS (INSTALL.md's second set-up), with a
certificate the test makes: the page over https, WebSockets through it, pings keeping them open."""

import os
import shutil
import socket
import subprocess
import time

import pytest

from tests.security.conftest import wait_until
from tests.security.wire import request, tls_client_context, websocket

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not os.access(NGINX, os.X_OK),
                                reason="needs Debian's nginx (.ci/run installs it)")
# nginx drops an upgraded connection when nothing comes from the relay for this long (its
# default is 60 s; the test lowers it so that a run takes seconds).
PROXY_READ_TIMEOUT_S = 3
# How long a viewer is held idle through the proxy: well past that timeout.
HOLD_S = 3 * PROXY_READ_TIMEOUT_S

# The server block of INSTALL.md, with the test's ports, paths and timeout.
NGINX_CONF = """\
{user}
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://127.0.0.1:{relay_port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout {timeout}s;
            proxy_send_timeout {timeout}s;
        }}
    }}
}}
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def start_proxy(tmp_path, certificates):
    """``start_proxy(relay_port)``: nginx with TLS on a free port in front of the relay; its port."""
    started = []

    def start(relay_port):
        folder = tmp_path / f"nginx-{len(started)}"
        folder.mkdir()
        port = free_port()
        cert, key = certificates.good
        conf = folder / "nginx.conf"
        conf.write_text(NGINX_CONF.format(
            user="user root;" if os.geteuid() == 0 else "", folder=folder, port=port, cert=cert,
            key=key, relay_port=relay_port, timeout=PROXY_READ_TIMEOUT_S))
        process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(conf), "-e",
                                    str(folder / "error.log")], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.STDOUT)
        started.append(process)

        def listening():
            if process.poll() is not None:
                raise AssertionError((folder / "error.log").read_text())
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        wait_until(listening, 20, "nginx listening")
        return port

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def https(port, path, ca, headers=()):
    return request(port, path, headers, tls_context=tls_client_context(ca), server_name="localhost")


def test_page_and_streams_over_https_through_nginx(programs, start_proxy, certificates):
    """The page over https through nginx, a source pushing wss:// through it, a viewer getting frames."""
    relay = programs.relay("--ping-interval", 1)
    port = start_proxy(relay.port)
    status, headers, body = https(port, "/", certificates.ca)
    if status == 404:
        pytest.skip("no client/ to serve (make setup)")
    assert status == 200 and b"importmap" in body
    assert "content-security-policy" in headers
    source = programs.start("depthcam.source", "push", f"wss://localhost:{port}/source/cam",
                            "--token-file", programs.token_file, "--ca-file", certificates.ca)
    source.wait_for("connected to relay")
    status, _, viewer = websocket(port, "/view/cam", host=f"localhost:{port}",
                                  tls_context=tls_client_context(certificates.ca),
                                  server_name="localhost")
    try:
        assert status == 101
        opcodes = [viewer.frame()[0] for _ in range(3)]
        assert 2 in opcodes  # a binary frame: depth
    finally:
        viewer.close()


@pytest.mark.parametrize("ping_interval_s, stays_open", [(1, True), (60, False)])
def test_pings_keep_an_idle_viewer_open_through_nginx(programs, start_proxy, certificates,
                                                      ping_interval_s, stays_open):
    """An idle viewer (no source) stays open past nginx's read timeout while the relay pings
    (every 1 s); with pings rarer than that timeout, nginx closes it, so the pings are why."""
    relay = programs.relay("--ping-interval", ping_interval_s, "--ping-timeout", 120)
    port = start_proxy(relay.port)
    status, _, viewer = websocket(port, "/view/idle", host=f"localhost:{port}",
                                  tls_context=tls_client_context(certificates.ca),
                                  server_name="localhost")
    assert status == 101
    started = time.monotonic()
    pings = 0
    closed = False
    try:
        while time.monotonic() - started < HOLD_S:
            try:
                opcode, payload = viewer.frame()
            except (ConnectionError, OSError):
                closed = True
                break
            if opcode == 0x9:
                pings += 1
                viewer.sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
    finally:
        viewer.close()
    assert closed != stays_open, (pings, time.monotonic() - started)
    if stays_open:
        assert pings >= HOLD_S // 2
