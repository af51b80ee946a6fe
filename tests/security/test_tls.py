"""TLS both ways, with certificates made by the test: a relay and a direct source listening with
TLS (and reloading on SIGHUP), and a pushing source that checks the relay's certificate."""

import json
import signal
import ssl

from tests.security.conftest import TOKEN, wait_until
from tests.security.wire import connect, request, tls_client_context

SOURCE_CONNECTED = "connected to relay"
CERTIFICATE_REFUSED = "the relay's TLS certificate was refused"


def https_get(port, path, ca_file, headers=()):
    return request(port, path, headers, tls_context=tls_client_context(ca_file), server_name="localhost")


def push(programs, port, *flags):
    return programs.start("depthcam.source", "push", f"wss://localhost:{port}/source/cam",
                          "--token-file", programs.token_file, *flags)


def test_push_over_tls_with_a_good_certificate(programs, certificates):
    """The relay listens with TLS; a source pushes over wss:// trusting the test CA (--ca-file);
    the page and /stats are served over https."""
    cert, key = certificates.good
    relay = programs.relay("--tls-cert", cert, "--tls-key", key)
    assert "relay on https://" in relay.output()
    source = push(programs, relay.port, "--ca-file", certificates.ca)
    source.wait_for(SOURCE_CONNECTED)
    status, _, body = https_get(relay.port, "/stats", certificates.ca,
                                [("Authorization", f"Bearer {TOKEN}")])
    assert status == 200 and json.loads(body)["streams"]["cam"]["source_connected"]
    assert "viewers open https://localhost" in source.output()


def test_push_refuses_a_certificate_for_another_host(programs, certificates):
    """A certificate the CA signed for wrong.example: the source says so and never connects."""
    cert, key = certificates.wrong_host
    relay = programs.relay("--tls-cert", cert, "--tls-key", key)
    source = push(programs, relay.port, "--ca-file", certificates.ca)
    source.wait_for(CERTIFICATE_REFUSED)
    assert SOURCE_CONNECTED not in source.output()
    assert TOKEN not in relay.output()


def test_push_refuses_a_self_signed_certificate(programs, certificates):
    """A self-signed certificate is trusted neither by the system's CAs nor by another CA file."""
    cert, key = certificates.self_signed
    relay = programs.relay("--tls-cert", cert, "--tls-key", key)
    system = push(programs, relay.port)
    private = push(programs, relay.port, "--ca-file", certificates.ca)
    system.wait_for(CERTIFICATE_REFUSED)
    private.wait_for(CERTIFICATE_REFUSED)
    assert SOURCE_CONNECTED not in system.output() + private.output()


def test_push_refuses_plain_ws_to_another_machine(programs):
    """Plain ws:// to a host other than this machine: exit 2 saying to use wss://, unless --insecure."""
    source = programs.start("depthcam.source", "push", "ws://relay.example:9000/source/cam",
                            "--token-file", programs.token_file)
    assert source.exit_status() == 2
    assert "use wss://" in source.output()
    local = programs.relay()
    near = programs.start("depthcam.source", "push", f"ws://127.0.0.1:{local.port}/source/cam",
                          "--token-file", programs.token_file)
    near.wait_for(SOURCE_CONNECTED)


def test_relay_reloads_its_certificate_on_sighup(programs, certificates, tmp_path):
    """New connections get the renewed certificate after SIGHUP, without a restart."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(certificates.good[0].read_bytes())
    key.write_bytes(certificates.good[1].read_bytes())
    relay = programs.relay("--tls-cert", cert, "--tls-key", key)

    def served_certificate():
        with connect(relay.port, tls_context=tls_client_context(certificates.ca),
                     server_name="localhost") as sock:
            return sock.getpeercert(binary_form=True)

    def pem_der(path):
        return ssl.PEM_cert_to_DER_cert(path.read_text())

    assert served_certificate() == pem_der(certificates.good[0])
    cert.write_bytes(certificates.renewed[0].read_bytes())
    key.write_bytes(certificates.renewed[1].read_bytes())
    relay.signal(signal.SIGHUP)
    relay.wait_for("TLS certificate reloaded")
    assert served_certificate() == pem_der(certificates.renewed[0])
    assert relay.process.poll() is None


def test_direct_source_serves_over_tls(programs, certificates):
    """``serve --tls-cert --tls-key``: the page over https, the banner says https://."""
    cert, key = certificates.good
    source = programs.source("--tls-cert", cert, "--tls-key", key)
    assert "open https://localhost" in source.output()
    status, headers, body = https_get(source.port, "/stats", certificates.ca)
    assert status == 200 and "default" in json.loads(body)["streams"]
    # Plain http to the TLS port gets no page.
    wait_until(lambda: True, 1, "")
    try:
        status = request(source.port, "/stats", timeout=5)[0]
    except OSError:
        status = None
    assert status != 200
