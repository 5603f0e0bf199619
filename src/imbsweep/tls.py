"""Certificates for a Dask cluster on TLS: ``python -m imbsweep.tls DIR [--host NAME ...]``.

Writes a certificate authority (``ca.pem``; its key ``ca-key.pem`` stays with whoever makes
certificates) and one certificate + key signed by it (``cluster.pem``, ``cluster-key.pem``) for
the scheduler, the workers and the driver. Each side checks the other's certificate against
``ca.pem``: without one signed by it no one can connect, submit code or read results. Copy the
directory to every machine of the cluster (readable only by you; the keys are secrets).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
from pathlib import Path

FILES = ("ca.pem", "cluster.pem", "cluster-key.pem")


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_certs(out: Path, hosts: list[str] | None = None, days: int = 365) -> dict[str, Path]:
    """Write a CA and a cluster certificate for ``hosts`` (names or IPs; 127.0.0.1 and
    localhost are always in) into ``out``, keys readable by the owner only. Returns the paths
    the launcher takes (``ca``, ``cert``, ``key``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    now = dt.datetime.now(dt.UTC)
    ca_key, key = _key(), _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imbsweep cluster CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    names: list[x509.GeneralName] = []
    for h in dict.fromkeys(["127.0.0.1", "localhost", *(hosts or [])]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imbsweep cluster")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = {
        "ca": out / "ca.pem",
        "cert": out / "cluster.pem",
        "key": out / "cluster-key.pem",
    }
    for path, data in (
        (out / "ca-key.pem", _pem_key(ca_key)),
        (paths["key"], _pem_key(key)),
        (paths["ca"], ca.public_bytes(pem)),
        (paths["cert"], cert.public_bytes(pem)),
    ):
        # Created owner-only: a key must never be readable by others, not even for a moment.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    return paths


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m imbsweep.tls",
        description="Make a CA and a certificate for a Dask cluster on TLS.",
    )
    ap.add_argument("out", type=Path, help="where to write ca.pem, cluster.pem, cluster-key.pem")
    ap.add_argument(
        "--host",
        action="append",
        default=[],
        help="a name or IP of a cluster machine (repeat; 127.0.0.1 and localhost always)",
    )
    ap.add_argument("--days", type=int, default=365, help="validity (default 365)")
    args = ap.parse_args(argv)
    paths = make_certs(args.out, args.host, args.days)
    print(
        f"wrote {paths['ca']}, {paths['cert']}, {paths['key']} (and ca-key.pem: keep it off "
        "the cluster)"
    )


if __name__ == "__main__":
    main()
