"""`workprint policy check` and `workprint policy show` as a program owner runs them."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from workprint.policy.model import default_policy, load_policy

WORKPRINT = [sys.executable, "-m", "workprint.cli"]

GOOD = """\
[jurisdiction]
profile = "eu"

[scope]
allow_apps = ["XTerm", "code"]
deny_sites = ["*.internal-hr.example.com"]

[[redaction.patterns]]
name = "EMPLOYEE_ID"
regex = "\\\\bE\\\\d{6}\\\\b"
"""


def _cli(*args: str) -> subprocess.CompletedProcess:
    """The command run in this process (``workprint.cli.main``, exactly what the program
    runs; a process per call cost ~0.5 s each). The first test runs the real program once."""
    from workprint.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            rc = exc.code
    return subprocess.CompletedProcess(["workprint", *args], rc, out.getvalue(), err.getvalue())


def test_check_ok_prints_the_hash(tmp_path):
    f = tmp_path / "policy.toml"
    f.write_text(GOOD)
    out = subprocess.run([*WORKPRINT, "policy", "check", str(f)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"ok: {load_policy(f).hash}"
    js = json.loads(_cli("policy", "check", str(f), "--json").stdout)
    assert js == {"ok": True, "file": str(f), "hash": load_policy(f).hash, "warnings": []}


@pytest.mark.parametrize("text,key,line", [
    ("[scope]\nallow_apps = [\"XTerm\"]\nalow_sites = []\n", "scope.alow_sites", 3),
    ("\n[retention]\ndays = 0\n", "retention.days", 3),
    ("[jurisdiction]\nprofile = \"eu\"\nindicator = false\n", "jurisdiction.indicator", 3),
    ("[pause]\nhotkey = \"p\"\n", "pause.hotkey", 2),
])
def test_check_bad_policy_exits_6_naming_file_key_and_line(tmp_path, text, key, line):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    out = _cli("policy", "check", str(f))
    assert out.returncode == 6
    assert out.stdout == ""
    assert str(f) in out.stderr and key in out.stderr and f"line {line}" in out.stderr


def test_check_missing_file_exits_6(tmp_path):
    out = _cli("policy", "check", str(tmp_path / "nope.toml"))
    assert out.returncode == 6 and "not found" in out.stderr


def test_check_invalid_toml_exits_6(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text("[scope\n")
    out = _cli("policy", "check", str(f))
    assert out.returncode == 6 and "not valid TOML" in out.stderr


def test_show_without_file_is_the_builtin_default_with_safeguards():
    out = _cli("policy", "show", "--json")
    assert out.returncode == 0, out.stderr
    js = json.loads(out.stdout)
    assert js["source"] == "<default>" and js["hash"] == default_policy().hash
    p = js["policy"]
    assert p["jurisdiction"] == {"profile": "us", "episodes_only": False, "indicator": True}
    assert p["retention"]["days"] == 90 and p["scope"]["allow_apps"] == []
    assert "keepassxc" in p["builtin"]["deny_apps"] and "PASSWORD" in p["builtin"]["entities"]


def test_show_with_file_applies_jurisdiction_defaults(tmp_path):
    f = tmp_path / "policy.toml"
    f.write_text(GOOD)
    p = json.loads(_cli("policy", "show", "--policy", str(f), "--json").stdout)["policy"]
    assert p["jurisdiction"]["episodes_only"] is True and p["retention"]["days"] == 30
    assert p["scope"]["allow_apps"] == ["XTerm", "code"]
    assert p["redaction"]["patterns"] == [{"name": "EMPLOYEE_ID", "regex": "\\bE\\d{6}\\b"}]


def test_show_text_is_toml_equal_to_the_effective_policy(tmp_path):
    f = tmp_path / "policy.toml"
    f.write_text(GOOD)
    out = _cli("policy", "show", "--policy", str(f))
    assert out.returncode == 0, out.stderr
    assert f"# hash {load_policy(f).hash}" in out.stdout
    assert tomllib.loads(out.stdout) == load_policy(f).to_dict()


def test_show_with_bad_file_exits_6(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("[scope]\nallow_apps = \"XTerm\"\n")
    out = _cli("policy", "show", "--policy", str(f))
    assert out.returncode == 6 and "scope.allow_apps" in out.stderr and "line 2" in out.stderr


def test_policy_without_verb_is_a_usage_error():
    out = _cli("policy")
    assert out.returncode == 2


def test_show_text_of_the_default_policy_is_toml_too():
    out = _cli("policy", "show")
    assert tomllib.loads(out.stdout) == default_policy().to_dict()


@pytest.mark.parametrize("key,pattern", [
    ("allow_apps", "Jot[ter"), ("allow_apps", "[z-a]"), ("deny_apps", "^KeePass$"),
    ("allow_sites", "wiki\\\\.corp"), ("deny_sites", "*bank[9-0]*"), ("allow_apps", "Calc[!]"),
])
def test_check_rejects_globs_that_cannot_mean_what_they_say(tmp_path, key, pattern):
    f = tmp_path / "bad.toml"
    f.write_text(f'[scope]\nallow_apps = ["XTerm"]\n{key} = [{json.dumps(pattern)}]\n'
                 .replace('allow_apps = ["XTerm"]\nallow_apps', "allow_apps"))
    out = _cli("policy", "check", str(f))
    assert out.returncode == 6, out.stdout
    assert f"scope.{key}" in out.stderr and str(f) in out.stderr and "line " in out.stderr


@pytest.mark.parametrize("scope,warned", [
    ('allow_apps = ["*"]', "every app"),
    ('allow_apps = ["XTerm", "*term*"]', "terminals"),
    ('allow_apps = ["*fox*"]', "browsers"),
    ('allow_apps = ["XTerm"]\nallow_sites = ["*"]', "every site"),
    ('allow_apps = ["XTerm"]\nallow_sites = ["*.com"]', "top-level domain"),
])
def test_check_warns_on_patterns_wider_than_meant_and_strict_refuses_them(tmp_path, scope, warned):
    f = tmp_path / "wide.toml"
    f.write_text(f"[scope]\n{scope}\n")
    out = _cli("policy", "check", str(f))
    assert out.returncode == 0 and out.stdout.startswith("ok: ")
    line = 2 + scope.count("\n")  # the key that holds the pattern
    assert "warning:" in out.stderr and warned in out.stderr and f"line {line}" in out.stderr
    js = json.loads(_cli("policy", "check", str(f), "--json").stdout)
    assert js["warnings"] and warned in js["warnings"][0]["message"]
    strict = _cli("policy", "check", str(f), "--strict")
    assert strict.returncode == 6 and warned in strict.stderr


def test_narrow_globs_and_the_example_policy_pass_strict(tmp_path):
    f = tmp_path / "narrow.toml"
    f.write_text('[scope]\nallow_apps = ["XTerm", "libreoffice-*", "gnome-terminal*", "[Cc]ode"]\n'
                 'allow_sites = ["*.corp.example.com", "github.com", "docs.*"]\n')
    for path in (f, Path(__file__).resolve().parent.parent / "examples" / "policy.toml"):
        out = _cli("policy", "check", str(path), "--strict")
        assert out.returncode == 0 and "warning" not in out.stderr, out.stderr
