"""Silent input is secret input, whoever reads it (issue 11, class 3).

xterm + bash. A secret is read without echo - by bash's ``read`` builtin in raw mode
(``read -rs -n 12``, ``read -s -n 6``), in canonical mode (``read -rsp``, ``stty -echo;
read``), by a Python ``getpass``, by vim's ``:X`` encryption-key prompt - and each test
proves the program received it (a hash of what it read, written to a file; vim's file is
encrypted) and that ordinary bash typing around it was recorded, then searches every byte
written for the secret. Ordinary typing in bash and in vim is kept as text.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from conftest import wait_for
from workprint.store.session import DataDir

from .leaks import CliStall, assert_no_leak, lagging_recorder, ocr_frames, recording, spelled

pytestmark = pytest.mark.x11


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _run(desk, tmp_path, command: str, secret: str, *, enter: bool, out_name: str = "got.txt",
         after_read: str = ""):
    term = desk.xterm("silent-term", geometry="100x24+20+20")
    desk.activate(term)
    data = tmp_path / "data"
    out = tmp_path / out_name
    x = desk.xdotool
    with recording(desk, data):
        x("type", "--delay", "25", "echo ordinary-before\n")
        time.sleep(1.2)
        x("type", "--delay", "25", command.format(out=out) + "\n")
        time.sleep(0.6)
        half = len(secret) // 2
        x("type", "--delay", "60", secret[:half])
        time.sleep(1.3)                         # a pause in the middle of the secret
        x("type", "--delay", "60", secret[half:])
        if enter:
            x("key", "Return")
        got = wait_for(lambda: out.exists() and out.read_text().strip(), what="the program's output")
        time.sleep(0.5)
        if after_read:
            x("type", "--delay", "25", after_read)
        x("type", "--delay", "25", "echo ordinary-after\n")
        time.sleep(1.5)
    return data, got


@pytest.mark.parametrize("command,secret,enter", [
    ("read -rs -n 12 -p 'Password: ' pw; printf %s \"$pw\" | md5sum > {out}", "lamps7purple", False),
    ("read -s -n 6 otp; printf %s \"$otp\" | md5sum > {out}", "482913", False),
    ("read -rsp 'Passphrase: ' pp; printf %s \"$pp\" | md5sum > {out}", "correct-Horse-417", True),
    ("stty -echo; read x; stty echo; printf %s \"$x\" | md5sum > {out}", "stty-Hidden-9981", True),
    ("python3 -c 'import getpass,hashlib; print(hashlib.md5(getpass.getpass().encode()).hexdigest())' > {out}",
     "getpass-Secret-55", True),
], ids=["read-rs-n12", "read-s-n6-otp", "read-rsp-canonical", "stty-echo-read", "python-getpass"])
def test_a_secret_read_without_echo_is_not_recorded(desk, tmp_path, command, secret, enter):
    data, got = _run(desk, tmp_path, command, secret, enter=enter)
    assert got.split()[0] == _md5(secret)      # the program received exactly the secret
    views = spelled(data)
    assert "echo ordinary-before" in views["chars"] and "echo ordinary-after" in views["chars"], views["chars"]
    assert command.split()[0] in views["chars"]  # the command line itself is ordinary text
    assert_no_leak(data, [secret], export_dir=tmp_path / "export", ocr=True)


def test_vim_encryption_key_is_not_recorded_and_vim_editing_is(desk, tmp_path):
    term = desk.xterm("vim-term", geometry="100x24+20+20")
    desk.activate(term)
    data = tmp_path / "data"
    doc = tmp_path / "notes.txt"
    key = "vim-Crypt-Key-806"
    x = desk.xdotool
    with recording(desk, data):
        x("type", "--delay", "25", f"vim -u NONE -N {doc}\n")
        time.sleep(1.0)
        x("type", "--delay", "40", "ivim-edit-marker plain words")
        x("key", "Escape")
        time.sleep(1.2)
        # ':X', then Enter at a person's pace: a key judged after the Enter that opens the
        # prompt (a recorder behind by more than the 40 ms between keys) would be taken for
        # typed into that prompt and masked with it (fail closed; see README, limits)
        x("type", "--delay", "40", ":X")
        time.sleep(0.4)
        x("key", "Return")
        time.sleep(0.8)
        x("type", "--delay", "60", key + "\n")
        time.sleep(0.8)
        x("type", "--delay", "60", key + "\n")
        time.sleep(0.8)
        x("type", "--delay", "40", ":wq\n")
        wait_for(lambda: doc.exists() and doc.read_bytes().startswith(b"VimCrypt~"), what="an encrypted file")
        time.sleep(0.5)
        x("type", "--delay", "25", "echo ordinary-after\n")
        time.sleep(1.5)
    views = spelled(data)
    assert "vim-edit-marker plain words" in views["chars"], views["chars"]  # vim typing is kept
    assert "echo ordinary-after" in views["chars"]
    assert_no_leak(data, [key], export_dir=tmp_path / "export", ocr=True)


@pytest.mark.parametrize("command,mode", [
    ("python3 -c 'import getpass,hashlib; print(hashlib.md5(getpass.getpass().encode()).hexdigest())' > {out}",
     (False, True)),
    ("read -p 'Password for deploy: ' pw; printf %s \"$pw\" | md5sum > {out}", (True, True)),
], ids=["getpass-echo-off", "read-p-echoed-prompt"])
def test_a_prompt_opened_and_answered_while_the_recorder_is_behind_stays_secret(desk, tmp_path, command, mode):
    """The recorder's processing is stalled (as by a long OCR of a prompt on a busy machine)
    for the whole time a program opens a password prompt, reads the password and exits. When
    the gate gets to those keys, the terminal is an ordinary shell again; the state each key
    met, sampled as it was pressed (the tty's flags; for a prompt that echoes, the window's
    pixels, read by OCR later), still makes them secret. Real recorder pieces in this
    process (X11 backend, the Linux probe, the gate, the store), so the stall can be made."""
    term = desk.xterm("lag-term", geometry="100x24+20+20")
    desk.activate(term)
    data, out = tmp_path / "data", tmp_path / "got.txt"
    secret = "lamps7purple-Q"
    x = desk.xdotool
    with lagging_recorder(data) as rec:
        x("type", "--delay", "25", "echo ordinary-before\n")
        time.sleep(1.0)
        stalled_until = rec.stall(6.0)
        x("type", "--delay", "10", command.format(out=out) + "\n")
        wait_for(lambda: mode in _xterm_tty_modes(term, desk), what="the prompt to read", interval=0.01)
        x("type", "--delay", "30", secret + "\n")
        got = wait_for(lambda: out.exists() and out.read_text().strip(), what="the program's output", interval=0.02)
        assert time.monotonic() < stalled_until, "the prompt outlasted the stall: nothing was proved"
        time.sleep(max(0.0, stalled_until - time.monotonic()) + 0.5)
        x("type", "--delay", "25", "echo ordinary-after\n")
        time.sleep(1.5)
    assert got.split()[0] == _md5(secret)  # the program received exactly the secret
    views = spelled(data)
    assert "echo ordinary-before" in views["chars"] and "echo ordinary-after" in views["chars"], views["chars"]
    assert command.split()[0] + " " in views["chars"]  # the command line, typed before the prompt, is kept
    assert_no_leak(data, [secret])


def test_workprint_record_held_behind_an_echoed_prompt_keeps_its_password(desk, tmp_path):
    """``workprint record`` itself, in its own process, with frames and OCR masking as the
    example policy sets them: its processing thread is held (``leaks.CliStall``) while a
    prompt that echoes is opened, answered and closed, so every key of it is judged after the
    terminal is a shell again - by the tty state and the window sampled when it was pressed.
    The password leaves one placeholder and is nowhere: not in any byte under the data dir
    (session.db, its WAL, the quarantine), the stored keys, the three exports, or OCR of the
    terminal in the stored frames."""
    term = desk.xterm("cli-lag-term", geometry="100x24+20+20")
    desk.activate(term)
    data, out = tmp_path / "data", tmp_path / "got.txt"
    secret = "moss4Lantern-vq"
    stall = CliStall(tmp_path / "stall")
    x = desk.xdotool
    with recording(desk, data, stall=stall) as info:
        x("type", "--delay", "25", "echo ordinary-before\n")
        time.sleep(1.0)
        stall.hold(lambda: x("key", "shift"))  # a lone modifier: nothing to bash, input to the recorder
        x("type", "--delay", "10", f"read -p 'Password for deploy: ' pw; printf %s \"$pw\" | md5sum > {out}\n")
        wait_for(lambda: (True, True) in _xterm_tty_modes(term, desk), what="the prompt to read", interval=0.01)
        time.sleep(0.2)  # drawn
        x("type", "--delay", "30", secret + "\n")
        got = wait_for(lambda: out.exists() and out.read_text().strip(), what="the program's output", interval=0.02)
        time.sleep(0.3)  # the shell is back in front
        assert stall.holding, "the processor was released before the prompt closed: nothing was proved"
        stall.release()
        x("type", "--delay", "25", "echo ordinary-after\n")
        time.sleep(1.5)
    assert got.split()[0] == _md5(secret)  # the program received exactly the secret
    views = spelled(data)
    assert "echo ordinary-before" in views["chars"] and "echo ordinary-after" in views["chars"], views["chars"]
    assert "read -p 'Password for deploy: ' pw" in views["chars"]  # the command that opened it is kept
    with DataDir(data).open(info["session"]) as s:
        assert s.meta["secure_input"]["terminal"].endswith("+key-time")  # the sampler is on
        placeholders = [k for k in s.events(["key_down"]) if k.redacted == "PASSWORD"]
    assert len(placeholders) == 1, "one placeholder for the one password"
    assert_no_leak(data, [secret], export_dir=tmp_path / "export")
    geo = dict(line.split("=") for line in x("getwindowgeometry", "--shell", str(term)).split())
    screens = ocr_frames(data, (int(geo["X"]), int(geo["Y"]), int(geo["WIDTH"]), int(geo["HEIGHT"])))
    # any ordinary text of the terminal will do (under load the frames of one line may all
    # be waiting for OCR when the recording stops, and are dropped, never stored unmasked)
    assert any(word in text for text in screens for word in ("ordinary", "md5sum", "Password for")), \
        "the OCR check reads the terminal (else it proves nothing)"
    squeezed = [text.replace(" ", "").replace("\n", "") for text in screens]
    assert not [t for t in screens + squeezed if secret in t or "Lantern" in t], "the password is readable in a frame"


def _xterm_tty_modes(window: int, desk) -> list:
    """(echo, canonical) of each pty below the xterm of ``window``."""
    from workprint.capture.linux.tty import _descendants, pts_path, tty_mode

    pid = int(desk.xdotool("getwindowpid", str(window)).strip())
    paths = {pts_path(tty) for _, tty, _ in _descendants(pid).values() if tty}
    return [tty_mode(p) for p in paths if p]
