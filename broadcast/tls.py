"""TLS for both doors: listen with a certificate and key from files, and reload them on SIGHUP.

``ReloadingCertificate`` is what Twisted's ``listenSSL`` asks for each new connection (an
``IOpenSSLServerConnectionCreator``): the certificate chain and key read from two PEM files
(certbot's ``fullchain.pem`` and ``privkey.pem``). ``reload()`` reads them again, and
``reload_on_sighup`` calls it when the process gets SIGHUP, so a renewal hook
(``systemctl kill -s HUP depthcam-relay``) needs no restart: connections already open keep the
certificate they began with, new ones get the new one. A reload that fails (a half-written file)
keeps the old certificate and logs why.

``client_tls(hostname, ca_file)`` is the other way: what a pushing source connects with, checking
the relay's certificate against the system's CAs (or ``ca_file``'s, for a private CA) and its
name against ``hostname``.
"""

import re
import signal
from pathlib import Path

from OpenSSL import SSL
from OpenSSL.crypto import FILETYPE_PEM
from service_identity.exceptions import VerificationError
from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.logger import Logger
from zope.interface import implementer

_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)

log = Logger()

# Why a client's TLS handshake fails: the peer's chain is not trusted or it speaks no TLS
# (SSL.Error), or its certificate names another host (service_identity's VerificationError).
TLS_REFUSALS = (SSL.Error, VerificationError)


class TLSConfigError(Exception):
    """A certificate or key file cannot be used."""


def load_server_options(cert_file, key_file):
    """``CertificateOptions`` from a PEM certificate chain (leaf first) and a PEM private key."""
    try:
        chain_pem = Path(cert_file).read_bytes()
        key_pem = Path(key_file).read_bytes()
        blocks = _PEM_CERTIFICATE.findall(chain_pem)
        if not blocks:
            raise TLSConfigError(f"no PEM certificate in {cert_file}")
        chain = [ssl.Certificate.loadPEM(block).original for block in blocks]
        key = ssl.KeyPair.load(key_pem, FILETYPE_PEM).original
        return ssl.CertificateOptions(privateKey=key, certificate=chain[0],
                                      extraCertChain=chain[1:])
    except TLSConfigError:
        raise
    except (OSError, SSL.Error, ValueError) as exc:
        raise TLSConfigError(f"cannot use {cert_file} with {key_file}: {exc}") from exc


@implementer(IOpenSSLServerConnectionCreator)
class ReloadingCertificate:
    """A server's certificate and key from files, reloadable (see the module docstring)."""

    def __init__(self, cert_file, key_file):
        self.cert_file = Path(cert_file)
        self.key_file = Path(key_file)
        self._options = load_server_options(self.cert_file, self.key_file)
        self.reloads = 0

    def reload(self):
        """Read the files again; True if the new certificate is in use."""
        try:
            self._options = load_server_options(self.cert_file, self.key_file)
        except TLSConfigError as exc:
            log.warn("TLS reload failed, keeping the old certificate: {error}", error=exc)
            return False
        self.reloads += 1
        log.info("TLS certificate reloaded from {cert}", cert=self.cert_file)
        return True

    def serverConnectionForTLS(self, tlsProtocol):
        return SSL.Connection(self._options.getContext(), None)


def reload_on_sighup(certificate, reactor):
    """Reload ``certificate`` whenever the process gets SIGHUP (in the reactor's thread)."""

    def handler(signum, frame):
        reactor.callFromThread(certificate.reload)

    signal.signal(signal.SIGHUP, handler)


def listen(reactor, port, factory, interface, certificate=None):
    """Listen on ``port`` with TLS when ``certificate`` (a ReloadingCertificate) is given, else TCP.

    A door's ``admission.AddressGuard`` keeps its place outermost: TLS goes inside it
    (``insert_tls``), so the per-address caps and the handshake deadline cover TLS handshakes too.
    """
    if certificate is None:
        return reactor.listenTCP(port, factory, interface=interface)
    insert_tls = getattr(factory, "insert_tls", None)
    if insert_tls is None:
        return reactor.listenSSL(port, factory, certificate, interface=interface)
    insert_tls(certificate)
    return reactor.listenTCP(port, factory, interface=interface)


def client_tls(hostname, ca_file=None):
    """What a client connects with: the peer's certificate checked against the system's CAs (or
    ``ca_file``'s) and against ``hostname``."""
    if ca_file is None:
        trust = ssl.platformTrust()
    else:
        try:
            pem = Path(ca_file).read_bytes()
            roots = [ssl.Certificate.loadPEM(block) for block in _PEM_CERTIFICATE.findall(pem)]
        except (OSError, SSL.Error, ValueError) as exc:
            raise TLSConfigError(f"cannot use the CA file {ca_file}: {exc}") from exc
        if not roots:
            raise TLSConfigError(f"no PEM certificate in the CA file {ca_file}")
        trust = ssl.trustRootFromCertificates(roots)
    return ssl.optionsForClientTLS(hostname, trustRoot=trust)
