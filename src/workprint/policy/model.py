"""The recording policy: what may be recorded, how it is redacted, kept and reviewed.

A policy is a TOML file a program owner writes. It is validated on load; every problem
raises :class:`~workprint.errors.PolicyError` naming the file, the dotted key and the line.
Unknown keys are errors, so a typo can never silently weaken the policy. Built-in
safeguards (the hard deny lists in :mod:`workprint.policy.scope`, secret and PII detection
in :mod:`workprint.policy.redact_text`) cannot be switched off by any policy.

Example (every key optional; defaults shown where they exist)::

    [jurisdiction]
    profile = "us"              # "us" | "eu"  (eu: episodes only, indicator, 30 days)
    episodes_only = false       # record only inside user-started task episodes
    indicator = true            # show a visible recording indicator

    [scope]
    allow_apps  = ["XTerm", "code", "libreoffice-*"]   # case-insensitive globs on app id
    deny_apps   = ["KeePassXC", "*1password*"]         # (X11: WM_CLASS class or instance)
    allow_sites = ["*.corp.example.com", "github.com"] # host globs, for browser windows
    deny_sites  = ["*bank*"]

    [redaction]
    extra_entities = ["MAC_ADDRESS", "CRYPTO"]          # optional detectors to add
    [[redaction.patterns]]
    name = "EMPLOYEE_ID"                                 # placeholder <EMPLOYEE_ID>
    regex = "\\bE\\d{6}\\b"

    [passwords]
    remote_terminals = "secret" # ssh/mosh/tmux/screen in a terminal: "secret" (every key
                                # is a password) or "prompt" (judged by the prompt on screen)

    [screenshots]
    enabled = true
    ocr_mask = true             # mask detected sensitive text in pixels

    [capture]
    a11y_tree = false           # the active window's accessibility tree at keyframes
    a11y_max_nodes = 400        # its bounds (a cut tree says so: truncated = true)
    a11y_max_depth = 24
    a11y_max_bytes = 32768      # of its JSON

    [pause]
    hotkey = "ctrl+alt+shift+p"
    idle_minutes = 5            # pause after this long without input; 0 = never
    on_lock = true              # pause while the screen is locked

    [retention]
    days = 90                   # default 90 (us) / 30 (eu)
    max_mb = 2048

    [review]
    auto_approve_after_hours = 0   # 0 = nothing leaves the machine without approval

    [actions]
    multi_click_s = 0.5
    multi_click_px = 5
    drag_px = 6
    wait_s = 3.0
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import PolicyError

#: Version of the effective-policy dict (part of the hash).
POLICY_FORMAT = 1
#: Sections added after format 1 that enter the hash only when a policy sets one of their
#: keys away from its default. A collector stores each published policy under its hash and
#: refuses chunks recorded under a hash it never published: were every new section hashed,
#: upgrading workprint would change the hash of every deployed policy and the devices'
#: uploads would be refused until the policy was published again.
HASH_STABLE_SECTIONS = ("capture",)

JURISDICTIONS = ("us", "eu")
DEFAULT_RETENTION_DAYS = {"us": 90, "eu": 30}

#: Entities detected always; a policy cannot switch them off.
MANDATORY_ENTITIES = (
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN",
    "AWS_ACCESS_KEY", "GITHUB_TOKEN", "SLACK_TOKEN", "JWT", "PRIVATE_KEY", "PASSWORD",
    "SECRET", "HOME_PATH", "USERNAME", "HOSTNAME",
)
#: Detectors a policy may add.
OPTIONAL_ENTITIES = ("MAC_ADDRESS", "CRYPTO", "URL", "UUID")

_ENTITY_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,39}$")
_MODIFIER_WORDS = frozenset({"ctrl", "alt", "shift", "super", "altgr"})


@dataclass(frozen=True, slots=True)
class ScopePolicy:
    """Which apps and sites are recorded. Default-deny; deny always wins."""

    allow_apps: tuple[str, ...] = ()
    deny_apps: tuple[str, ...] = ()
    allow_sites: tuple[str, ...] = ()
    deny_sites: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CustomPattern:
    """An extra redaction rule: matches of ``regex`` become ``<NAME>``."""

    name: str
    regex: str


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """Additions to the built-in detectors (which cannot be removed)."""

    extra_entities: tuple[str, ...] = ()
    patterns: tuple[CustomPattern, ...] = ()


REMOTE_TERMINAL_MODES = ("secret", "prompt")


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Terminals whose reading pty cannot be seen locally (ssh, mosh, tmux, screen):
    ``secret`` treats every key as a password (fail closed); ``prompt`` judges them by the
    prompt the terminal shows (the password-prompt heuristic on the screen's text)."""

    remote_terminals: str = "secret"


@dataclass(frozen=True, slots=True)
class ScreenshotPolicy:
    enabled: bool = True
    ocr_mask: bool = True


#: Bounds of a recorded accessibility tree (``[capture]``): defaults and the largest allowed.
A11Y_MAX_NODES = 400
A11Y_MAX_DEPTH = 24
A11Y_MAX_BYTES = 32768
#: key -> (default, lowest, highest)
A11Y_LIMITS = {"a11y_max_nodes": (A11Y_MAX_NODES, 1, 5000), "a11y_max_depth": (A11Y_MAX_DEPTH, 1, 64),
               "a11y_max_bytes": (A11Y_MAX_BYTES, 1024, 1 << 20)}


@dataclass(frozen=True, slots=True)
class CapturePolicy:
    """What is captured beyond input, focus and frames. ``a11y_tree``: the accessibility
    tree of the active window at keyframes (off by default), within these bounds."""

    a11y_tree: bool = False
    a11y_max_nodes: int = A11Y_MAX_NODES
    a11y_max_depth: int = A11Y_MAX_DEPTH
    a11y_max_bytes: int = A11Y_MAX_BYTES


@dataclass(frozen=True, slots=True)
class PausePolicy:
    hotkey: str = "ctrl+alt+shift+p"
    idle_minutes: float = 5.0
    on_lock: bool = True


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    days: int = 90
    max_mb: int = 2048


@dataclass(frozen=True, slots=True)
class JurisdictionPolicy:
    """``eu`` forces episodes-only recording and the indicator."""

    profile: str = "us"
    episodes_only: bool = False
    indicator: bool = True


@dataclass(frozen=True, slots=True)
class ReviewPolicy:
    auto_approve_after_hours: float = 0.0


@dataclass(frozen=True, slots=True)
class ActionPolicy:
    """Thresholds of the event-to-action reduction."""

    multi_click_s: float = 0.5
    multi_click_px: int = 5
    drag_px: int = 6
    wait_s: float = 3.0


@dataclass(frozen=True, slots=True)
class Policy:
    """The effective policy (file values over defaults). Immutable; compare by ``hash``."""

    scope: ScopePolicy = field(default_factory=ScopePolicy)
    redaction: RedactionPolicy = field(default_factory=RedactionPolicy)
    passwords: PasswordPolicy = field(default_factory=PasswordPolicy)
    screenshots: ScreenshotPolicy = field(default_factory=ScreenshotPolicy)
    capture: CapturePolicy = field(default_factory=CapturePolicy)
    pause: PausePolicy = field(default_factory=PausePolicy)
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    jurisdiction: JurisdictionPolicy = field(default_factory=JurisdictionPolicy)
    review: ReviewPolicy = field(default_factory=ReviewPolicy)
    actions: ActionPolicy = field(default_factory=ActionPolicy)
    source: str = field(default="<default>", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The effective policy including built-in safeguards (``workprint policy show``)."""
        from .scope import BUILTIN_DENY_APPS, BUILTIN_DENY_SITES, BROWSER_APPS

        d = asdict(self)
        d.pop("source")
        d["format"] = POLICY_FORMAT
        d["builtin"] = {
            "deny_apps": list(BUILTIN_DENY_APPS),
            "deny_sites": list(BUILTIN_DENY_SITES),
            "browser_apps": list(BROWSER_APPS),
            "entities": list(MANDATORY_ENTITIES),
        }
        return _jsonable(d)

    @property
    def hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`to_dict`, less the sections added after
        ``POLICY_FORMAT`` 1 while they hold only their defaults (``HASH_STABLE_SECTIONS``)."""
        d = self.to_dict()
        for name in HASH_STABLE_SECTIONS:
            if getattr(self, name) == type(getattr(self, name))():
                d.pop(name)
        canon = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canon.encode()).hexdigest()


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def default_policy(jurisdiction: str = "us") -> Policy:
    """The policy used without a file: records nothing (empty allow lists)."""
    if jurisdiction not in JURISDICTIONS:
        raise PolicyError(f"unknown jurisdiction {jurisdiction!r}; use one of {JURISDICTIONS}")
    return parse_policy(f'[jurisdiction]\nprofile = "{jurisdiction}"\n', source="<default>")


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{p}: policy file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{p}: cannot read policy file: {exc}") from None
    return parse_policy(text, source=str(p))


# --- validation -------------------------------------------------------------------------

class _Ctx:
    """Carries the source text to turn a dotted key into a line number."""

    def __init__(self, text: str, source: str):
        self.lines = text.splitlines()
        self.source = source

    def fail(self, key: str, problem: str) -> PolicyError:
        line = find_key_line(self.lines, key)
        where = f"{self.source}, line {line}" if line else self.source
        return PolicyError(f"{where}: {key}: {problem}")


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _norm_key(k: str) -> str:
    return ".".join(p.strip().strip("\"'") for p in k.split("."))


def find_key_line(lines: list[str], dotted: str) -> int | None:
    """1-based line where ``dotted`` (``a.b.c``, ``redaction.patterns[2].regex``) is set.

    Scans table headers and ``key =`` lines; falls back to the section header.
    """
    m = re.match(r"^(.*?)\[(\d+)\](?:\.(.*))?$", dotted)
    if m:  # array of tables element
        table, index, rest = m.group(1), int(m.group(2)), m.group(3)
        seen = -1
        for i, raw in enumerate(lines):
            h = _HEADER.match(raw)
            if h and h.group(1) == "[[" and _norm_key(h.group(2)) == table:
                seen += 1
                if seen == index:
                    if rest:
                        for j in range(i + 1, len(lines)):
                            if _HEADER.match(lines[j]):
                                break
                            if re.match(rf"^\s*[\"']?{re.escape(rest)}[\"']?\s*=", lines[j]):
                                return j + 1
                    return i + 1
        return find_key_line(lines, table)
    parts = dotted.split(".")
    section: str = ""
    header_line: dict[str, int] = {}
    for i, raw in enumerate(lines):
        h = _HEADER.match(raw)
        if h:
            section = _norm_key(h.group(2))
            header_line.setdefault(section, i + 1)
            continue
        km = re.match(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=", raw)
        if not km:
            continue
        full = _norm_key(km.group(1))
        full = f"{section}.{full}" if section else full
        if full == dotted:
            return i + 1
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in header_line:
            return header_line[prefix]
    return None


def glob_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable app or site glob (``None`` when it is): an unclosed
    ``[`` (matched literally by fnmatch, surely not meant), a character class that can match
    nothing (``[z-a]``), or regular-expression syntax (patterns are globs, not regexes)."""
    if pattern.startswith("^") or pattern.endswith("$") or "\\" in pattern:
        return "looks like a regular expression; patterns are globs (* any text, ? one character)"
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] == "[":
            j = i + 1
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            close = pattern.find("]", j)
            if close < 0:
                return "has a '[' that is never closed (write [[] for a literal '[')"
            if fnmatch.translate(pattern[i:close + 1]).startswith("(?s:(?!))"):
                return f"the character class {pattern[i:close + 1]!r} can match nothing"
            i = close + 1
        else:
            i += 1
    return None


def _str_list(ctx: _Ctx, key: str, v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ctx.fail(key, f"expected a list of strings, got {v!r}")
    for x in v:
        if not x.strip():
            raise ctx.fail(key, "empty pattern in list")
    return tuple(x.strip() for x in v)


def _glob_list(ctx: _Ctx, key: str, v: Any) -> tuple[str, ...]:
    out = _str_list(ctx, key, v)
    for x in out:
        problem = glob_problem(x)
        if problem:
            raise ctx.fail(key, f"{x!r} {problem}")
    return out


def _site_list(ctx: _Ctx, key: str, v: Any) -> tuple[str, ...]:
    out = _glob_list(ctx, key, v)
    for x in out:
        if "/" in x or ":" in x:
            raise ctx.fail(key, f"{x!r} is not a host glob; write the host only, e.g. "
                                f"'*.example.com' (no scheme, port or path)")
    return tuple(x.lower() for x in out)


def _bool(ctx: _Ctx, key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ctx.fail(key, f"expected true or false, got {v!r}")
    return v


def _plain(v: float) -> str:
    """A bound as a person reads it: 1048576, not 1.04858e+06."""
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _number(ctx: _Ctx, key: str, v: Any, *, lo: float, hi: float,
            integer: bool = False) -> Any:
    ok = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok:
        kind = "an integer" if integer else "a number"
        raise ctx.fail(key, f"expected {kind}, got {v!r}")
    if not lo <= v <= hi:
        raise ctx.fail(key, f"must be between {_plain(lo)} and {_plain(hi)}, got {v!r}")
    return v if integer else float(v)


def _hotkey(ctx: _Ctx, key: str, v: Any) -> str:
    if not isinstance(v, str):
        raise ctx.fail(key, f"expected a string like 'ctrl+alt+shift+p', got {v!r}")
    parts = [p.strip().lower() for p in v.split("+")]
    mods, keys = parts[:-1], parts[-1:]
    if (not keys or not keys[0] or keys[0] in _MODIFIER_WORDS or not mods
            or any(m not in _MODIFIER_WORDS for m in mods) or len(set(mods)) != len(mods)
            or not ({"ctrl", "alt", "super"} & set(mods))):
        raise ctx.fail(key, f"{v!r} is not a hotkey: write modifiers (ctrl, alt, shift, "
                            f"super) joined by '+' and one key, e.g. 'ctrl+alt+shift+p'; "
                            f"at least one of ctrl/alt/super is required")
    return "+".join(parts)


def _check_keys(ctx: _Ctx, prefix: str, table: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ctx.fail(prefix, f"expected a table ([{prefix}]), got {table!r}")
    for k in table:
        if k not in allowed:
            hint = ", ".join(sorted(allowed))
            raise ctx.fail(f"{prefix}.{k}" if prefix else k,
                           f"unknown key (known here: {hint})")
    return table


#: memory RE2 may use for one policy pattern (a bigger one is refused at ``policy check``)
PATTERN_MAX_MEM = 8 << 20


def compile_pattern(regex: str) -> Any:
    """A policy regex compiled with RE2, which matches in time linear in the text: no
    pattern (``^(a+)+$`` included) can stall recording. RE2 has no backreferences or
    lookaround; a pattern it cannot take raises ``ValueError`` saying why."""
    import re2

    opts = re2.Options()
    opts.log_errors = False
    opts.max_mem = PATTERN_MAX_MEM
    try:
        return re2.compile(regex, opts)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) \
            else str(exc)
        raise ValueError(
            f"RE2 cannot take this pattern ({reason}); policy patterns must run in linear "
            f"time, so backreferences (\\1), lookarounds ((?=...), (?<=...)) and possessive or "
            f"atomic groups are not available - rewrite it without them") from None


def _parse_patterns(ctx: _Ctx, v: Any) -> tuple[CustomPattern, ...]:
    key = "redaction.patterns"
    if not isinstance(v, list):
        raise ctx.fail(key, "expected [[redaction.patterns]] tables with name and regex")
    out = []
    for i, item in enumerate(v):
        k = f"{key}[{i}]"
        item = _check_keys(ctx, k, item, {"name", "regex"})
        name, regex = item.get("name"), item.get("regex")
        if not isinstance(name, str) or not _ENTITY_NAME.match(name):
            raise ctx.fail(f"{k}.name", f"expected an UPPER_SNAKE name like 'EMPLOYEE_ID', "
                                        f"got {name!r}")
        if name in MANDATORY_ENTITIES or name in OPTIONAL_ENTITIES:
            raise ctx.fail(f"{k}.name", f"{name!r} is a built-in entity; choose another name")
        if not isinstance(regex, str) or not regex:
            raise ctx.fail(f"{k}.regex", f"expected a regular expression, got {regex!r}")
        try:
            compiled = compile_pattern(regex)
        except ValueError as exc:
            raise ctx.fail(f"{k}.regex", str(exc)) from None
        if compiled.search("") is not None:
            raise ctx.fail(f"{k}.regex", "pattern matches the empty string")
        out.append(CustomPattern(name, regex))
    return tuple(out)


_SECTIONS: dict[str, set[str]] = {
    "scope": {"allow_apps", "deny_apps", "allow_sites", "deny_sites"},
    "redaction": {"extra_entities", "patterns"},
    "passwords": {"remote_terminals"},
    "screenshots": {"enabled", "ocr_mask"},
    "capture": {"a11y_tree", *A11Y_LIMITS},
    "pause": {"hotkey", "idle_minutes", "on_lock"},
    "retention": {"days", "max_mb"},
    "jurisdiction": {"profile", "episodes_only", "indicator"},
    "review": {"auto_approve_after_hours"},
    "actions": {"multi_click_s", "multi_click_px", "drag_px", "wait_s"},
}


def parse_policy(text: str, source: str = "<string>") -> Policy:
    """Parse and validate policy TOML text; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    ctx = _Ctx(text, source)
    _check_keys(ctx, "", data, set(_SECTIONS))
    t = {name: _check_keys(ctx, name, data.get(name, {}), keys)
         for name, keys in _SECTIONS.items()}

    j = t["jurisdiction"]
    profile = j.get("profile", "us")
    if profile not in JURISDICTIONS:
        raise ctx.fail("jurisdiction.profile", f"expected 'us' or 'eu', got {profile!r}")
    eu = profile == "eu"
    episodes_only = _bool(ctx, "jurisdiction.episodes_only", j.get("episodes_only", eu))
    indicator = _bool(ctx, "jurisdiction.indicator", j.get("indicator", True))
    if eu and not episodes_only:
        raise ctx.fail("jurisdiction.episodes_only",
                       "the eu profile records only inside user-started task episodes; "
                       "remove this key or set it to true")
    if eu and not indicator:
        raise ctx.fail("jurisdiction.indicator",
                       "the eu profile requires a visible indicator; remove this key")

    s = t["scope"]
    scope = ScopePolicy(
        allow_apps=_glob_list(ctx, "scope.allow_apps", s.get("allow_apps", [])),
        deny_apps=_glob_list(ctx, "scope.deny_apps", s.get("deny_apps", [])),
        allow_sites=_site_list(ctx, "scope.allow_sites", s.get("allow_sites", [])),
        deny_sites=_site_list(ctx, "scope.deny_sites", s.get("deny_sites", [])),
    )

    r = t["redaction"]
    extra = _str_list(ctx, "redaction.extra_entities", r.get("extra_entities", []))
    for e in extra:
        if e in MANDATORY_ENTITIES:
            raise ctx.fail("redaction.extra_entities",
                           f"{e!r} is always detected; no need to list it")
        if e not in OPTIONAL_ENTITIES:
            raise ctx.fail("redaction.extra_entities",
                           f"unknown entity {e!r}; optional ones are {OPTIONAL_ENTITIES}")
    redaction = RedactionPolicy(tuple(dict.fromkeys(extra)),
                                _parse_patterns(ctx, r.get("patterns", [])))

    remote = t["passwords"].get("remote_terminals", "secret")
    if remote not in REMOTE_TERMINAL_MODES:
        raise ctx.fail("passwords.remote_terminals",
                       f"expected one of {', '.join(map(repr, REMOTE_TERMINAL_MODES))}, got {remote!r}")
    sc = t["screenshots"]
    shots = ScreenshotPolicy(
        enabled=_bool(ctx, "screenshots.enabled", sc.get("enabled", True)),
        ocr_mask=_bool(ctx, "screenshots.ocr_mask", sc.get("ocr_mask", True)),
    )
    cp = t["capture"]
    capture = CapturePolicy(_bool(ctx, "capture.a11y_tree", cp.get("a11y_tree", False)), **{
        key: _number(ctx, f"capture.{key}", cp.get(key, default), lo=lo, hi=hi, integer=True)
        for key, (default, lo, hi) in A11Y_LIMITS.items()})
    p = t["pause"]
    pause = PausePolicy(
        hotkey=_hotkey(ctx, "pause.hotkey", p.get("hotkey", "ctrl+alt+shift+p")),
        idle_minutes=_number(ctx, "pause.idle_minutes", p.get("idle_minutes", 5.0),
                             lo=0, hi=24 * 60),
        on_lock=_bool(ctx, "pause.on_lock", p.get("on_lock", True)),
    )
    rt = t["retention"]
    retention = RetentionPolicy(
        days=_number(ctx, "retention.days", rt.get("days", DEFAULT_RETENTION_DAYS[profile]),
                     lo=1, hi=3650, integer=True),
        max_mb=_number(ctx, "retention.max_mb", rt.get("max_mb", 2048), lo=1,
                       hi=10_000_000, integer=True),
    )
    rv = t["review"]
    review = ReviewPolicy(_number(ctx, "review.auto_approve_after_hours",
                                  rv.get("auto_approve_after_hours", 0), lo=0, hi=24 * 365))
    a = t["actions"]
    num: Callable[..., Any] = _number
    actions = ActionPolicy(
        multi_click_s=num(ctx, "actions.multi_click_s", a.get("multi_click_s", 0.5),
                          lo=0.05, hi=5),
        multi_click_px=num(ctx, "actions.multi_click_px", a.get("multi_click_px", 5),
                           lo=0, hi=200, integer=True),
        drag_px=num(ctx, "actions.drag_px", a.get("drag_px", 6), lo=1, hi=500, integer=True),
        wait_s=num(ctx, "actions.wait_s", a.get("wait_s", 3.0), lo=0.1, hi=3600),
    )
    return Policy(scope=scope, redaction=redaction, passwords=PasswordPolicy(remote), screenshots=shots, capture=capture, pause=pause,
                  retention=retention, jurisdiction=JurisdictionPolicy(profile, episodes_only,
                                                                       indicator),
                  review=review, actions=actions, source=source)


__all__ = [
    "Policy", "ScopePolicy", "RedactionPolicy", "CustomPattern", "PasswordPolicy", "ScreenshotPolicy", "CapturePolicy",
    "PausePolicy", "RetentionPolicy", "JurisdictionPolicy", "ReviewPolicy", "ActionPolicy",
    "load_policy", "parse_policy", "default_policy", "find_key_line",
    "MANDATORY_ENTITIES", "OPTIONAL_ENTITIES",
]
