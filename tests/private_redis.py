"""A Redis server of a test's own: a Unix socket, a TLS port with a certificate of its own CA, and users.

The shared test Redis (``PROVCONNECT_TEST_REDIS``) listens on plain TCP without a password; what a
production Redis may ask of a client (TLS, AUTH, a Unix socket) is tried against this one, a real
``redis-server`` started for the test and stopped after it.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.backends import unavailable

START_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class PrivateRedis:
    socket_path: Path
    tls_port: int
    ca_file: Path
    """The CA that signed the server's certificate (for 127.0.0.1 and localhost)."""


@contextmanager
def private_redis(folder: Path, *, users: dict[str, str]) -> Iterator[PrivateRedis]:
    """redis-server with the given ``{user: password}`` (full rights); the default user is off."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("the TLS, AUTH and Unix socket tests need redis-server (Debian's redis-server)")
    ca_file, cert_file, key_file = _certificates(folder)
    server = PrivateRedis(folder / "redis.sock", _free_port(), ca_file)
    acl = ["user default off\n"] + [f"user {name} on >{password} ~* &* +@all\n" for name, password in users.items()]
    (folder / "users.acl").write_text("".join(acl))
    command = [
        binary, "--port", "0", "--unixsocket", str(server.socket_path), "--unixsocketperm", "700",
        "--tls-port", str(server.tls_port), "--tls-cert-file", str(cert_file), "--tls-key-file", str(key_file),
        "--tls-ca-cert-file", str(ca_file), "--tls-auth-clients", "no",
        "--aclfile", str(folder / "users.acl"), "--save", "", "--appendonly", "no", "--dir", str(folder),
    ]
    log = (folder / "redis.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_listening(server, process, folder / "redis.log")
        yield server
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def _wait_until_listening(server: PrivateRedis, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server stopped at start: {log.read_text()[-2000:]}")
        if server.socket_path.exists():
            try:
                socket.create_connection(("127.0.0.1", server.tls_port), timeout=1).close()
                return
            except OSError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not listen within {START_TIMEOUT_SECONDS} s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate it signed for 127.0.0.1 and localhost, valid for a day."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "provconnect test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths
