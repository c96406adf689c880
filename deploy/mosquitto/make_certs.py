#!/usr/bin/env python3
"""Makes the certificates of a fleet's broker set-up, for the bench or a first deployment:
a CA, the broker's server certificate, the backend's client certificate and one client
certificate per box, whose common name is the box's device.id (mosquitto's
`use_identity_as_username` makes it the MQTT username, which the ACL's %u stands for).

    python3 deploy/mosquitto/make_certs.py --out /etc/mosquitto/fleet \\
        --broker-host broker.example --box car-0001 --box cab-0042

Writes ca.pem and ca.key (keep the CA key off the broker in production), server.pem/.key,
backend.pem/.key, and <device_id>.pem/.key per box; private keys are mode 0600. A CA that
already exists in --out is reused, so boxes can be added later. Needs only the `cryptography`
package (Debian: python3-cryptography).
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BACKEND_NAME = "backend"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.chmod(path, 0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def make_ca(out: Path, days: int = 3650) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA in `out` (ca.pem, ca.key), made when there is none yet."""
    cert_path, key_path = out / "ca.pem", out / "ca.key"
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("fleet CA"))
        .issuer_name(_name("fleet CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert, key


def make_leaf(
    out: Path,
    name: str,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    server_host: str | None = None,
    days: int = 825,
) -> tuple[Path, Path]:
    """`<name>.pem` and `<name>.key` signed by `ca`: a server certificate for `server_host`
    (a DNS name or an IP address), else a client certificate with common name `name`."""
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(server_host or name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server_host is not None:
        try:
            alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(server_host))
        except ValueError:
            alt = x509.DNSName(server_host)
        builder = builder.add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        usage = ExtendedKeyUsageOID.SERVER_AUTH
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH
    builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    cert_path, key_path = out / f"{name}.pem", out / f"{name}.key"
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert_path, key_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder to write into")
    parser.add_argument("--broker-host", help="the broker's DNS name or IP (server cert)")
    parser.add_argument("--backend", action="store_true", help="a backend client certificate")
    parser.add_argument("--box", action="append", default=[], metavar="DEVICE_ID")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ca = make_ca(args.out)
    if args.broker_host:
        make_leaf(args.out, "server", ca, server_host=args.broker_host)
    if args.backend:
        make_leaf(args.out, BACKEND_NAME, ca)
    for device_id in args.box:
        make_leaf(args.out, device_id, ca)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
