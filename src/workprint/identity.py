"""Contributor identity: a keyed HMAC pseudonym, never a raw username or hostname.

The pseudonym is ``HMAC-SHA256(key, message)`` as hex, truncated to 32 characters.

Device key (default)
    ``key`` is 32 random bytes kept in ``<data-dir>/identity.key`` (mode 0600, created
    atomically on first use) and ``message`` is ``"<username>@<hostname>"``. The pseudonym
    is stable for one person on one device and data dir; nobody without the key file can
    link it to a login name, and deleting the key file severs the link for good.

Organisation key (optional)
    An organisation that wants one pseudonym per person across all their devices deploys
    the same secret key to every device, either as ``WORKPRINT_ORG_KEY`` (hex, at least 32
    bytes = 64 hex digits) or as a file named by ``WORKPRINT_ORG_KEY_FILE`` (the same hex
    text, or at least 32 raw bytes). The message is then the login name alone (hostnames
    differ between devices), so the person must use the same login everywhere. The
    environment variable wins over the file. Keep the organisation key as secret as the
    data: whoever holds it can test guesses of login names against pseudonyms.

Only the pseudonym is ever stored (consent receipts, session metadata); the raw username
and hostname are used in memory to compute it and nowhere else.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import os
import secrets
import socket
from pathlib import Path

from .errors import WorkprintError

KEY_NAME = "identity.key"
KEY_BYTES = 32
PSEUDONYM_CHARS = 32
ORG_KEY_ENV = "WORKPRINT_ORG_KEY"
ORG_KEY_FILE_ENV = "WORKPRINT_ORG_KEY_FILE"


def _username() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name known: fall back to the numeric uid
        return f"uid{os.getuid()}"


def _hostname() -> str:
    return socket.gethostname()


def _parse_key(raw: bytes, where: str) -> bytes:
    text = raw.strip()
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = raw  # not hex: raw bytes
    if len(key) < KEY_BYTES:
        raise WorkprintError(
            f"{where}: the organisation key must be at least {KEY_BYTES} bytes (64 hex digits); "
            f"create one with `python -c 'import secrets; print(secrets.token_hex(32))'`.")
    return key


def org_key() -> bytes | None:
    """The organisation key from the environment, or None when none is configured."""
    value = os.environ.get(ORG_KEY_ENV)
    if value:
        return _parse_key(value.encode(), ORG_KEY_ENV)
    path = os.environ.get(ORG_KEY_FILE_ENV)
    if path:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise WorkprintError(
                f"{ORG_KEY_FILE_ENV}={path}: cannot read the organisation key file ({exc}); "
                f"fix the path or unset {ORG_KEY_FILE_ENV}.") from None
        return _parse_key(raw, path)
    return None


def device_key(data_dir: Path | str) -> bytes:
    """The per-data-dir secret key, created (mode 0600, atomically) on first use."""
    root = Path(data_dir).expanduser()
    path = root / KEY_NAME
    if not path.exists():
        _create_key(root, path)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise WorkprintError(
            f"{path} is damaged ({len(key)} bytes, expected {KEY_BYTES}). Move it away to start "
            f"a new pseudonym (existing data keeps the old one).")
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return key


def _create_key(root: Path, path: Path) -> None:
    """Write a fresh key to a private temp file, then link it into place. ``link`` fails
    if another process won the race; its key is then the one used."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = root / f".{KEY_NAME}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def contributor_pseudonym(data_dir: Path | str) -> str:
    """32 hex characters identifying the contributor without revealing who it is."""
    key = org_key()
    if key is not None:
        message = _username()
    else:
        key = device_key(data_dir)
        message = f"{_username()}@{_hostname()}"
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_CHARS]


__all__ = ["contributor_pseudonym", "device_key", "org_key", "KEY_NAME", "ORG_KEY_ENV",
           "ORG_KEY_FILE_ENV"]
