"""HTTPS end to end: `workprint serve --certfile/--keyfile` on 127.0.0.1 with a certificate
from a throwaway CA; a device enrols and syncs with that CA pinned (`--cacert`), and a
client that does not trust the CA is refused before anything is sent."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
from pathlib import Path

import httpx
import pytest

from workprint.server.collector import Collector
from workprint.sync.client import Credential
from workprint.sync.review import Review

from .conftest import Backend
from .helpers import LiveServer, cli
from .test_sync import record_session

pytestmark = pytest.mark.fleet


def make_ca_and_server_cert(d: Path) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "workprint test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem, cert_pem, key_pem = d / "ca.pem", d / "server.pem", d / "server.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    key_pem.chmod(0o600)
    return ca_pem, cert_pem, key_pem


def test_device_enrolls_and_syncs_over_https_with_the_ca_pinned(tmp_path):
    ca, cert, key = make_ca_and_server_cert(tmp_path)
    backend = Backend("local", tmp_path / "server")
    server = LiveServer(backend, tmp_path, scheme="https",
                        extra=["--certfile", str(cert), "--keyfile", str(key)]).start()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        token = cli("admin", "token", "--role", "admin", "--data-dir", str(backend.data_dir)).stdout.splitlines()[-1]
        token_file = tmp_path / "admin.token"
        token_file.write_text(token + "\n")
        code = cli("admin", "enrolment-code", "--server", server.url, "--token-file", str(token_file),
                   "--cacert", str(ca),
                   "--contributor", "alice").stdout.splitlines()[-1]
        device = tmp_path / "device"

        # A client that does not trust this CA is refused before anything is sent
        # (the one-time code stays unused).
        refused = cli("enroll", server.url, code, "--data-dir", str(device), check=False)
        assert refused.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in refused.stdout + refused.stderr
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/v1/health")
        with pytest.raises(httpx.HTTPError):                          # no plain HTTP on that port
            httpx.get(server.url.replace("https:", "http:") + "/v1/health")

        cli("enroll", server.url, code, "--cacert", str(ca), "--data-dir", str(device))
        cred = Credential.load(device)
        assert cred.server == server.url and Path(cred.cacert).read_bytes() == ca.read_bytes()

        sid = record_session(device)
        review = Review(device)
        review.decide(sid, "approved")
        review.close()
        out = json.loads(cli("sync", "--json", "--data-dir", str(device)).stdout)
        assert out["uploaded"] >= 1 and out["error"] is None and out["remaining"] == 0

        with httpx.Client(base_url=server.url, verify=ssl.create_default_context(cafile=str(ca)), headers={"Authorization": f"Bearer {cred.token}"}) as c:
            mine = c.get("/v1/me").json()
        assert len(mine["chunks"]) == out["uploaded"]
    finally:
        server.stop()
    col = Collector(backend.config())
    try:
        assert len(col.meta.chunks(contributor=cred.contributor)) == out["uploaded"]
    finally:
        col.close()
