"""Contributor pseudonyms: keyed, stable, private key file, never the raw login."""

from __future__ import annotations

import getpass
import hashlib
import hmac
import os
import socket
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from workprint.errors import WorkprintError
from workprint.identity import (KEY_NAME, ORG_KEY_ENV, ORG_KEY_FILE_ENV, contributor_pseudonym,
                                device_key)


@pytest.fixture(autouse=True)
def no_org_key(monkeypatch):
    monkeypatch.delenv(ORG_KEY_ENV, raising=False)
    monkeypatch.delenv(ORG_KEY_FILE_ENV, raising=False)


def test_pseudonym_is_hmac_of_user_at_host_under_the_stored_key(tmp_path):
    p = contributor_pseudonym(tmp_path)
    key = (tmp_path / KEY_NAME).read_bytes()
    assert len(key) == 32
    expected = hmac.new(key, f"{getpass.getuser()}@{socket.gethostname()}".encode(),
                        hashlib.sha256).hexdigest()[:32]
    assert p == expected and len(p) == 32
    assert stat.S_IMODE((tmp_path / KEY_NAME).stat().st_mode) == 0o600


def test_stable_per_data_dir_and_different_across_data_dirs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert contributor_pseudonym(a) == contributor_pseudonym(a)
    assert contributor_pseudonym(a) != contributor_pseudonym(b)


def test_stable_across_processes(tmp_path):
    code = "import sys; from workprint.identity import contributor_pseudonym as p; print(p(sys.argv[1]))"
    outs = {subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                           text=True, check=True).stdout.strip() for _ in range(2)}
    assert outs == {contributor_pseudonym(tmp_path)}


def test_concurrent_first_use_agrees_on_one_key(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        results = set(pool.map(lambda _: contributor_pseudonym(tmp_path / "d"), range(32)))
    assert len(results) == 1
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [KEY_NAME]  # no temp files


def test_no_raw_username_or_hostname_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(getpass, "getuser", lambda: "alice-distinctive-login")
    monkeypatch.setattr(socket, "gethostname", lambda: "alice-laptop-7731")
    p = contributor_pseudonym(tmp_path)
    assert p != contributor_pseudonym(tmp_path / "other")
    raw = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"alice" not in raw and b"7731" not in raw


def test_loose_key_permissions_are_tightened(tmp_path):
    device_key(tmp_path)
    os.chmod(tmp_path / KEY_NAME, 0o644)
    device_key(tmp_path)
    assert stat.S_IMODE((tmp_path / KEY_NAME).stat().st_mode) == 0o600


def test_damaged_key_is_an_actionable_error(tmp_path):
    (tmp_path / KEY_NAME).write_bytes(b"short")
    with pytest.raises(WorkprintError, match="damaged"):
        contributor_pseudonym(tmp_path)


def test_org_key_gives_one_pseudonym_across_devices(tmp_path, monkeypatch):
    key = os.urandom(32)
    monkeypatch.setenv(ORG_KEY_ENV, key.hex())
    one = contributor_pseudonym(tmp_path / "laptop")
    monkeypatch.setattr(socket, "gethostname", lambda: "another-device")
    two = contributor_pseudonym(tmp_path / "desktop")
    assert one == two == hmac.new(key, getpass.getuser().encode(), hashlib.sha256).hexdigest()[:32]
    assert not (tmp_path / "laptop" / KEY_NAME).exists()  # no device key needed


def test_org_key_file_works_and_env_value_wins(tmp_path, monkeypatch):
    key_file = tmp_path / "org.key"
    key_file.write_text(os.urandom(32).hex() + "\n")
    monkeypatch.setenv(ORG_KEY_FILE_ENV, str(key_file))
    from_file = contributor_pseudonym(tmp_path / "d")
    monkeypatch.setenv(ORG_KEY_ENV, os.urandom(32).hex())
    assert contributor_pseudonym(tmp_path / "d") != from_file


def test_short_org_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(ORG_KEY_ENV, "abcd")
    with pytest.raises(WorkprintError, match="at least 32 bytes"):
        contributor_pseudonym(tmp_path)
