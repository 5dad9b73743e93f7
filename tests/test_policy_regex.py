"""Custom redaction patterns run under RE2: none can stall recording; what RE2 cannot take is
refused at ``policy check`` with the key and line."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from workprint.errors import PolicyError
from workprint.policy.model import parse_policy
from workprint.policy.redact_text import Redactor

WORKPRINT = [sys.executable, "-m", "workprint.cli"]


def _policy(*regexes: str) -> str:
    return "".join(f'[[redaction.patterns]]\nname = "P_{i}"\nregex = \'{rx}\'\n\n'
                   for i, rx in enumerate(regexes))


@pytest.mark.parametrize("regex", ["^(a+)+$", "(x+x+)+y", "(a|aa)+$", "^(\\w+\\s?)+$", "(.*a){12}"])
def test_catastrophic_backtracking_patterns_run_in_linear_time(regex):
    red = Redactor.from_policy(parse_policy(_policy(regex)), username=None, hostname=None)
    for text in ("a" * 5000 + "!", "x" * 5000, "word " * 1000 + "!"):
        t0 = time.perf_counter()
        red.detect(text)
        assert time.perf_counter() - t0 < 1.0, (regex, "a typing unit must never stall")


@pytest.mark.parametrize("regex,why", [
    ("(\\w)\\1", "backreference"), ("(?<=id:)\\d+", "lookbehind"), ("foo(?=bar)", "lookahead"),
    ("(?>a+)b", "atomic"), ("a++", "possessive"),
])
def test_patterns_re2_cannot_take_are_refused_with_key_and_line(regex, why):
    text = '[[redaction.patterns]]\nname = "OK_ID"\nregex = \'E\\d{6}\'\n\n' + _policy(regex).replace("P_0", "BAD_ID")
    with pytest.raises(PolicyError) as ei:
        parse_policy(text, source="team.toml")
    msg = str(ei.value)
    assert "team.toml" in msg and "redaction.patterns[1].regex" in msg and "line 7" in msg, msg
    assert "RE2" in msg and "linear" in msg, msg


def test_policy_check_command_names_the_pattern(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[scope]\nallow_apps = ["XTerm"]\n\n' + _policy("(?<=pw=)\\S+"))
    out = subprocess.run([*WORKPRINT, "policy", "check", str(path)], capture_output=True, text=True)
    assert out.returncode != 0
    assert "redaction.patterns[0].regex" in out.stderr and "line 6" in out.stderr, out.stderr
    path.write_text('[scope]\nallow_apps = ["XTerm"]\n\n' + _policy("^(a+)+$"))
    out = subprocess.run([*WORKPRINT, "policy", "check", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_custom_patterns_still_match():
    red = Redactor.from_policy(parse_policy(_policy("\\bE\\d{6}\\b", "(?i)proj-[a-z]{3}\\d{2}")),
                               username=None, hostname=None)
    assert red.redact("E123456 and PROJ-abc12 here").text == "<P_0> and <P_1> here"
    assert red.redact("é E123456").text == "é <P_0>", "offsets are characters, not bytes"
