"""Certificates made for a test: a CA, and certificates it signs, with ``cryptography``.

The security tests (a relay or source listening with TLS) and the end-to-end scaling tests (a
rediss:// bus, a wss:// upstream) trust the same kind of private CA, so it is made in one place.
"""

import datetime
import ipaddress


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
    """PEM files in ``folder``: ``ca``, and (cert, key) pairs it signs for localhost (``good``,
    ``renewed``) and for wrong.example (``wrong_host``), and a self-signed one (``self_signed``)."""

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
