"""Role tokens expire, are listed with their expiry, and never travel in argv."""

from __future__ import annotations

import math
import time

import pytest

from workprint.server.errors import BadRequest

from .conftest import Backend
from .helpers import Fleet, LiveServer, cli

pytestmark = pytest.mark.fleet
ROLE_PATHS = {"curator": "/v1/sessions", "admin": "/v1/admin/devices", "auditor": "/v1/audit"}


def test_role_tokens_stop_working_when_they_expire(backend):
    fleet = Fleet.start(backend, token_cache_s=30.0)   # a cached token must not outlive its expiry
    try:
        short = {role: fleet.collector.mint_token(role, ttl_days=1.0 / 86400) for role in ROLE_PATHS}
        for role, path in ROLE_PATHS.items():             # valid first (and now cached)
            r = fleet.client.get(path, headers={"Authorization": f"Bearer {short[role]}"})
            assert r.status_code == 200, r.text
        time.sleep(1.1)
        for role, path in ROLE_PATHS.items():
            r = fleet.client.get(path, headers={"Authorization": f"Bearer {short[role]}"})
            assert r.status_code == 401
            error = r.json()["error"]
            assert f"this {role} token expired at" in error and f"admin token --role {role}" in error
        # a device's token does not expire with them
        dev = fleet.enroll("alice")
        assert fleet.client.get("/v1/me", headers=dev.headers).status_code == 200
        rows = {r["role"]: r for r in fleet.collector.role_tokens("test")}
        assert all(rows[r]["expires"] is not None for r in ROLE_PATHS)
    finally:
        fleet.close()


@pytest.mark.parametrize("ttl", [0, -1, 366.5, math.nan, math.inf])
def test_a_role_token_cannot_be_minted_without_a_lifetime(fleet, ttl):
    with pytest.raises(BadRequest, match="--ttl-days"):
        fleet.collector.mint_token("admin", ttl_days=ttl)


def test_role_tokens_from_before_expiry_get_a_lifetime(backend):
    """A store from before expiry existed: its role tokens (possibly leaked long ago) must not
    stay valid forever; device tokens keep working."""
    fleet = Fleet.start(backend)
    dev = fleet.enroll("alice")
    with fleet.collector.meta.tx() as cur:
        cur.execute("ALTER TABLE tokens DROP COLUMN expires")
    fleet.close()
    fleet = Fleet.start(backend)                      # opens (and migrates) the store again
    try:
        rows = fleet.collector.role_tokens("test")
        assert rows and all(abs(r["expires"] - (time.time() + 30 * 86400)) < 600 for r in rows)
        assert fleet.client.get("/v1/me", headers=dev.headers).status_code == 200
    finally:
        fleet.close()


def test_admin_cli_takes_tokens_from_env_file_or_stdin_never_argv(tmp_path):
    backend = Backend("local", tmp_path / "server")
    token = cli("admin", "token", "--role", "admin", "--ttl-days", "2", *backend.cli_args()).stdout.strip()
    server = LiveServer(backend, tmp_path).start()
    try:
        base = ["admin", "enrolment-code", "--server", server.url, *backend.cli_args()]
        r = cli(*base, "--token", token, check=False)
        assert r.returncode == 2 and "--token was removed" in r.stderr and "process list" in r.stderr
        assert r.stdout == ""
        code = cli(*base, "--token-file", "-", input=token + "\n").stdout.strip()
        assert len(code) == 23 and code.count("-") == 3
        code2 = cli(*base, env={"WORKPRINT_TOKEN": token}).stdout.strip()
        assert code2 != code
        r = cli(*base, "--token-file", str(tmp_path / "absent"), check=False)
        assert r.returncode == 2 and "--token-file" in r.stderr
        r = cli(*base, "--token-file", "-", input="wp_wrong\n", check=False)
        assert r.returncode != 0 and "unknown or revoked" in r.stderr
        listed = cli("admin", "tokens", *backend.cli_args()).stdout
        assert "admin" in listed and "expires 20" in listed
    finally:
        server.stop()
