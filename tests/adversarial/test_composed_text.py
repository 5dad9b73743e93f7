"""Secrets composed the way people really type them, on a real X desktop: split by pauses,
longer than the old run limit, edited with Home/arrows/Delete, multi-line key blocks and
.env blocks typed line by line - in xterm+bash and in the Tk form app.

Each test proves that the app received the composed text (bash writes what it read to a
file; the form app writes its fields to its state file) and that the recorder was recording
(an ordinary marker typed in the same session is spelled by the stored keys), then searches
every byte written, the text the stored keys spell, and all three exports.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import read_state, wait_for

from .keyboard import keymap_chars
from .leaks import assert_no_leak, recording, spelled

pytestmark = pytest.mark.x11

TYPE_DELAY = "12"


class Term:
    """An xterm running bash; lines typed into it are written by bash to ``out``."""

    def __init__(self, desk, tmp: Path, title: str = "compose-term"):
        self.desk = desk
        self.out = tmp / "typed.txt"
        self.wid = desk.xterm(title, geometry="150x30+20+20")
        desk.activate(self.wid)

    def type(self, text: str) -> None:
        self.desk.xdotool("type", "--delay", TYPE_DELAY, "--", text)

    def key(self, *keys: str, times: int = 1) -> None:
        self.desk.xdotool("key", "--delay", "15", "--repeat", str(times), "--repeat-delay", "15", *keys)

    def enter(self) -> None:
        self.key("Return")

    def wrote(self) -> str:
        return self.out.read_text() if self.out.exists() else ""

    def wait_line(self, line: str) -> None:
        """Proof the input reached the app: bash wrote the composed line."""
        wait_for(lambda: line in self.wrote().splitlines(), timeout=15,
                 what=f"bash to write {line!r} (got {self.wrote()[-300:]!r})")

    def marker(self, word: str) -> None:
        self.type(f"echo {word} >> {self.out}")
        self.enter()
        self.wait_line(word)


def _keymap(desk) -> dict[int, str]:
    from Xlib.display import Display

    conn = Display(desk.display)
    try:
        return keymap_chars(conn)
    finally:
        conn.close()


def check(desk, data: Path, tmp: Path, secrets: list[str], marker: str) -> None:
    views = spelled(data)
    assert marker in views["chars"], "the recorder did not record the marker typed in this session"
    assert_no_leak(data, secrets, export_dir=tmp / "exports", keymap=_keymap(desk))


# -- split by a pause over 1 s ------------------------------------------------------------------

PAUSE_VARIANTS = [  # (before the pause, after it, the value to search for)
    ("password=Zk8q", "-vault-Qm3", ["Zk8q-vault-Qm3"]),
    ("ghp_Q3xr7TmLk2Vw9H", "c4Nb6Yp1Zd8Fs5Gj0Ka2Lq", ["ghp_Q3xr7TmLk2Vw9Hc4Nb6Yp1Zd8Fs5Gj0Ka2Lq", "c4Nb6Yp1Zd8Fs5Gj0Ka2Lq"]),
    ("AKIAQYLPM", "N5HHHFPZAM2", ["AKIAQYLPMN5HHHFPZAM2", "N5HHHFPZAM2"]),
]


def test_terminal_secrets_split_by_a_pause(desk, tmp_path):
    term = Term(desk, tmp_path)
    data = tmp_path / "data"
    with recording(desk, data):
        term.marker("mark-pause-one")
        for i, (head, tail, _) in enumerate(PAUSE_VARIANTS):
            term.type(f"echo {head}")
            time.sleep(1.6 + i)         # 1.6 s, 2.6 s, 3.6 s: each over the old 1 s run gap
            term.type(f"{tail} >> {term.out}")
            term.enter()
            term.wait_line(head + tail)
        time.sleep(0.5)
    check(desk, data, tmp_path, [s for *_, ss in PAUSE_VARIANTS for s in ss], "mark-pause-one")


def test_form_field_secrets_split_by_a_pause(desk, tmp_path):
    _, wid, state = desk.workbench("Compose - Workbench", geometry="900x700+600+100")
    desk.activate(wid)
    data = tmp_path / "data"
    x = desk.xdotool
    with recording(desk, data):
        x("mousemove", "--window", str(wid), "300", "34", "click", "1")   # the Name entry
        x("type", "--delay", TYPE_DELAY, "--", "mark-form-pause")
        wait_for(lambda: read_state(state)["name"] == "mark-form-pause", what="the marker in the form")
        x("key", "Return")
        for head, tail, value in [("4539 5787", " 6362 1486", "4539 5787 6362 1486"),
                                  ("api_key=Rk4pW9", "xLq2Vn7Zt5", "Rk4pW9xLq2Vn7Zt5")]:
            x("key", "ctrl+a", "ctrl+k")     # Tk: line start, delete to end - an empty field
            x("type", "--delay", TYPE_DELAY, "--", head)
            time.sleep(2.2)
            x("type", "--delay", TYPE_DELAY, "--", tail)
            wait_for(lambda: value in read_state(state)["name"], what=f"{value!r} in the form")
            x("key", "Return")
        time.sleep(0.5)
    check(desk, data, tmp_path, ["4539 5787 6362 1486", "6362 1486", "Rk4pW9xLq2Vn7Zt5", "xLq2Vn7Zt5"],
          "mark-form-pause")


# -- past the old run limit ---------------------------------------------------------------------

def test_secrets_past_the_old_run_limit(desk, tmp_path):
    term = Term(desk, tmp_path)
    data = tmp_path / "data"
    # the old limit cut a run at 512 key events (256 characters): each secret starts a few
    # characters before that and ends after it
    variants = [("token=", "glpat-Xy7Rk2Mn9Pq4Lw8Zt3Vb", 240), ("card ", "5500 0055 5555 5559", 240),
                ("password=", "Tq9-rampart-Lx4", 240)]
    with recording(desk, data):
        term.marker("mark-long-line")
        for key, secret, n in variants:
            filler = ("lorem ipsum dolor sit amet " * 10)[:n]
            term.type(f"echo {filler}{key}{secret} end >> {term.out}")
            term.enter()
            term.wait_line(f"{filler}{key}{secret} end")
        time.sleep(0.5)
    check(desk, data, tmp_path, [s for _, s, _ in variants] + ["rampart-Lx4", "Xy7Rk2Mn9Pq4", "0055 5555 5559"],
          "mark-long-line")


def test_a_long_note_in_the_form_app(desk, tmp_path):
    _, wid, state = desk.workbench("Notes - Workbench", geometry="900x700+600+100")
    desk.activate(wid)
    data = tmp_path / "data"
    x = desk.xdotool
    filler = ("status update for the team " * 11)[:230]   # the secret straddles the old 256-character cut
    secret = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    with recording(desk, data):
        x("mousemove", "--window", str(wid), "250", "150", "click", "1")    # the notes box
        x("type", "--delay", TYPE_DELAY, "--", "mark-notes ")
        x("type", "--delay", TYPE_DELAY, "--", filler + "stripe " + secret + " thanks")
        wait_for(lambda: read_state(state)["notes"].endswith(secret + " thanks"), timeout=20,
                 what="the note in the form")
        x("key", "Return")
        time.sleep(0.5)
    check(desk, data, tmp_path, [secret, "4eC39HqLyjWD", "HqLyjWDarjtT1zdp7dc"], "mark-notes")


# -- edited with Home / arrows / Delete / ctrl+a ------------------------------------------------

def test_terminal_secrets_edited_with_home_arrows_and_delete(desk, tmp_path):
    term = Term(desk, tmp_path)
    data = tmp_path / "data"
    with recording(desk, data):
        term.marker("mark-edits")
        # 1. the end of a password first, then Home and its start
        term.type(f"vault-Qm3 >> {term.out}")
        term.key("Home")
        term.type("echo password=Zk8q-")
        term.enter()
        term.wait_line("password=Zk8q-vault-Qm3")
        # 2. a token with a gap, filled in after moving Left
        token = "ghp_Q3xr7TmLk2Vw9Hc4Nb6Yp1Zd8Fs5Gj0Ka2Lq"
        term.type(f"echo {token[:12]}{token[24:]} >> {term.out}")
        term.key("Left", times=len(token[24:]) + len(f" >> {term.out}"))
        term.type(token[12:24])
        term.enter()
        term.wait_line(token)
        # 3. an AWS key id typed with two stray characters, removed with Delete
        term.type(f"echo AKIAQYLPMN5H##HHFPZAM2 >> {term.out}")
        term.key("Home")
        term.key("Right", times=len("echo AKIAQYLPMN5H"))
        term.key("Delete", times=2)
        term.enter()
        term.wait_line("AKIAQYLPMN5HHHFPZAM2")
        # 4. ctrl+a (bash: start of line) - a chord whose effect depends on the app
        term.type(f"5787 6362 1486 >> {term.out}")
        term.key("ctrl+a")
        term.type("echo 4539 ")
        term.enter()
        term.wait_line("4539 5787 6362 1486")
        time.sleep(0.5)
    check(desk, data, tmp_path, ["Zk8q-vault-Qm3", "vault-Qm3", "Zk8q-", token, token[:12], token[24:],
                                 token[12:24], "AKIAQYLPMN5HHHFPZAM2", "AKIAQYLPMN5H", "HHFPZAM2",
                                 "4539 5787 6362 1486", "5787 6362 1486"], "mark-edits")


def test_form_secrets_edited_with_home_arrows_and_a_selection(desk, tmp_path):
    _, wid, state = desk.workbench("Edits - Workbench", geometry="900x700+600+100")
    desk.activate(wid)
    data = tmp_path / "data"
    x = desk.xdotool
    with recording(desk, data):
        x("mousemove", "--window", str(wid), "300", "34", "click", "1")
        x("type", "--delay", TYPE_DELAY, "--", "mark-form-edits")
        wait_for(lambda: read_state(state)["name"] == "mark-form-edits", what="the marker in the form")
        x("key", "Return")
        x("key", "ctrl+a", "ctrl+k")
        # the end of a card number first, then Home and its start
        x("type", "--delay", TYPE_DELAY, "--", "6362 1486")
        x("key", "Home")
        x("type", "--delay", TYPE_DELAY, "--", "4539 5787 ")
        wait_for(lambda: read_state(state)["name"] == "4539 5787 6362 1486", what="the card in the form")
        x("key", "Return")
        x("key", "ctrl+a", "ctrl+k")
        # the end of a token first, then Home and its start
        x("type", "--delay", TYPE_DELAY, "--", "Hc4Nb6Yp1Zd8Fs5Gj0Ka2Lq")
        x("key", "Home")
        x("type", "--delay", TYPE_DELAY, "--", "ghp_Q3xr7TmLk2Vw9")
        wait_for(lambda: read_state(state)["name"] == "ghp_Q3xr7TmLk2Vw9Hc4Nb6Yp1Zd8Fs5Gj0Ka2Lq",
                 what="the token in the form")
        x("key", "Return")
        x("key", "ctrl+a", "ctrl+k")
        # the end of a password, Home, a placeholder key typed over with a shift+Right selection
        x("type", "--delay", TYPE_DELAY, "--", "-bastion-9x")
        x("key", "Home")
        x("type", "--delay", TYPE_DELAY, "--", "passwd=changeme")
        for _ in range(8):
            x("key", "shift+Left")
        x("type", "--delay", TYPE_DELAY, "--", "Wq2")
        wait_for(lambda: read_state(state)["name"] == "passwd=Wq2-bastion-9x", what="the password in the form")
        x("key", "Return")
        time.sleep(0.5)
    check(desk, data, tmp_path, ["4539 5787 6362 1486", "6362 1486", "4539 5787", "Wq2-bastion-9x",
                                 "bastion-9x", "Hc4Nb6Yp1Zd8Fs5Gj0Ka2Lq", "Q3xr7TmLk2Vw9"], "mark-form-edits")


# -- multi-line blocks --------------------------------------------------------------------------

OPENSSH = ["-----BEGIN OPENSSH PRIVATE KEY-----",
           "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
           "QyNTUxOQAAACBm7xQ2k9Lr4vT8cW3nY6pH1sJ0dF5gB2aZ7eK4uM9xRwAAAJiq3Fz8qt",
           "xc/AAAAAtzc2gtZWQyNTUxOQAAACBm7xQ2k9Lr4vT8cW3nY6pH1sJ0dF5gB2aZ7eK4u",
           "Zm9vYmFy", "-----END OPENSSH PRIVATE KEY-----"]
RSA = ["-----BEGIN RSA PRIVATE KEY-----",
       "MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi4mJ5K2vF8GqWnE5dLkR1tYcXp",
       "Qw8ZrT4uN6hJ2mK9sLx3vB7yC1fD5gH0jE4kA6lO2pI9uY8tR3eW5qZ7xV1cN4b",
       "Hk2sP9", "-----END RSA PRIVATE KEY-----"]
CERT = ["-----BEGIN CERTIFICATE-----",
        "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ",
        "RTESMBAGA1UEChMJQmFsdGltb3JlMRMwEQYDVQQLEwpDeWJlclRydXN0MSIwIAYD", "-----END CERTIFICATE-----"]


def _body_parts(block: list[str]) -> list[str]:
    parts = []
    for line in block[1:-1]:
        parts += [line[:16], line[-12:]] if len(line) > 28 else [line]
    return parts


def test_key_blocks_typed_line_by_line_in_a_terminal(desk, tmp_path):
    term = Term(desk, tmp_path)
    data = tmp_path / "data"
    with recording(desk, data):
        term.marker("mark-blocks")
        for name, block in [("id_ed25519", OPENSSH), ("server.key", RSA), ("ca.crt", CERT)]:
            path = tmp_path / name
            term.type(f"cat > {path}")
            term.enter()
            for i, line in enumerate(block):
                term.type(line[:20])
                if i == 1:
                    time.sleep(1.5)   # a pause inside a body line
                term.type(line[20:])
                term.enter()
            term.key("ctrl+d")
            wait_for(lambda: path.exists() and path.read_text() == "\n".join(block) + "\n",
                     what=f"{name} written by cat")
        term.marker("mark-after-blocks")   # the line after END is ordinary again
        time.sleep(0.5)
    assert "mark-after-blocks" in spelled(data)["chars"]
    check(desk, data, tmp_path, [p for b in (OPENSSH, RSA, CERT) for p in _body_parts(b)], "mark-blocks")


def test_a_key_block_in_the_form_app_notes(desk, tmp_path):
    _, wid, state = desk.workbench("Keys - Workbench", geometry="900x700+600+100")
    desk.activate(wid)
    data = tmp_path / "data"
    x = desk.xdotool
    with recording(desk, data):
        x("mousemove", "--window", str(wid), "250", "150", "click", "1")
        x("type", "--delay", TYPE_DELAY, "--", "mark-form-block")
        x("key", "Return")
        for line in RSA:
            x("type", "--delay", TYPE_DELAY, "--", line)
            x("key", "Return")
        wait_for(lambda: RSA[-1] in read_state(state)["notes"], timeout=20, what="the key block in the form")
        time.sleep(0.5)
    assert "\n".join(RSA) in read_state(state)["notes"]
    check(desk, data, tmp_path, _body_parts(RSA), "mark-form-block")


ENV_LINES = ["APP_ENV=production", "DB_PASSWORD=Vx7-cobalt-Rq2", "export STRIPE_SECRET=rk_live_9aZ3kQ7mW2xP5tL8",
             "SESSION_SALT=k3Fj9", 'TLS_KEY="MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8w', "Gh5Tr8Lm2Qp9Zx4Wc7",
             'Vb3Nn6Kd1Fs0"', "LOG_LEVEL=debug"]
ENV_SECRETS = ["Vx7-cobalt-Rq2", "cobalt-Rq2", "rk_live_9aZ3kQ7mW2xP5tL8", "9aZ3kQ7mW2xP5tL8", "k3Fj9",
               "MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8w", "Gh5Tr8Lm2Qp9Zx4Wc7", "Vb3Nn6Kd1Fs0"]


def test_env_blocks_typed_line_by_line(desk, tmp_path):
    term = Term(desk, tmp_path)
    data = tmp_path / "data"
    path = tmp_path / "app.env"
    with recording(desk, data):
        term.marker("mark-env")
        term.type(f"cat > {path}")
        term.enter()
        for i, line in enumerate(ENV_LINES):
            if i == 3:
                term.type(line[:8])
                time.sleep(1.5)
                term.type(line[8:])
            else:
                term.type(line)
            term.enter()
        term.key("ctrl+d")
        wait_for(lambda: path.exists() and path.read_text() == "\n".join(ENV_LINES) + "\n", what="app.env written")
        time.sleep(0.5)
    views = spelled(data)
    assert "APP_ENV=production" in views["chars"] and "LOG_LEVEL=debug" in views["chars"]
    check(desk, data, tmp_path, ENV_SECRETS, "mark-env")
