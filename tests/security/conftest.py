"""Fixtures for the security tests: certificates made here, and depthcam programs as real processes.

Every program runs as ``python -m MODULE`` on loopback port 0, its output in a file the tests
read; every process started here is killed at teardown, pass or fail. A program may be started
with a lower open-file limit (``resource.setrlimit`` in the child before it runs).
"""

import datetime
import ipaddress
import os
import re
import resource
import signal
import subprocess
import sys
import time

import pytest

from depthcam.protocol.tokens import TOKEN_ENV_VAR

TOKEN = "security-test-token-0123456789"
# A program that has not printed its ready line by then has failed (a loaded CI machine included).
STARTUP_TIMEOUT_S = 30
POLL_INTERVAL_S = 0.05
RELAY_READY = re.compile(r"relay on (https?)://127\.0\.0\.1:(\d+)/")
SOURCE_READY = re.compile(r"open (https?)://\S+?:(\d+)/")


def wait_until(condition, timeout_s, what):
    """Poll ``condition()`` until it returns something true, and return that; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(POLL_INTERVAL_S)


class Program:
    """One ``python -m MODULE ARGS`` process, its stdout and stderr together in ``log_path``."""

    def __init__(self, log_path, module, *args, fd_limit=None):
        self.log_path = log_path
        env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV_VAR}
        env["PYTHONUNBUFFERED"] = "1"

        def lower_fd_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, fd_limit)

        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module, *map(str, args)], stdout=log,
                stderr=subprocess.STDOUT, env=env,
                preexec_fn=lower_fd_limit if fd_limit else None,
            )
        self.port = None

    def output(self):
        return self.log_path.read_text(errors="replace")

    def lines(self):
        return self.output().splitlines()

    def wait_for(self, pattern, timeout_s=STARTUP_TIMEOUT_S):
        """The first match of regex ``pattern`` in the output."""

        def matched():
            if self.process.poll() is not None:
                found = re.search(pattern, self.output())
                if found:
                    return found
                raise AssertionError(f"exited ({self.process.returncode}) before "
                                     f"{pattern!r}:\n{self.output()[-3000:]}")
            return re.search(pattern, self.output())

        return wait_until(matched, timeout_s, f"{pattern!r} in {self.log_path.name}")

    def exit_status(self, timeout_s=STARTUP_TIMEOUT_S):
        return self.process.wait(timeout=timeout_s)

    def signal(self, signum):
        self.process.send_signal(signum)

    def kill(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def programs(tmp_path):
    """``programs.relay(*flags)``, ``programs.source(*args)``, ``programs.start(module, *args)``."""

    class Programs:
        token_file = tmp_path / "relay-token.txt"

        def __init__(self):
            self.started = []
            self.token_file.write_text(TOKEN + "\n")
            self.token_file.chmod(0o600)

        def start(self, module, *args, fd_limit=None):
            name = module.rsplit(".", 1)[-1]
            program = Program(tmp_path / f"{name}-{len(self.started)}.log", module, *args,
                              fd_limit=fd_limit)
            self.started.append(program)
            return program

        def relay(self, *flags, fd_limit=None, token_file=None):
            """A relay on 127.0.0.1, port 0; waits for its ready line and sets ``.port``."""
            program = self.start("depthcam.relay", "--host", "127.0.0.1", "--port", 0,
                                 "--token-file", token_file or self.token_file, *flags,
                                 fd_limit=fd_limit)
            program.port = int(program.wait_for(RELAY_READY).group(2))
            return program

        def source(self, *args):
            """A direct-mode source (built-in scene) on port 0; waits for its banner."""
            program = self.start("depthcam.source", "serve", "--port", 0, *args)
            program.port = int(program.wait_for(SOURCE_READY).group(2))
            return program

    running = Programs()
    yield running
    for program in running.started:
        program.kill()


# Certificates: a CA, certificates it signs for localhost (good) and another name (wrong host),
# and a self-signed one for localhost.

def _name(common_name):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _certificate(subject, key, issuer, issuer_key, hosts=(), ca=False):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if hosts:
        names = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(folder, name, certificate, key):
    from cryptography.hazmat.primitives import serialization

    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


class Certificates:
    """PEM files made for one test session (``ca``, and (cert, key) pairs)."""

    def __init__(self, folder):
        from cryptography.hazmat.primitives import serialization

        ca_key = _key()
        ca = _certificate("depthcam test CA", ca_key, "depthcam test CA", ca_key, ca=True)
        self.ca = folder / "ca.pem"
        self.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        local = ("localhost", "127.0.0.1")
        good_key, other_key, wrong_key, self_key = _key(), _key(), _key(), _key()
        self.good = _write(folder, "good", _certificate("localhost", good_key, "depthcam test CA",
                                                        ca_key, local), good_key)
        # A second good certificate (another key and serial), to see a reload take effect.
        self.renewed = _write(folder, "renewed", _certificate(
            "localhost", other_key, "depthcam test CA", ca_key, local), other_key)
        self.wrong_host = _write(folder, "wrong-host", _certificate(
            "wrong.example", wrong_key, "depthcam test CA", ca_key, ("wrong.example",)), wrong_key)
        self.self_signed = _write(folder, "self-signed", _certificate(
            "localhost", self_key, "localhost", self_key, local), self_key)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory):
    """A CA and certificates for the TLS tests, made with ``cryptography``."""
    return Certificates(tmp_path_factory.mktemp("certs"))
