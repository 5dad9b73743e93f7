"""Multi-line secrets: lines judged with the lines typed before them in the same window.

A :class:`BlockTracker` sees each finished line (unit) of one window and says whether the
whole line must be masked:

* **armored blocks** - once a line holds a ``-----BEGIN ...-----`` marker (PEM and OpenSSH
  private keys, certificates, PGP blocks, CSRs...), every line up to and including the
  matching ``-----END`` is masked, at most :data:`MAX_BLOCK_LINES` lines;
* **.env blocks** - ``KEY=value`` lines whose key is named like a credential, or whose
  value looks random, are masked; a quoted value left open (``KEY="...``) or continued with
  a backslash masks the lines that continue it, up to the closing quote (bounded too);
* **body lines** - a line that is nothing but a long base64 or hex run of high entropy (a
  key body, a token) is a secret on its own, with or without its markers.

Pure and small: state is a few fields per window.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: Lines masked after a BEGIN marker (or an open quoted value) when no end is seen.
MAX_BLOCK_LINES = 400

_BEGIN = re.compile(r"-{2,}\s*BEGIN\b\s*([A-Z0-9 ]*)")
_END = re.compile(r"-{2,}\s*END\b")
_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*([=:])\s*(.*)$")
_CREDENTIAL_PARTS = frozenset({
    "pass", "passwd", "password", "passphrase", "pwd", "pw", "secret", "token", "key",
    "apikey", "auth", "authorization", "credential", "credentials", "private", "privkey",
    "sig", "signature", "session", "sessionid", "sid", "otp", "totp", "hotp", "salt", "dsn",
    "cert", "cookie", "jwt", "bearer", "pin", "nonce", "secrets", "tokens", "keys",
    "passcode", "pass_phrase"})
_CREDENTIAL_INFIX = re.compile(r"(?i)pass(?:word|wd|phrase|code)|secret|token|credential|apikey")
_NAME_PARTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def credential_name(name: str) -> bool:
    """A key named like a credential: one of its parts (``_``/``-``/``.``/camelCase) is a
    credential word (``DB_PASSWORD``, ``apiKey``, ``x-auth-token``, ``pw``, ``sig``), or it
    holds one (``MYPASSWORD``)."""
    if _CREDENTIAL_INFIX.search(name):
        return True
    return any(part.lower() in _CREDENTIAL_PARTS for part in _NAME_PARTS.findall(name))


_B64_LINE = re.compile(r"^[A-Za-z0-9+/_-]{16,}={0,2}$")
_HEX_LINE = re.compile(r"^[0-9a-fA-F:]{32,}$")


def entropy(s: str) -> float:
    """Shannon entropy of ``s`` in bits per character."""
    if not s:
        return 0.0
    counts: dict[str, int] = {}
    for c in s:
        counts[c] = counts.get(c, 0) + 1
    n = len(s)
    return -sum(k / n * math.log2(k / n) for k in counts.values())


def random_token(v: str, *, min_len: int = 16) -> bool:
    """True for a run that looks machine-made: base64/base64url or hex of high entropy,
    mixing letters and digits (words, paths and numbers are not)."""
    v = v.strip().rstrip("=")
    if len(v) < min_len:
        return False
    if _HEX_LINE.match(v) or re.fullmatch(r"[0-9a-fA-F]+", v):
        digits = sum(ch.isdigit() for ch in v)
        return len(v) >= 32 and 0 < digits < len(v) and entropy(v) >= 3.0
    if not re.fullmatch(r"[A-Za-z0-9+/_.~-]+", v):
        return False
    classes = (any(c.islower() for c in v) + any(c.isupper() for c in v)
               + any(c.isdigit() for c in v))
    if classes < 2 or not any(c.isdigit() for c in v):
        return False
    # short runs need fewer distinct symbols to look random; long key bodies hold runs of 'A'
    return entropy(v) >= (3.5 if len(v) < 24 or len(v) >= 40 else 4.0)


def body_line(line: str) -> bool:
    """A line that is only a long base64 or hex run of high entropy."""
    s = line.strip()
    if _HEX_LINE.match(s):
        return random_token(s.replace(":", ""), min_len=32)
    return bool(_B64_LINE.match(s)) and len(s) >= 24 and random_token(s, min_len=24)


def _armor_entity(label: str) -> str:
    return "PRIVATE_KEY" if "PRIVATE" in label or "SECRET" in label else "SECRET"


@dataclass(slots=True)
class BlockTracker:
    """Per-window state across lines."""

    armor: str | None = None      # entity while inside BEGIN..END
    armor_lines: int = 0
    quote: str | None = None      # open quote of a multi-line .env value ('\\' for a continuation)
    quote_lines: int = 0

    def judge_line(self, line: str, *, final: bool = True) -> tuple[int, str] | None:
        """``(start, entity)`` when ``line[start:]`` must be masked (0: the whole line), or
        None. ``final=False`` judges a part of a line cut by a cap without advancing the
        state."""
        if self.armor is not None:
            entity = self.armor
            if final:
                self.armor_lines += 1
                if _END.search(line) or self.armor_lines >= MAX_BLOCK_LINES:
                    self.armor, self.armor_lines = None, 0
            return 0, entity
        if self.quote is not None:
            if final:
                self.quote_lines += 1
                closed = (self.quote in line if self.quote != "\\"
                          else not line.rstrip().endswith("\\"))
                if closed or self.quote_lines >= MAX_BLOCK_LINES:
                    self.quote, self.quote_lines = None, 0
            return 0, "SECRET"
        m = _BEGIN.search(line)
        if m:
            entity = _armor_entity(m.group(1))
            if final and not _END.search(line[m.end():]):
                self.armor, self.armor_lines = entity, 0
            return 0, entity
        if body_line(line):
            return 0, "SECRET"
        a = _ASSIGN.match(line)
        if a and a.group(3).strip():
            key, value = a.group(1), a.group(3).rstrip()
            credential = credential_name(key)
            quote = value[:1] if value[:1] in "\"'`" else ""
            env = a.group(2) == "="   # multi-line values: .env / shell assignments only
            open_quote = env and bool(quote) and value.count(quote) == 1
            continued = env and value.endswith("\\")
            if credential or open_quote or continued or random_token(value.strip("\"'`")):
                if final and (open_quote or continued):
                    self.quote, self.quote_lines = (quote if open_quote else "\\"), 0
                return a.start(3), "SECRET"
        return None
