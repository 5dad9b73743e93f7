"""The recording notice, its acknowledgement and the stored receipts."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import workprint.policy.notice as notice_mod
from workprint.errors import NoticeNotAccepted
from workprint.identity import contributor_pseudonym
from workprint.policy.model import default_policy, load_policy, parse_policy
from workprint.policy.notice import (accept, current_receipt, notice_text, receipt_status,
                                     require_acknowledged)

WORKPRINT = [sys.executable, "-m", "workprint.cli"]
LOGIN = "zed-distinctive-login"
POLICY = '[scope]\nallow_apps = ["XTerm", "code"]\n[pause]\nhotkey = "ctrl+alt+f9"\n'


@pytest.fixture(autouse=True)
def fake_login(monkeypatch):
    # getpass.getuser() reads these first, in this process and in the CLI subprocesses.
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(var, LOGIN)
    monkeypatch.delenv("WORKPRINT_ORG_KEY", raising=False)
    monkeypatch.delenv("WORKPRINT_ORG_KEY_FILE", raising=False)


@pytest.fixture
def policy_file(tmp_path) -> Path:
    p = tmp_path / "policy.toml"
    p.write_text(POLICY)
    return p


def _cli(*args: str):
    return subprocess.run([*WORKPRINT, *args], capture_output=True, text=True, timeout=60)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_us_notice_says_what_why_how_long_and_rights(policy_file):
    text = _flat(notice_text(load_policy(policy_file)))
    for phrase in ("keys you press", "mouse clicks", "title and name of the window",
                   "screenshots of the allowed apps", "Allowed apps: XTerm, code",
                   "password fields", "Only to train AI agents",
                   "never used to evaluate your performance", "to monitor you",
                   "at most 90 days", "ctrl+alt+f9", "workprint pause",
                   "workprint forget --last 10m", "workprint forget --session ID",
                   "access, portability", "US profile"):
        assert phrase in text, phrase
    assert "GDPR" not in text


def test_eu_notice_uses_gdpr_wording_and_eu_defaults():
    text = _flat(notice_text(default_policy("eu")))
    for phrase in ("EU / GDPR profile", "Under the GDPR", "only inside task episodes",
                   "visible indicator", "at most 30 days", "erasure (Art. 17)",
                   "data portability (Art. 20)", "Allowed apps and sites: none"):
        assert phrase in text, phrase


def test_notice_follows_the_policy():
    base = notice_text(default_policy())
    assert notice_text(parse_policy("[retention]\ndays = 14\n")) != base
    assert "at most 14 days" in _flat(notice_text(parse_policy("[retention]\ndays = 14\n")))
    assert "no screenshots" in _flat(notice_text(parse_policy("[screenshots]\nenabled = false\n")))
    assert notice_text(default_policy()) == base  # deterministic


def test_cli_accept_stores_a_receipt_without_the_login(tmp_path, policy_file):
    data = tmp_path / "data"
    out = _cli("notice", "--accept", "--data-dir", str(data), "--policy", str(policy_file), "--json")
    assert out.returncode == 0, out.stderr
    path = Path(json.loads(out.stdout)["path"])
    assert path.parent == data / "consent"
    receipt = json.loads(path.read_text())
    policy = load_policy(policy_file)
    assert receipt["policy_hash"] == policy.hash
    assert receipt["notice_version"] == notice_mod.NOTICE_VERSION
    assert receipt["how"] == "cli" and receipt["jurisdiction"] == "us"
    assert receipt["accepted_at"].endswith("+00:00")
    assert receipt["contributor"] == contributor_pseudonym(data)
    assert LOGIN not in path.read_text() and str(tmp_path) not in path.read_text()
    assert current_receipt(data, policy) is not None


def test_notice_command_shows_status_before_and_after(tmp_path, policy_file):
    data = str(tmp_path / "data")
    before = json.loads(_cli("notice", "--data-dir", data, "--policy", str(policy_file),
                             "--json").stdout)
    assert before["acknowledged"] is False and "Only to train AI agents" in _flat(before["notice"])
    text = _cli("notice", "--data-dir", data, "--policy", str(policy_file)).stdout
    assert "Status: not acknowledged" in text and "notice --accept" in text
    assert _cli("notice", "--accept", "--data-dir", data, "--policy", str(policy_file)).returncode == 0
    after = json.loads(_cli("notice", "--data-dir", data, "--policy", str(policy_file),
                            "--json").stdout)
    assert after["acknowledged"] is True and after["receipt"]["how"] == "cli"


def test_a_changed_policy_needs_a_new_acknowledgement(tmp_path):
    accept(tmp_path, parse_policy(POLICY), how="cli")
    changed = parse_policy(POLICY + "[retention]\ndays = 10\n")
    receipt, why = receipt_status(tmp_path, changed)
    assert receipt is None and "policy changed" in why
    assert current_receipt(tmp_path, parse_policy(POLICY)) is not None
    # Receipts are kept, never overwritten: acknowledging the new policy adds a second one.
    accept(tmp_path, changed, how="cli")
    assert len(list((tmp_path / "consent").glob("receipt-*.json"))) == 2
    assert current_receipt(tmp_path, changed) is not None
    assert current_receipt(tmp_path, parse_policy(POLICY)) is not None


def test_a_new_notice_version_needs_a_new_acknowledgement(tmp_path, monkeypatch):
    policy = default_policy()
    accept(tmp_path, policy, how="cli")
    monkeypatch.setattr(notice_mod, "NOTICE_VERSION", notice_mod.NOTICE_VERSION + 1)
    receipt, why = receipt_status(tmp_path, policy)
    assert receipt is None and "notice changed" in why


def test_receipt_of_another_contributor_does_not_count(tmp_path, monkeypatch):
    policy = default_policy()
    accept(tmp_path, policy, how="cli")
    monkeypatch.setenv("LOGNAME", "someone-else")
    receipt, why = receipt_status(tmp_path, policy)
    assert receipt is None and "another contributor" in why


def test_damaged_receipt_counts_as_none(tmp_path):
    (tmp_path / "consent").mkdir()
    (tmp_path / "consent" / "receipt-20260101T000000000000Z-abc.json").write_text("{not json")
    assert current_receipt(tmp_path, default_policy()) is None


def test_not_interactive_without_receipt_says_how_to_accept(tmp_path, policy_file):
    policy = load_policy(policy_file)
    with pytest.raises(NoticeNotAccepted) as err:
        require_acknowledged(tmp_path, policy, interactive=False)
    msg = str(err.value)
    assert "workprint notice --accept" in msg and f"--data-dir {tmp_path}" in msg
    assert f"--policy {policy_file}" in msg
    assert err.value.exit_code == 7
    assert not (tmp_path / "consent").exists()


def test_not_interactive_with_receipt_passes(tmp_path):
    policy = default_policy("eu")
    stored = accept(tmp_path, policy, how="cli")
    assert require_acknowledged(tmp_path, policy, interactive=False) == stored


def test_interactive_yes_shows_the_notice_and_stores_a_receipt(tmp_path):
    policy = default_policy("eu")
    out = io.StringIO()
    receipt = require_acknowledged(tmp_path, policy, interactive=True, input=io.StringIO("yes\n"),
                                   output=out)
    assert receipt.how == "interactive" and receipt.jurisdiction == "eu"
    assert "Under the GDPR" in out.getvalue() and "Type yes" in out.getvalue()
    assert current_receipt(tmp_path, policy) == receipt
    # Asked once: the second call finds the receipt and prints nothing.
    again = io.StringIO()
    require_acknowledged(tmp_path, policy, interactive=True, input=io.StringIO(""), output=again)
    assert again.getvalue() == ""


@pytest.mark.parametrize("answer", ["no\n", "y\n", "\n", ""])
def test_interactive_anything_but_yes_refuses(tmp_path, answer):
    with pytest.raises(NoticeNotAccepted, match="notice --accept"):
        require_acknowledged(tmp_path, default_policy(), interactive=True,
                             input=io.StringIO(answer), output=io.StringIO())
    assert current_receipt(tmp_path, default_policy()) is None


def test_accept_rejects_unknown_how(tmp_path):
    with pytest.raises(ValueError):
        accept(tmp_path, default_policy(), how="implied")
