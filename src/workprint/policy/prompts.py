"""Terminal password-prompt heuristic (text side; see capture.linux.tty for echo state).

:func:`looks_like_password_prompt` looks at the last line a terminal shows: a prompt is
a short line that ENDS asking for a password, passphrase or PIN (``Password:``,
``[sudo] password for alice:``, ``Enter passphrase for key '...':``, ``Passwort:``).
Sentences that merely mention passwords (``password reset done``) or commands
(``git config --global user.password``) are not prompts.
"""

from __future__ import annotations

import functools
import re

_WORDS = (
    r"password|passwort|pass ?phrase|passcode|passwd|pin(?:\s*code)?|pin-code|"
    r"mot de passe|contrase[ñn]a|senha|wachtwoord|has[łl]o|parola|salasana|l[öo]senord|"
    r"adgangskode|passord|heslo|jelsz[óo]|пароль|密码|密碼|パスワード|비밀번호|"
    r"secret|otp|one-time code|verification code|token|(?:encryption|decryption|unlock) key|"
    r"key(?=\s+again)"
)
# The prompt word, then up to a short tail ("for alice", "(again)", "for key '/x'",
# "of admin@host"), then a colon/question mark and nothing (or only spaces) after it.
_PROMPT = re.compile(
    r"(?:^|[\s\[\](>:])(?:" + _WORDS + r")"
    r"(?:\s*\([^()\n]{0,60}\))?(?:\s+again)?"
    r"(?:\s+(?:[ft]or|of|f[üu]r|pour|para|de|von|to|on)\s+[^\n]{0,120}?)?"
    r"\s*[:：?]\s*$",
    re.IGNORECASE,
)
_LEADING = re.compile(
    r"^\s*(?:\[sudo\]\s*|enter\s+|new\s+|current\s+|old\s+|retype\s+|re-enter\s+|"
    r"confirm\s+|verify\s+|repeat\s+|your\s+|the\s+|unix\s+|ldap\s+|kerberos\s+|"
    r"vault\s+|bitte\s+|geben sie\s+|saisissez\s+|introduzca\s+|introduce\s+|"
    r"nouveau\s+|neues\s+|nueva\s+|[\w.@\-']+(?:'s)?\s+)*", re.IGNORECASE)
_NOT_PROMPT = re.compile(r"(?:^|\s)(?:git|echo|export|grep|config|set|man)\s|--?\w*pass",
                         re.IGNORECASE)


#: Long prompt words as OCR misreads them in small terminal fonts ("Passuord",
#: "Pa5sword", "passphrasc"): a word within one edit of one of these is that word.
_OCR_WORDS = ("password", "passwort", "passphrase", "passcode", "contraseña", "wachtwoord",
              "verification")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _within_one_edit(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) <= 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _ocr_normalised(line: str) -> str:
    def fix(m: re.Match) -> str:
        word = m.group(0)
        low = word.lower()
        if low in _OCR_WORDS:
            return word
        return next((t for t in _OCR_WORDS if _within_one_edit(low, t)), word)

    return re.sub(r"[^\W_]{6,12}", fix, line.translate(_QUOTES))


def asks_for_secret(line: str) -> bool:
    """True if ``line`` - a terminal line read back from the screen (OCR) while input is
    typed into it - starts with a password prompt. The prompt may be followed by echoed
    input (``PIN: 12``) or a stray glyph where the cursor was (``Password: |``), and OCR
    of small terminal fonts loses the final colon or reads it as a letter (``Enter PINs
    t``, ``Passwordt``) and slips on long words (``Passuord``): so each run of leading
    words is tried as the prompt as read and - when at most one word follows it (the
    line is read at the first key typed into it) - with a colon added, and with its
    last character taken for the colon."""
    words = _ocr_normalised(line[-200:]).split()[:16]
    for i in range(1, len(words) + 1):
        head = " ".join(words[:i])
        candidates = [head]
        if len(words) - i <= 1:
            candidates.append(head + ":")
            if len(words[i - 1]) >= 3:
                candidates.append(head[:-1] + ":")
        if any(looks_like_password_prompt(c) for c in candidates):
            return True
    return False


#: What OCR reads for a prompt's final colon in small terminal fonts.
_COLON_MISREADS = ";:.,i!|l1"


@functools.lru_cache(maxsize=8192)  # ~0.1-0.2 ms a line, asked for every line of every masked frame
def answer_start(line: str) -> int | None:
    """Where the answer begins when ``line`` - text read off the screen - is a password
    prompt followed by what was typed at it (``Password for alice: Tr0ub4dor``, ``Enter
    PIN: 4471``), else None. The answer is masked in frames whatever OCR made of it: a
    secret echoed in a small font is often read too badly to be recognised as the value
    the keys spelled (``Irpyvub4dor``), while the prompt's words before it are read well
    enough (``rassword tor alice;``). OCR's slips on the prompt are allowed for as in
    :func:`asks_for_secret`; a final colon may be read as ``;``, ``.`` or ``i``."""
    words = list(re.finditer(r"\S+", line[:400]))
    text = _ocr_normalised(line[:400])  # word for word, but a corrected word may change length
    fixed = list(re.finditer(r"\S+", text))
    if len(fixed) != len(words):
        fixed = words
    for i in range(1, min(len(words), 16)):
        head = text[:fixed[i - 1].end()]
        candidates = [head]
        if head[-1] in _COLON_MISREADS:
            candidates.append(head[:-1] + ":")
        if any(looks_like_password_prompt(c) for c in candidates):
            return words[i].start()
    return None


def looks_like_password_prompt(line: str) -> bool:
    """True if ``line`` (the terminal's current last line) asks for a secret."""
    if not line:
        return False
    text = line.rstrip("\r\n")
    if len(text) > 200:
        text = text[-200:]
    stripped = text.strip()
    if not stripped or _NOT_PROMPT.search(stripped):
        return False
    m = _PROMPT.search(stripped)
    if not m:
        return False
    # Only a short lead-in may precede the prompt word: "Enter", "[sudo]", "New UNIX",
    # a user name - not a sentence ("Tell me your password:" is still fine).
    head = stripped[: m.start() + 1]
    rest = _LEADING.sub("", head, count=1)
    return len(rest.split()) <= 3
