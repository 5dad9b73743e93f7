"""Titles and URLs: tokens by their shape, credential-named keys, secrets in window titles."""

from __future__ import annotations

import pytest

from workprint.policy.redact_text import Redactor, secret_param, url_token


@pytest.fixture(scope="module")
def r() -> Redactor:
    return Redactor(username=None, hostname=None)


@pytest.mark.parametrize("url,secret", [
    ("https://app.example.com/password-reset/9c1e5b7d4a6f8e0c2b4d", "9c1e5b7d4a6f8e0c2b4d"),
    ("https://app.example.com/reset-password/Kq7Lm2Xz9Tp4", "Kq7Lm2Xz9Tp4"),
    ("https://id.example.com/verify/3f2a9c1e-5b7d-4a6f-8e0c-2b4d6a8f0e1c/ok", "3f2a9c1e"),
    ("https://files.example.com/s/Zx81Kq0LmN3pR7sT", "Zx81Kq0LmN3pR7sT"),
    ("https://x.example.com/api/v1/users/me/tokens/ab34Fg78Hj12Kl56", "ab34Fg78Hj12Kl56"),
    ("https://x.example.com/invite/7f3e9a2b8c1d4e6f", "7f3e9a2b8c1d4e6f"),
    ("https://x.example.com/cb?jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2ln", "eyJhbGci"),
    ("https://x.example.com/login/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2ln", "eyJzdWIi"),
    ("https://vault.example.com/ui/vault/auth?with=token&t=hvs.CAESIJ7x2Kq9Lm4Zp8Rt", "CAESIJ7x2K"),
])
def test_path_segments_and_values_that_look_like_tokens(r, url, secret):
    out = r.redact_url(url)
    assert secret not in out and "<SECRET>" in out, out
    assert out.startswith(url.split("/")[0] + "//" + url.split("/")[2])


@pytest.mark.parametrize("key", ["pw", "PW", "pass", "Password", "passwd", "token", "access_token",
                                 "key", "apiKey", "secret", "client_secret", "sig", "Signature",
                                 "code", "auth", "session", "sessionid", "otp", "X-Amz-Credential"])
def test_query_keys_named_like_credentials(r, key):
    out = r.redact_url(f"https://app.example.com/p?q=report&{key}=hello-world-1&page=2")
    assert f"{key}=<SECRET>" in out and "hello-world" not in out
    assert "q=report" in out and "page=2" in out
    out = r.redact_url(f"https://app.example.com/p#{key}=abc-def-1&x=1")
    assert "abc-def" not in out
    out = r.redact_url(f"https://app.example.com/#/reset?{key}=abc-def-2")
    assert "abc-def" not in out and "/reset?" in out


@pytest.mark.parametrize("url", [
    "https://github.com/acme/api/pull/42?tab=files",
    "https://docs.example.com/guide/getting-started#install",
    "https://jira.example.com/browse/OPS-1234?filter=mine&sort=desc",
    "https://www.example.com/search?q=quarterly+report&page=3",
    "https://app.example.com/projects/2024/roadmap",
])
def test_ordinary_urls_are_kept(r, url):
    assert r.redact_url(url) == url


@pytest.mark.parametrize("title,secret", [
    ("db01 (pw: Wq2x9Lm) - Notes", "Wq2x9Lm"),
    ("deploy password=Zk8-vault-Qm3 - xterm", "Zk8-vault-Qm3"),
    ("vault login s.Kq7Lm2Xz9Tp4Rb8Nc3Vd6Wf1 - Terminal", "s.Kq7Lm2Xz9Tp4Rb8Nc3Vd6Wf1"),
    ("vault login hvs.CAESIJ7x2Kq9Lm4Zp8RtY3 - Terminal", "CAESIJ7x2Kq9Lm4Zp8RtY3"),
    ("curl -H 'Authorization: Bearer 8f3Kd9xLq2Vn7Rt5Wy1Zb' - bash", "8f3Kd9xLq2Vn7Rt5Wy1Zb"),
    ("export TOKEN=Qm9xT2kLr8ZpW4vNc7Hy3Bd - tmux", "Qm9xT2kLr8ZpW4vNc7Hy3Bd"),
    ("ssh -i key deploy@h (passphrase: c0rrect-h0rse)", "c0rrect-h0rse"),
    ("PIN: 4711 - Bank reader", "4711"),
    ("kubectl create secret --from-literal=pass=Tr0ub4dor&3", "Tr0ub4dor"),
    ("aGVsbG8td29ybGQtMTIzNDU2Nzg5MGFiY2RlZg - Notes", "aGVsbG8td29ybGQtMTIz"),
])
def test_tokens_in_titles(r, title, secret):
    out = r.redact_title(title)
    assert secret not in out, out


@pytest.mark.parametrize("title", [
    "README.md - workprint - Visual Studio Code", "Inbox (3) - Thunderbird",
    "s.replace(old, new) - python", "Pull request #42: fix parser - GitHub",
])
def test_ordinary_titles_are_kept(r, title):
    assert r.redact_title(title) == title


def test_shape_helpers():
    assert url_token("9c1e5b7d4a6f8e0c") and not url_token("deadbeefdeadbeef".upper().replace("D", "A") * 0 + "roadmap-2024-q3")
    assert secret_param("X-Auth-Token") and secret_param("pw") and not secret_param("page")
