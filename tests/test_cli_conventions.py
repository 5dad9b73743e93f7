"""Conventions every command keeps: bad input ends in a message and an exit code, never a
traceback; ``--json`` answers in JSON on error too; the help's exit codes come from the one
error hierarchy; ``--version``; ``serve`` says where it listens."""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from workprint import __version__, errors
from workprint.cli import build_parser, main

WORKPRINT = [sys.executable, "-m", "workprint.cli"]

# a bad (or merely harmless) value for every positional or required option of every command
POSITIONALS = {
    "out": "{tmp}/out", "role": "curator", "device_ids": "no-such-device", "file": "{tmp}/missing.toml",
    "contributor": "nobody", "text": "a task", "url": "http://127.0.0.1:9", "code": "not-a-code",
    "format": "agentnet", "session": "no-such-session", "export": "{tmp}/missing-export",
    "trajectory": "0", "sessions": "no-such-session", "token_id": "not-a-token-id",
}


def leaf_commands() -> list[tuple[list[str], argparse.ArgumentParser]]:
    out = []

    def walk(parser, path):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out.append((path, parser))
            return
        for name, sp in subs[0].choices.items():
            walk(sp, [*path, name])

    walk(build_parser(), [])
    return out


def bad_argv(path: list[str], parser: argparse.ArgumentParser, tmp) -> list[str]:
    argv = list(path)
    for a in parser._actions:
        if a.option_strings and not a.required:
            continue
        if isinstance(a, argparse._HelpAction):
            continue
        assert a.dest in POSITIONALS, f"add a bad-input value for {' '.join(path)} {a.dest!r} to POSITIONALS"
        value = POSITIONALS[a.dest].format(tmp=tmp)
        argv += [a.option_strings[0], value] if a.option_strings else [value]
    opts = {o for a in parser._actions for o in a.option_strings}
    if "--data-dir" in opts:
        argv += ["--data-dir", str(tmp / "a-file")]   # a file where a folder belongs
    elif "--policy" in opts:                         # no data dir (policy show): a missing policy file
        argv += ["--policy", str(tmp / "missing.toml")]
    if "--yes" in opts:
        argv.append("--yes")
    return argv


LEAVES = leaf_commands()


@pytest.mark.parametrize("path,parser", LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_bad_input_gives_a_message_and_an_exit_code_never_a_traceback(path, parser, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WORKPRINT_POLICY", raising=False)
    (tmp_path / "a-file").write_text("not a folder")
    argv = bad_argv(path, parser, tmp_path)
    try:
        rc = main(argv)            # a bug would raise here: main re-raises anything not a user error
    except SystemExit as exc:      # argparse: usage errors
        rc = exc.code
    err = capsys.readouterr().err
    if argv == path and not any(a.option_strings and a.type is not None for a in parser._actions):
        assert rc == 0, f"{argv} takes no input, yet failed: {err}"  # nothing that could be bad
        return
    assert rc not in (0, None), f"{argv} succeeded on bad input"
    assert "Traceback" not in err
    assert err.strip(), "a failing command says why"


@pytest.mark.parametrize("path,parser", [(p, q) for p, q in LEAVES if "--json" in {o for a in q._actions for o in a.option_strings}],
                         ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_json_commands_answer_errors_in_json(path, parser, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    (tmp_path / "a-file").write_text("not a folder")
    argv = [*bad_argv(path, parser, tmp_path), "--json"]
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    out = capsys.readouterr().out
    doc = json.loads(out)
    if argv == [*path, "--json"] and not any(a.option_strings and a.type is not None for a in parser._actions):
        assert rc == 0 and doc["ok"] is True  # takes no input: nothing that could be bad
        return
    assert doc["ok"] is False and doc["error"]["code"] == rc != 0
    assert doc["error"]["message"] and doc["error"]["type"]


# options whose bad values the walk above never reaches (it gives only required ones): each
# with a real data dir, so the option itself is what fails, and the words that must say so
BAD_OPTIONS = [
    (["forget", "--from", "not-a-time", "--yes"], "is not a time"),
    (["forget", "--from", "2026-01-02T10:00", "--to", "2026-01-02 09:00", "--yes"], "not after --from"),
    (["forget", "--from", "2999-01-01 00:00", "--yes"], "in the future"),
    (["forget", "--last", "10m", "--to", "12:00", "--yes"], "--to needs --from"),
    (["forget", "--from", "2026-01-02T10:00", "--session", "x", "--yes"], "not allowed with"),
    (["forget", "--from", "2026-01-02T10:00", "--to", "2026-01-02T11:00"], "--yes"),
    (["export", "--format", "aguvis", "--out", "{tmp}/o", "--aguvis-root", "relative/x"], "not an absolute path"),
    (["export", "--format", "agentnet", "--out", "{tmp}/o", "--aguvis-root", "/x"], "--format aguvis only"),
]


@pytest.mark.parametrize("argv,words", BAD_OPTIONS, ids=[" ".join(a[:3]) for a, _ in BAD_OPTIONS])
@pytest.mark.parametrize("json_out", [False, True], ids=["text", "json"])
def test_bad_option_values_are_reported_like_every_other_error(argv, words, json_out, tmp_path,
                                                               monkeypatch, capsys):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    argv = [a.format(tmp=tmp_path) for a in argv] + ["--data-dir", str(tmp_path / "d")]
    argv += ["--json"] if json_out else []
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    assert rc == 2 and "Traceback" not in err
    if json_out:
        doc = json.loads(out)
        assert doc["ok"] is False and doc["error"]["code"] == 2 and words in doc["error"]["message"]
    else:
        assert words in err and not out
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_usage_errors_under_json_are_json_too(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sessions", "--json", "--no-such-flag"])
    assert exc.value.code == 2
    assert json.loads(capsys.readouterr().out)["error"]["type"] == "UsageError"


def test_the_help_lists_every_exit_code_of_the_error_hierarchy():
    res = subprocess.run([*WORKPRINT, "--help"], capture_output=True, text=True, check=True)
    help_text = " ".join(res.stdout.split())
    codes = {cls.exit_code for cls in errors._all_classes()}
    assert {1, 2, 3, 4, 5, 6, 7, 8, 9} <= codes
    for code in codes:
        assert f" {code} " in help_text.split("exit codes:")[1], f"exit code {code} missing from --help"
    assert "9 capture stopped" in help_text


def test_version():
    res = subprocess.run([*WORKPRINT, "--version"], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == f"workprint {__version__}"


def test_a_real_failure_in_a_subprocess_has_no_traceback(tmp_path):
    (tmp_path / "f").write_text("x")
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    for argv in (["notice", "--accept", "--data-dir", str(tmp_path / "f")],
                 ["account", "erase", "--data-dir", str(tmp_path / "d")],
                 ["status", "--json", "--data-dir", str(tmp_path / "d")]):
        res = subprocess.run([*WORKPRINT, *argv], capture_output=True, text=True, env=env,
                             stdin=subprocess.DEVNULL, timeout=60)
        assert res.returncode != 0 and "Traceback" not in res.stderr, (argv, res.stderr)
    # account erase without a terminal and without --yes: refused before anything is asked
    res = subprocess.run([*WORKPRINT, "account", "erase", "--data-dir", str(tmp_path / "d")],
                         capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert res.returncode == 2 and "--yes" in res.stderr and "[y/N]" not in res.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_says_where_it_listens(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([*WORKPRINT, "serve", "--data-dir", str(tmp_path / "c"), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line, line + proc.stderr.read()
        url = line.split("collector at ")[1].split()[0]
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url + "/v1/health", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_output_piped_into_a_reader_that_stops_early_is_not_an_error_report(tmp_path):
    """`workprint policy show | head -0`: the reader is gone before the command writes.
    The command stops quietly with 141 (128 + SIGPIPE, as a shell reports it), no
    traceback; with a reader, the same command prints the policy and exits 0."""
    ok = subprocess.run([*WORKPRINT, "policy", "show"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout.strip(), ok.stderr
    read, write = os.pipe()
    os.close(read)  # no reader at all: the first write fails
    try:
        proc = subprocess.run([*WORKPRINT, "policy", "show"], stdout=write, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    finally:
        os.close(write)
    assert proc.returncode == 141, proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def test_the_collector_admin_listings_answer_in_json(tmp_path, capsys):
    """`admin tokens|contributors|devices --json` on success: JSON a program can read, with
    what was just made in it (the other listings' JSON is tested with their commands)."""
    srv = ["--data-dir", str(tmp_path / "collector")]
    assert main(["admin", "token", "--role", "curator", *srv]) == 0
    assert main(["admin", "enrolment-code", "--contributor", "alice", *srv]) == 0
    capsys.readouterr()
    assert main(["admin", "tokens", "--json", *srv]) == 0
    [token] = json.loads(capsys.readouterr().out)
    assert token["role"] == "curator" and token["revoked"] is None and token["id"]
    assert main(["admin", "contributors", "--json", *srv]) == 0
    [who] = json.loads(capsys.readouterr().out)
    assert who["devices"] == 0 and who["contributor"] and "alice" not in json.dumps(who)
    assert main(["admin", "devices", "--json", *srv]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize("argv,stdin,env", [
    (["-"], "", {}),                                     # '-' and nothing on standard input
    ([], "\n", {}),                                      # no CODE, no variable, not a terminal
    ([], "", {"WORKPRINT_ENROLL_CODE": "  "}),           # a blank variable is no code
], ids=["dash-empty", "no-code", "blank-env"])
def test_enroll_without_a_code_says_where_to_give_it(argv, stdin, env, tmp_path, monkeypatch, capsys):
    # The code may be kept out of the process list (stdin, the environment, a prompt); with none
    # of them it fails before contacting anything, saying where a code comes from.
    monkeypatch.delenv("WORKPRINT_ENROLL_CODE", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    rc = main(["enroll", "http://127.0.0.1:9", *argv, "--data-dir", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "no enrolment code" in err and "WORKPRINT_ENROLL_CODE" in err
    assert not (tmp_path / "d" / "device.json").exists()


def test_enroll_takes_its_code_from_stdin_the_environment_or_the_argument(monkeypatch):
    from workprint.commands.enroll import enrolment_code

    monkeypatch.setattr(sys, "stdin", io.StringIO(" k3-code \n"))
    assert enrolment_code("-") == "k3-code"
    monkeypatch.setenv("WORKPRINT_ENROLL_CODE", "from-env")
    assert enrolment_code(None) == "from-env"
    assert enrolment_code("given") == "given"             # an explicit argument wins
