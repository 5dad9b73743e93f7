"""Terminal password prompts are recognised; ordinary lines are not."""

from __future__ import annotations

import pytest

from workprint.policy.prompts import answer_start, asks_for_secret, looks_like_password_prompt

PROMPTS = [
    "Password:", "password: ", "[sudo] password for alice: ", "Password for 'https://alice@github.com': ",
    "Enter PIN: ", "PIN:", "Verify password:", "Password (again): ",
    "Enter passphrase for key '/home/a/.ssh/id_ed25519': ", "alice@build-01's password: ",
    "Enter new UNIX password: ", "Retype new password: ", "Enter PEM pass phrase:",
    "Enter passphrase (empty for no passphrase): ", "Enter same passphrase again: ",
    "Vault password: ", "Password for alice@CORP.EXAMPLE.COM: ",
    "Please enter passphrase for disk nvme0n1p3 (cryptroot):",
    "Passwort: ", "Mot de passe : ", "Contraseña:", "Senha:", "Пароль:",
    "user@host:~$ sudo apt update\n[sudo] password for bob: ",
]
NOT_PROMPTS = [
    "password reset done", "git config --global user.password",
    "Your password was changed successfully.", "echo password:", "$ ls -la",
    "The password reset done: see ticket OPS-12", "docs: how to change a password?",
    "mysql --password=x", "I forgot my password: can you reset it", "Enter the file name:",
    "Tell me what the password policy is: twelve chars or more please", "", "   ",
    "grep -r password: src/", "PINned dependencies updated",
]


@pytest.mark.parametrize("line", PROMPTS)
def test_prompts(line):
    assert looks_like_password_prompt(line.splitlines()[-1] if "\n" in line else line)


@pytest.mark.parametrize("line", NOT_PROMPTS)
def test_not_prompts(line):
    assert not looks_like_password_prompt(line)


@pytest.mark.parametrize("line", [
    "Enter PIN: 12", "Password: |", "[sudo] password for bob: █", "Passphrase: hunter2",
    "Password: 12:34",
    # OCR slips in small terminal fonts: one wrong letter in a long prompt word, curly quotes
    "Passuord: x7", "Vault passuord:", "Enter passphrasc for key '/root/.ssh/id':",
    "Password for \u2018https://alice@git.example.com\u2019: i",
    # ... and a final colon lost or read as a letter or mark (xterm's 6x13 font)
    "Passwordt", "Enter PINt", "Enter PINs t", "Verification codet", "Yerification code: x?",
    "Enter passphrase for key '/home/alice/,ssh/id_ed25519' +",
])
def test_prompt_read_off_the_screen_with_typing_or_cursor_after_it(line):
    assert asks_for_secret(line)


@pytest.mark.parametrize("line", [
    "Your name: bob", "user@host:~$ echo password: x", "Enter the file name: notes.txt", "$ ls",
    "12:34 build done", "", "Compassion: none", "Enter FIN: x7", "Project namet",
    "Enter the file namet", "Please reset", "Continue? [y/N]", "git config --global user.password",
    "The password reset done: see ticket OPS-12", "grep -r password: src/", "Your name: bob t",
])
def test_ordinary_lines_read_off_the_screen(line):
    assert not asks_for_secret(line)


def test_key_prompts_of_editors_are_secret_prompts():
    # vim's :X asks for an encryption key twice; its input shows as '*'
    assert asks_for_secret("Enter encryption key: ")
    assert asks_for_secret("Enter encryption key: ***")
    assert asks_for_secret("Enter same key again: **")
    assert not asks_for_secret("Press any key:")
    assert not asks_for_secret("key: value")
    assert not asks_for_secret("Enter file in which to save the key (/home/a/.ssh/id_ed25519):")


@pytest.mark.parametrize("line,answer", [
    ("Password for alice: Tr0ub4dor-x9q", "Tr0ub4dor-x9q"),
    # as OCR read xterm's default font on Xvfb: P->r, f->t, the colon as ';'
    ("rassword tor alice; Irpyvub4dor—xs¢", "Irpyvub4dor—xs¢"),
    ("Enter PIN: tulip-4471-kappa", "tulip-4471-kappa"),
    ("Enter PIN; tulip", "tulip"),
    ("[sudo] password for alice: two words", "two words"),
    ("Enter passphrase for key '/root/.ssh/id_ed25519': abc", "abc"),
    ("Passwort: geheim", "geheim"),
    ("Enter encryption key: ***", "***"),
    ("Passwrd for alice: s3cret-Value", "s3cret-Value"),  # a prompt word OCR shortened
    ("Passworrd: x7", "x7"),  # ... or lengthened
])
def test_what_follows_a_password_prompt_is_its_answer(line, answer):
    start = answer_start(line)
    assert start is not None and line[start:] == answer


@pytest.mark.parametrize("line", [
    "Password:", "[sudo] password for alice: ", "Project name: workprint-demo",
    "password reset done for alice: ok", "git config user.password: foo", "$ echo Password: x",
    "Your name: bob", "key: value", "Press any key: now", "",
])
def test_lines_without_a_prompt_answer(line):
    assert answer_start(line) is None
