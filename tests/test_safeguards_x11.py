"""Safeguards end to end on a real X desktop: the recorder is tried with passwords,
secrets, denied apps and pauses, and the stored bytes are searched for leaks."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from workprint.events import FocusEvent, GapEvent, KeyEvent
from workprint.store.session import DataDir

from conftest import wait_for
from test_record_cli import POLICY, WORKPRINT, accept_notice

SECRETS = ["Sup3rS3cret-pw!", "bob.smith@example.org", "AKIAIOSFODNN7EXAMPLQ", "hunter2-vault"]


def start(desk, data: Path) -> subprocess.Popen:
    accept_notice(data)
    proc = subprocess.Popen([*WORKPRINT, "record", "--data-dir", str(data), "--policy", str(POLICY)],
                            env=desk.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "recording session" in proc.stderr.readline()
    time.sleep(1.0)
    return proc


def stop(proc) -> str:
    proc.send_signal(2)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out.strip().splitlines()[-1]


def all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def stored_text(session) -> str:
    return "".join(k.char or "" for k in session.events(["key_down"]))


def test_secrets_passwords_and_denied_apps_never_reach_disk(desk, tmp_path):
    term = desk.xterm("safe-term", geometry="90x20+20+20")
    _, vault, _ = desk.workbench("Vault", geometry="500x400+1300+600")  # claims to be a password manager
    desk.vd.spawn([sys.executable, str(Path(__file__).parent / "apps" / "workbench.py"), "--title", "KeePassXC",
                   "--class", "KeePassXC", "--state", str(tmp_path / "kp.json"), "--geometry", "500x400+1350+80"])
    keepass = desk.vd.wait_window("^KeePassXC$")
    _, bench, state = desk.workbench("Notes - Workbench", geometry="700x500+700+450")
    desk.activate(term)
    data = tmp_path / "data"
    proc = start(desk, data)
    x = desk.xdotool
    # a password prompt in the terminal: echo off, canonical mode
    x("type", "--delay", "20", "read -s -p 'Password: ' pw; echo got-it\n")
    time.sleep(0.5)
    x("type", "--delay", "20", SECRETS[0] + "\n")
    time.sleep(0.3)
    x("type", "--delay", "20", f"export AWS_ACCESS_KEY_ID={SECRETS[2]}\n")
    # a secret typed into an allowed app
    desk.activate(bench)
    x("mousemove", "--window", str(bench), "200", "150", "click", "1")
    x("type", "--delay", "20", f"mail {SECRETS[1]} about it")
    x("key", "Return")
    time.sleep(0.3)
    # a password manager: out of scope whatever the policy says
    desk.activate(keepass)
    x("mousemove", "--window", str(keepass), "200", "34", "click", "1")
    x("type", "--delay", "20", SECRETS[3])
    time.sleep(0.5)
    desk.activate(term)
    x("type", "--delay", "20", "echo visible-again\n")
    time.sleep(1.5)
    sid = stop(proc)
    folder = data / "sessions" / sid
    blob = all_bytes(folder)
    for secret in SECRETS:
        assert secret.encode() not in blob, f"{secret!r} reached disk"
    with DataDir(data).open(sid) as s:
        text = stored_text(s)
        assert "got-it" in text and "visible-again" in text and "mail " in text
        for secret in SECRETS:
            assert secret not in text
        keys = list(s.events(["key_down", "key_up"]))
        assert [k.down for k in keys if k.redacted == "PASSWORD"][:2] == [True, False]
        entities = {k.redacted for k in keys if k.redacted}
        assert {"PASSWORD", "EMAIL_ADDRESS"} <= entities
        assert entities & {"AWS_ACCESS_KEY", "SECRET"}, entities  # the exported key was masked
        apps = {f.app_id for f in s.events(["focus"])}
        assert "KeePassXC" not in apps and "XTerm" in apps and "Workbench" in apps
        gaps = [g for g in s.events(["gap"])]
        assert any(g.reason == "out_of_scope" for g in gaps)
        # the password manager's window is black in every stored frame
        geo = next(f for f in s.events(["focus"]) if f.app_id == "XTerm").geometry
        for ref in s.frames()[-3:]:
            img = np.asarray(s.frame_image(ref.frame_id))
            assert img[120:440, 1380:1820].max() == 0, f"denied window visible in {ref.reason} frame"
            assert img[geo.y + 5:geo.y + 100, geo.x + 5:geo.x + 300].max() > 0, "allowed window stays visible"


def test_pause_and_resume_from_the_command_line(desk, tmp_path):
    term = desk.xterm("pause-term")
    desk.activate(term)
    data = tmp_path / "data"
    proc = start(desk, data)
    run = lambda *a: subprocess.run([*WORKPRINT, *a, "--data-dir", str(data)], capture_output=True, text=True)
    out = run("status")
    assert out.returncode == 0 and "recording XTerm" in out.stdout
    desk.xdotool("type", "--delay", "20", "before ")
    time.sleep(1.2)
    out = run("pause")
    assert out.returncode == 0 and "paused" in out.stdout
    desk.xdotool("type", "--delay", "20", "during ")
    time.sleep(0.5)
    assert "paused" in run("status").stdout
    out = run("resume")
    assert out.returncode == 0 and "recording" in out.stdout
    desk.xdotool("type", "--delay", "20", "after")
    time.sleep(1.5)
    sid = stop(proc)
    with DataDir(data).open(sid) as s:
        text = stored_text(s)
        assert "before" in text and "after" in text and "during" not in text
        [gap] = [g for g in s.events(["gap"])]
        assert gap.reason == "paused" and gap.duration_ns > 0.3e9
    assert run("status").returncode == 8  # no recorder running any more: a clear error


def test_screen_lock_pauses_recording(desk, tmp_path):
    from Xlib import X
    from Xlib.display import Display

    desk.activate(desk.xterm("lock-term"))
    data = tmp_path / "data"
    proc = start(desk, data)
    desk.xdotool("type", "--delay", "20", "before ")
    time.sleep(1.2)
    d = Display(desk.display)
    d.force_screen_saver(X.ScreenSaverActive)
    d.sync()
    time.sleep(1.5)  # the recorder checks the lock state once a second
    desk.xdotool("type", "--delay", "20", "during ")
    time.sleep(0.5)
    d.force_screen_saver(X.ScreenSaverReset)
    d.sync()
    d.close()
    time.sleep(1.5)
    desk.xdotool("type", "--delay", "20", "after")
    time.sleep(1.5)
    sid = stop(proc)
    with DataDir(data).open(sid) as s:
        text = stored_text(s)
        assert "before" in text and "after" in text and "during" not in text
        assert [g.reason for g in s.events(["gap"])] == ["locked"]


def test_popups_follow_their_app_and_unattributable_ones_are_black(desk, tmp_path):
    """Override-redirect windows (menus, tooltips, notifications) are not in the window
    manager's list; they are blacked out with their app, or when no app can be told."""
    popup = [sys.executable, str(Path(__file__).parent / "apps" / "popup.py")]
    term = desk.xterm("popup-term", geometry="120x40+0+0")
    # a password manager's popup over the allowed terminal (main window elsewhere)
    desk.vd.spawn([*popup, "--class", "KeePassXC", "--main", "1500,700,300,200", "--popup", "100,100,200,120"])
    # a popup no app can be told for (no WM_CLASS, no managed window)
    desk.vd.spawn([*popup, "--popup", "400,100,200,120"])
    # an allowed app's own menu (same X client as its main window, no class of its own)
    desk.vd.spawn([*popup, "--class", "Workbench", "--main", "1500,100,300,200",
                   "--popup", "100,400,200,120", "--colour", "0x00ff00"])
    desk.vd.wait_window("^KeePassXC main$")
    desk.vd.wait_window("^Workbench main$")
    desk.activate(term)
    data = tmp_path / "data"
    proc = start(desk, data)
    desk.xdotool("type", "--delay", "30", "echo popups\n")
    time.sleep(1.5)
    sid = stop(proc)
    with DataDir(data).open(sid) as s:
        refs = s.frames()
        assert refs, "frames were stored"
        for ref in refs:
            img = np.asarray(s.frame_image(ref.frame_id).convert("RGB"))
            assert img[105:215, 105:295].max() == 0, f"denied app's popup visible ({ref.reason})"
            assert img[105:215, 405:595].max() == 0, f"unattributable popup visible ({ref.reason})"
            menu = img[405:515, 105:295]
            assert (menu[..., 1] == 255).all() and menu[..., 0].max() == 0, "allowed app's menu kept"


def _indicator_visible(desk) -> bool:
    out = subprocess.run(["xdotool", "search", "--onlyvisible", "--classname", "workprint-indicator"],
                         env=desk.env, capture_output=True, text=True)
    return bool(out.stdout.strip())


def test_eu_indicator_is_visible_exactly_while_a_task_is_recorded(desk, tmp_path):
    """EU profile: recording only inside user-started tasks, with a visible indicator;
    the indicator (red) is blacked out of the stored frames."""
    policy = tmp_path / "eu.toml"
    policy.write_text('[jurisdiction]\nprofile = "eu"\n[scope]\nallow_apps = ["XTerm"]\n')
    term = desk.xterm("eu-term", geometry="80x24+20+20")
    desk.activate(term)
    data = tmp_path / "data"
    subprocess.run([*WORKPRINT, "notice", "--accept", "--data-dir", str(data), "--policy", str(policy)],
                   env=desk.env, check=True, capture_output=True)
    proc = subprocess.Popen([*WORKPRINT, "record", "--data-dir", str(data), "--policy", str(policy)],
                            env=desk.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    control = lambda *a: subprocess.run([*WORKPRINT, *a, "--data-dir", str(data)], env=desk.env,
                                        check=True, capture_output=True)
    try:
        assert "recording session" in proc.stderr.readline()
        time.sleep(1.0)
        assert not _indicator_visible(desk), "no task yet: nothing is recorded, no indicator"
        control("task", "start", "rename the report")
        wait_for(lambda: _indicator_visible(desk), timeout=5, what="indicator shown")
        desk.xdotool("type", "--delay", "30", "echo in-task\n")
        time.sleep(1.0)
        control("pause")
        wait_for(lambda: not _indicator_visible(desk), timeout=5, what="indicator hidden while paused")
        control("resume")
        wait_for(lambda: _indicator_visible(desk), timeout=5, what="indicator back")
        control("task", "end")
        wait_for(lambda: not _indicator_visible(desk), timeout=5, what="indicator hidden after the task")
    finally:
        sid = stop(proc)
    with DataDir(data).open(sid) as s:
        assert "in-task" in stored_text(s)
        refs = [r for r in s.frames() if r.reason != "start"]
        assert refs
        for ref in refs:  # the bottom-right corner (the indicator) is black in stored frames
            img = np.asarray(s.frame_image(ref.frame_id).convert("RGB"))
            assert img[-20:-6, -60:-6].max() == 0, ref.reason


def test_prompts_that_echo_are_judged_by_their_words_on_screen(desk, tmp_path):
    """`read -p 'Enter PIN: '` and `input("Password for alice: ")` keep echo on, so the
    pty looks like any line being typed: the recorder reads the prompt off the screen.
    Neither secret may reach disk, not even as pixels, while an ordinary prompt's answer
    is kept."""
    from workprint.policy.redact_pixels import TesseractOcr, group_lines, upscale, to_ocr_gray

    pin, pw, name = "tulip-4471-kappa", "Tr0ub4dor-x9q", "workprint-demo"
    term = desk.xterm("prompt-term", geometry="80x24+20+20")
    desk.activate(term)
    data = tmp_path / "data"
    proc = start(desk, data)
    x = desk.xdotool
    x("type", "--delay", "20", "read -p 'Enter PIN: ' a; echo pin-done\n")
    time.sleep(0.7)
    x("type", "--delay", "30", pin + "\n")
    time.sleep(0.5)
    x("type", "--delay", "20", "python3 -c 'input(\"Password for alice: \")'; echo py-done\n")
    time.sleep(1.5)
    x("type", "--delay", "30", pw + "\n")
    time.sleep(0.5)
    x("type", "--delay", "20", "read -p 'Project name: ' b; echo name-done\n")
    time.sleep(0.7)
    x("type", "--delay", "30", name + "\n")
    time.sleep(1.5)
    sid = stop(proc)
    folder = data / "sessions" / sid
    blob = all_bytes(folder)
    for secret in (pin, pw, "4471", "ub4dor"):
        assert secret.encode() not in blob, f"{secret!r} reached disk"
    with DataDir(data).open(sid) as s:
        text = stored_text(s)
        assert "pin-done" in text and "py-done" in text and "name-done" in text
        assert name in text, "an ordinary prompt's answer is kept"
        assert pin not in text and pw not in text
        presses = [k for k in s.events(["key_down"]) if k.redacted == "PASSWORD"]
        assert len(presses) == 2, "one placeholder per secret"
        geo = next(f for f in s.events(["focus"]) if f.app_id == "XTerm").geometry
        ocr = TesseractOcr(psm=6)
        seen = []
        for ref in s.frames():
            img = np.asarray(s.frame_image(ref.frame_id).convert("RGB"), dtype=np.uint32)
            crop = img[geo.y:geo.y + geo.height, geo.x:geo.x + geo.width]
            bgrx = (crop[..., 0] << 16) | (crop[..., 1] << 8) | crop[..., 2]
            words = ocr.words(upscale(to_ocr_gray(bgrx), 2))
            seen.append(" ".join(line.text for line in group_lines(words)))
    screens = "\n".join(seen)
    assert "pin-done" in screens, "the OCR check reads the terminal (else it proves nothing)"
    leaked = [secret for secret in ("4471", "kappa", "ub4dor") if secret in screens]
    assert not leaked, f"{leaked!r} readable in a stored frame"


def test_an_answer_echoed_at_a_password_prompt_is_masked_however_ocr_reads_it(desk):
    """xterm's default bitmap font is small: OCR reads an echoed `Tr0ub4dor-x9q` as
    `Irpyvub4dor—xs¢`, too far from the value the keys spelled to be recognised - at every
    length while it is typed, too. The prompt before it is read well enough, and what
    follows a password prompt on its line is masked (frames of the screen as it is,
    masked by a fresh masker each, then read again the way the leak checks read them)."""
    from workprint.capture.linux.terminal_text import ScreenRegionGrabber
    from workprint.events import Geometry
    from workprint.policy.redact_pixels import (PROMPT_ANSWER, TesseractOcr, TextMasker, group_lines,
                                                to_ocr_gray, upscale)
    from workprint.policy.redact_text import Redactor

    answers = {"input": "Tr0ub4dor-x9q", "read": "tulip-4471-kappa"}
    prompts = {"input": "python3 -c 'input(\"Password for alice: \")'\n",
               "read": "read -p 'Enter PIN: ' a\n"}
    term = desk.xterm("echo-term", geometry="80x24+20+20")
    desk.activate(term)
    x = desk.xdotool
    shell = dict(line.split("=") for line in x("getwindowgeometry", "--shell", str(term)).split())
    geo = Geometry(int(shell["X"]), int(shell["Y"]), int(shell["WIDTH"]), int(shell["HEIGHT"]))
    grab, ocr = ScreenRegionGrabber(), TesseractOcr(psm=6)
    masked_counts = []
    for kind, answer in answers.items():
        x("type", "--delay", "20", prompts[kind])
        if kind == "input":  # python must have started (slow on a busy machine) before keys go to it
            wait_for(lambda: subprocess.run(["pgrep", "-f", "Password for alice"],
                                            capture_output=True).returncode == 0,
                     timeout=15, what="python waiting at its prompt")
        time.sleep(0.6)
        typed = 0
        for upto in (4, 11, len(answer)):  # (no piece may start with "-": xdotool takes it for an option)
            x("type", "--delay", "30", answer[typed:upto])
            typed = upto
            time.sleep(0.4)
            pixels = grab(geo)
            masker = TextMasker(Redactor())
            hits = masker.find(pixels, None, ())  # no known values: the prompt alone decides
            read = " ".join(line.text for line in group_lines(masker._words))
            assert "alice" in read or "PIN" in read, read  # the masker saw the prompt line
            masked_counts.append(sum(h.entity == PROMPT_ANSWER for h in hits))
            after = masker.mask(pixels, None, ())
            seen = " ".join(line.text for line in group_lines(ocr.words(upscale(to_ocr_gray(after), 2))))
            for piece in (answer[:upto][i:i + 4] for i in range(0, upto - 3)):
                assert piece not in seen, (answer[:upto], seen)
        x("key", "Return")
        time.sleep(0.5)
    assert all(masked_counts), masked_counts
