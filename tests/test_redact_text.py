"""Redactor: typed placeholders for PII and secrets, offline, fast, with URL/title helpers."""

from __future__ import annotations

import socket
import threading

import pytest

from workprint.policy.model import parse_policy
from workprint.policy.redact_text import Redactor


@pytest.fixture(scope="module")
def r() -> Redactor:
    return Redactor(username="jdoe", hostname="jdoe-laptop.corp.example.com")


@pytest.mark.parametrize("text,entity,value", [
    ("mail bob.smith@example.org today", "EMAIL_ADDRESS", "bob.smith@example.org"),
    ("call (415) 823-4567 now", "PHONE_NUMBER", "823-4567"),
    ("call +44 20 7946 0321", "PHONE_NUMBER", "7946 0321"),
    ("card 4539 1488 0343 6467 exp", "CREDIT_CARD", "4539 1488 0343 6467"),
    ("IBAN DE89 3704 0044 0532 0130 00", "IBAN_CODE", "3704 0044"),
    ("host 10.20.30.40 down", "IP_ADDRESS", "10.20.30.40"),
    ("ssn 219-09-9999", "US_SSN", "219-09-9999"),
    ("AKIAQWERTYUIOPASDFGH", "AWS_ACCESS_KEY", "AKIAQWERTYUIOPASDFGH"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENGbPxRfiCYzEXAMPLEKEY",
     "AWS_ACCESS_KEY", "wJalrXUtnFEMIK7MDENG"),
    ("ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "GITHUB_TOKEN", "ghp_a1B2"),
    ("xoxb-123456789012-123456789012-AbCdEfGhIjKlMnOpQrStUvWx", "SLACK_TOKEN", "xoxb-1234"),
    ("t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlc2lnbmF0dXJl", "JWT", "eyJhbGci"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
     "PRIVATE_KEY", "MIIEowIBAAKCAQEA"),
    ("password=hunter2!", "PASSWORD", "hunter2!"),
    ("passwd: Tr0ub4dor", "PASSWORD", "Tr0ub4dor"),
    ("mycli --password 's3cr et'", "PASSWORD", "s3cr et"),
    ("psql postgres://app:pa55w0rd@db.internal/app", "PASSWORD", "pa55w0rd"),
    ("STRIPE=sk_live_4eC39HqLyjWDarjtT1zdp7dc", "SECRET", "sk_live_4eC39"),
    ('api_key = "Zx81Kq0LmN3pR7sT9vW2yB4dF6hJ"', "SECRET", "Zx81Kq0LmN3p"),
    ("Authorization: Bearer 8f3Kd9xLq2Vn7Rt5Wy1Zb4Hc6Jm0Pe", "SECRET", "8f3Kd9xLq2Vn"),
    ("key AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "SECRET", "AIzaSyA1b2"),
    ("cd /home/alice/src", "HOME_PATH", "/home/alice"),
    (r"type C:\Users\Bob\notes.txt", "HOME_PATH", "Bob"),
    ("logged in as jdoe", "USERNAME", "jdoe"),
    ("ssh JDOE-LAPTOP", "HOSTNAME", "JDOE-LAPTOP"),
])
def test_detects_and_replaces_with_typed_placeholder(r, text, entity, value):
    red = r.redact(text)
    assert f"<{entity}>" in red.text, red
    assert value not in red.text
    assert any(sp.entity == entity for sp in red.spans)


@pytest.mark.parametrize("text", [
    "git commit -m 'Fix JIRA-1234: handle empty input'", "git show 3f9a2c1d4e5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f",
    "request_id=123e4567-e89b-42d3-a456-426614174000 status=200", "pip install requests==2.31.0",
    "Order #48213 shipped, total $1,299.00", "Meeting moved to 2024-11-25 at 10:30",
    "password = getpass.getpass('Password: ')", "if not password:\n    raise ValueError()",
    "The password reset done for the qa team", "curl http://127.0.0.1:8000/health",
    "ls -la /opt/app/bin", "compass: north", "token = auth.get_token()",
    "password: ********", "DB_PASSWORD=${DB_PASSWORD}", "xs = a[1::2]; std::vector<int> v;",
])
def test_ordinary_work_text_untouched(r, text):
    assert r.redact(text).text == text


def test_luhn_required_for_cards(r):
    assert "<CREDIT_CARD>" in r.redact("4539 1488 0343 6467").text
    assert "<CREDIT_CARD>" not in r.redact("4539 1488 0343 6468").text


def test_iban_checksum_required(r):
    assert "<IBAN_CODE>" not in r.redact("IBAN DE88 3704 0044 0532 0130 00").text


def test_spans_refer_to_original_text(r):
    text = "mail a.b@example.com and 10.1.2.3"
    red = r.redact(text)
    assert [text[s.start:s.end] for s in red.spans] == ["a.b@example.com", "10.1.2.3"]
    assert red.text == "mail <EMAIL_ADDRESS> and <IP_ADDRESS>"


def test_private_key_block_wins_over_inner_matches(r):
    block = "-----BEGIN OPENSSH PRIVATE KEY-----\npassword=abc123\n-----END OPENSSH PRIVATE KEY-----"
    assert r.redact(block).text == "<PRIVATE_KEY>"
    # an unfinished block (still being typed) is redacted to the end
    assert r.redact("-----BEGIN PRIVATE KEY-----\nMIIE").text == "<PRIVATE_KEY>"


def test_generic_names_not_scrubbed():
    red = Redactor(username="dev", hostname="localhost")
    assert red.redact("dev build on localhost").text == "dev build on localhost"


def test_default_username_and_hostname_are_the_machines():
    red = Redactor()
    host = socket.gethostname().split(".")[0]
    if len(host) >= 3 and host.lower() not in ("localhost",):
        assert host not in red.redact(f"built on {host}").text


def test_policy_patterns_and_extra_entities():
    pol = parse_policy('[redaction]\nextra_entities = ["UUID"]\n'
                       '[[redaction.patterns]]\nname = "EMPLOYEE_ID"\nregex = "\\\\bE\\\\d{6}\\\\b"\n')
    red = Redactor.from_policy(pol, username=None, hostname=None)
    out = red.redact("E123456 opened 123e4567-e89b-42d3-a456-426614174000").text
    assert out == "<EMPLOYEE_ID> opened <UUID>"


def test_redact_url(r):
    u = r.redact_url("https://alice:pw@app.example.com/reset/Zx81Kq0LmN3pR7sT9vW2yB4dF6hJ"
                     "?token=abc&q=hello&email=bob%40example.org#access_token=xyz")
    assert u.startswith("https://<USERNAME>:<PASSWORD>@app.example.com/reset/<SECRET>?")
    assert "token=<SECRET>" in u and "q=hello" in u and "<EMAIL_ADDRESS>" in u
    assert "access_token=<SECRET>" in u and "xyz" not in u and "abc" not in u
    plain = "https://github.com/acme/api/pull/42?tab=files"
    assert r.redact_url(plain) == plain


def test_redact_title(r):
    assert r.redact_title("Inbox (3) - bob@example.org - Thunderbird") == \
        "Inbox (3) - <EMAIL_ADDRESS> - Thunderbird"


def test_no_network_and_thread_safe(r, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("network access attempted")
    monkeypatch.setattr(socket, "create_connection", boom)
    monkeypatch.setattr(socket.socket, "connect", boom)
    results: list[str] = []

    def work():
        for _ in range(50):
            results.append(r.redact("write to x.y@example.net from 10.9.8.7").text)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {"write to <EMAIL_ADDRESS> from <IP_ADDRESS>"}
    # a fresh Redactor builds without the network too
    Redactor(username=None, hostname=None).redact("a@b.example.com")
