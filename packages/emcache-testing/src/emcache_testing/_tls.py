"""Certificates for TLS nodes, made by trustme.

A throwaway certificate authority signs one server certificate valid for
``localhost``, ``127.0.0.1`` and ``::1``. The files are written into a private
directory because memcached reads its certificate and key from files; the CA
file is what a client under test is told to trust.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

__all__ = ["TLSMaterial", "make_tls_material"]


@dataclass(frozen=True)
class TLSMaterial:
    """The files of a test certificate authority and of the server certificate it signed.

    Attributes:
        ca_file: The CA certificate (PEM) a client trusts, e.g. as ``ssl_extra_ca``.
        cert_file: The server's certificate chain (PEM), given to memcached.
        key_file: The server's private key (PEM), given to memcached.
        hostname: The name the server certificate is valid for.
    """

    ca_file: Path
    cert_file: Path
    key_file: Path
    hostname: str = "localhost"

    def ssl_context(self) -> ssl.SSLContext:
        """A new client context that trusts only this CA and checks the hostname."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_tls_material(directory: Path) -> TLSMaterial:
    """Create a CA and a server certificate in ``directory`` (which must exist)."""
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1", "::1")
    material = TLSMaterial(
        ca_file=directory / "ca.pem",
        cert_file=directory / "server-chain.pem",
        key_file=directory / "server-key.pem",
    )
    ca.cert_pem.write_to_path(str(material.ca_file))
    material.cert_file.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    server.private_key_pem.write_to_path(str(material.key_file))
    material.key_file.chmod(0o600)
    return material
