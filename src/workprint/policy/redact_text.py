"""Text redaction: PII and secrets become typed placeholders before anything is stored.

:class:`Redactor` combines three kinds of detectors, all offline and regex-fast:

* Presidio pattern recognizers (email, phone, credit card with Luhn, IBAN with checksum,
  IP address, US SSN), called directly - no NLP engine, no spaCy model, and the email
  validation uses a tldextract instance that never fetches the public suffix list;
* detect-secrets plugins (keyword assignments, quoted high-entropy strings and its
  token regexes), scanned with ``analyze_string`` only - never ``verify`` (no network);
* workprint's own rules for modern tokens, password assignments, connection strings,
  private key blocks, home paths and the local user and host names.

Overlaps are resolved by entity priority (a private key block beats a password inside
it), then by length. Each detector has a cheap pre-filter so a typical typing run costs
well under a millisecond. A built Redactor is immutable and safe to share between threads.
"""

from __future__ import annotations

import getpass
import ipaddress
import re
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable
from urllib.parse import quote, unquote, unquote_plus, urlsplit, urlunsplit

from .blocks import credential_name, entropy, random_token
from .model import CustomPattern, Policy, compile_pattern

#: Overlap priority: lower wins.
PRIORITY = {
    "PRIVATE_KEY": 0, "AWS_ACCESS_KEY": 1, "GITHUB_TOKEN": 1, "SLACK_TOKEN": 1, "JWT": 1,
    "PASSWORD": 2, "CREDIT_CARD": 3, "IBAN_CODE": 3, "US_SSN": 4, "EMAIL_ADDRESS": 4,
    "SECRET": 5, "IP_ADDRESS": 6, "PHONE_NUMBER": 7, "CUSTOM": 8, "HOME_PATH": 9,
    "USERNAME": 10, "HOSTNAME": 10, "MAC_ADDRESS": 8, "CRYPTO": 8, "UUID": 8, "URL": 11,
}
#: Names that are not identifying: never scrubbed as USERNAME/HOSTNAME.
GENERIC_NAMES = frozenset({
    "root", "user", "admin", "administrator", "ubuntu", "debian", "fedora", "dev",
    "test", "guest", "pi", "localhost", "localdomain", "home", "users", "workstation",
    "desktop", "laptop", "linux", "computer", "default", "runner", "build", "ci",
})


@dataclass(frozen=True, slots=True)
class Span:
    """A detected value at ``[start, end)`` of the ORIGINAL text."""

    start: int
    end: int
    entity: str


@dataclass(frozen=True, slots=True)
class Redaction:
    """Redacted text plus the spans (in the original text) that were replaced."""

    text: str
    spans: list[Span]

    @property
    def changed(self) -> bool:
        return bool(self.spans)


# --- own rules --------------------------------------------------------------------------

_Rule = tuple[str, "re.Pattern[str]", int]  # entity, regex, group holding the value

_PW_KEY = (r"(?:(?:[A-Za-z0-9_.-]*[_.-])?(?:pass(?:word|wd|phrase|code)?|pwd|pw|pin|otp)"
           r"|[A-Za-z]*PASSWORD|[a-z]*password|[A-Za-z]*Password)")
_OWN_RULES: list[_Rule] = [
    ("PRIVATE_KEY", re.compile(
        r"-----BEGIN[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----"
        r".*?(?:-----END[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----|\Z)", re.S), 0),
    ("AWS_ACCESS_KEY", re.compile(
        r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)"
        r"[A-Z0-9]{16}(?![A-Z0-9])"), 0),
    ("AWS_ACCESS_KEY", re.compile(
        r"(?i)aws.{0,25}?(?:secret|key).{0,25}?[=:]\s*[\"']?"
        r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"), 1),
    ("GITHUB_TOKEN", re.compile(
        r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})"), 0),
    ("SLACK_TOKEN", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,250}"), 0),
    ("SLACK_TOKEN", re.compile(
        r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]{20,}"), 0),
    ("JWT", re.compile(
        r"\beyJ[A-Za-z0-9_-]{6,}\.eyJ[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]*)?"), 0),
    ("SECRET", re.compile(
        r"\b(?:AIza[0-9A-Za-z_-]{35}"                      # Google API key
        r"|[sr]k_(?:live|test)_[0-9A-Za-z]{16,}"           # Stripe
        r"|sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\d\d-)?[A-Za-z0-9_-]{20,}"  # OpenAI
        r"|npm_[A-Za-z0-9]{36}"                            # npm
        r"|pypi-AgE[A-Za-z0-9_-]{50,}"                     # PyPI
        r"|glpat-[A-Za-z0-9_-]{20,}"                       # GitLab
        r"|hf_[A-Za-z0-9]{30,}"                            # Hugging Face
        r"|dop_v1_[a-f0-9]{64}"                            # DigitalOcean
        r"|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"             # Shopify
        r"|SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}"  # SendGrid
        r"|(?:AC|SK)[0-9a-f]{32}"                          # Twilio
        r"|ya29\.[0-9A-Za-z_-]{20,}"                       # Google OAuth access token
        r")"), 0),
    ("SECRET", re.compile(
        r"(?i)\b(?:authorization:\s*)?(?:bearer|basic|token)\s+([A-Za-z0-9._~+/=-]{16,})"), 1),
    ("SECRET", re.compile(
        r"(?i)(?:^|[\s\"'{,(])[\"']?(?:[A-Za-z0-9_.-]*(?:api[_-]?key|secret|token|"
        r"access[_-]?key|client[_-]?secret|auth[_-]?key|private[_-]?key|credential)s?)[\"']?"
        r"[ \t]*[:=][ \t]*[\"']?([^\s\"',;]{8,})"), 1),
    ("SECRET", re.compile(r"(?i)(?:--(?:api-?key|token|secret|auth-token))(?:=|\s+)"
                          r"[\"']?([^\s\"']{6,})"), 1),
    ("SECRET", re.compile(r"(?i)AccountKey=([A-Za-z0-9+/=]{40,})"), 1),
    ("PASSWORD", re.compile(
        r"(?i)(?:^|[\s\"'{,(;=&?])[\"']?" + _PW_KEY + r"[\"']?[ \t]*[:=][ \t]*"
        r"(\"[^\"\n]+\"|'[^'\n]+'|[^\s\"',;]+)"), 1),
    ("PASSWORD", re.compile(r"(?i)(?:--(?:password|passwd|pass|db-password))(?:=|\s+)"
                            r"(\"[^\"\n]+\"|'[^'\n]+'|[^\s\"']+)"), 1),
    ("PASSWORD", re.compile(r"\b(?:mysql|mysqldump|mariadb)\b[^\n]*?\s-p([^\s-][^\s]*)"), 1),
    ("PASSWORD", re.compile(r"\bsshpass\s+-p\s*(\"[^\"\n]+\"|'[^'\n]+'|\S+)"), 1),
    ("PASSWORD", re.compile(r"(?:^|\s)(?:-u|--user)\s+[^\s:]+:(\S+)"), 1),
    ("PASSWORD", re.compile(
        r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:/@?#]{0,64}:([^\s@/]{1,128})@"), 1),
    ("SECRET", re.compile(  # HashiCorp Vault tokens: hvs./hvb./hvr., and the older s./b./r.
        r"(?<![A-Za-z0-9_.])(?:hv[sbr]\.[A-Za-z0-9_-]{20,}|[sbr]\.[A-Za-z0-9]{20,})"), 0),
    ("HOME_PATH", re.compile(r"(?:/home|/Users|/var/home)/[^/\s:\"'`<>|]+"), 0),
    ("HOME_PATH", re.compile(r"(?i)\b[A-Z]:\\(?:Users|Documents and Settings)\\[^\\\s\"'<>|]+"),
     0),
]

_PLACEHOLDER = re.compile(r"^(?:<[A-Z_]+>|\*+|x+|X+|\.\.\.|…|\$\{?[A-Za-z_]\w*\}?|%\w+%|"
                          r"\{\{.*\}\}|null|None|nil|true|false|changeme|<.*>)$")
_CODE_REF = re.compile(r"^[A-Za-z_][A-Za-z_.]*(?:\(.*\)?|\[.*\]?)?$")


def _plausible_password(value: str) -> bool:
    """False for placeholders and code references (``args.password``, ``get_pw()``)."""
    v = value.strip("\"'")
    if not v or _PLACEHOLDER.match(v):
        return False
    quoted = value[:1] in "\"'" and value[-1:] == value[:1] and len(value) > 1
    if not quoted and _CODE_REF.match(v) and ("_" in v or "." in v or "(" in v or "[" in v):
        return False
    if not quoted and v[0] in "([{$<" :
        return False
    return True


#: a run of token characters long enough to be a machine-made secret (judged by its shape)
_TOKEN_RUN = re.compile(r"(?<![A-Za-z0-9_+/-])[A-Za-z0-9_+/-]{24,}={0,2}(?![A-Za-z0-9_+/=-])")


def _own_spans(text: str) -> Iterable[tuple[int, int, str]]:
    for m in _TOKEN_RUN.finditer(text):
        if _looks_random(m.group(0).rstrip("=")):
            yield m.start(), m.end(), "SECRET"
    for entity, rx, group in _OWN_RULES:
        for m in rx.finditer(text):
            s, e = m.span(group)
            if s < 0 or e <= s:
                continue
            if entity == "SECRET" and text[s:s + 4].startswith(("s.", "b.", "r.")) and \
                    not random_token(text[s + 2:e], min_len=20):
                continue  # s.<word> in code, not a vault token
            if entity in ("PASSWORD", "SECRET") and group:
                value = m.group(group)
                if not _plausible_password(value):
                    continue
                if value[:1] in "\"'" and value[-1:] == value[:1] and len(value) > 1:
                    s, e = s + 1, e - 1
            yield s, e, entity


# --- Presidio ---------------------------------------------------------------------------

_presidio_lock = threading.Lock()
_presidio: dict[str, Any] | None = None


def _offline_tldextract() -> Callable[[str], Any]:
    from .no_http import NoFetch, without_http

    with without_http():  # its HTTP client is never used: not loaded (see no_http)
        import tldextract

    # suffix_list_urls=() and cache_dir=None: use the bundled snapshot, never the network;
    # given a session that refuses any use, it does not make one of its own either
    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None,
                                    fallback_to_snapshot=True)
    no_fetch = NoFetch()
    return lambda text: extract(text, session=no_fetch)


def _build_presidio() -> dict[str, Any]:
    from .no_http import without_http
    from .presidio_slim import load_recognizer_classes

    with without_http():  # its email recognizer imports tldextract, which imports requests
        c = load_recognizer_classes()  # Presidio's recognizers, without its spaCy import
    EmailRecognizer = c["EmailRecognizer"]

    extract = _offline_tldextract()

    class OfflineEmailRecognizer(EmailRecognizer):
        """Presidio's email patterns, validated against the bundled suffix list."""

        def validate_result(self, pattern_text: str) -> bool:
            return extract(pattern_text).fqdn != ""

    recs = {
        "EMAIL_ADDRESS": OfflineEmailRecognizer(),
        "PHONE_NUMBER": c["PhoneRecognizer"](),
        "CREDIT_CARD": c["CreditCardRecognizer"](),
        "IBAN_CODE": c["IbanRecognizer"](),
        "IP_ADDRESS": c["IpRecognizer"](),
        "US_SSN": c["UsSsnRecognizer"](),
        "MAC_ADDRESS": c["MacAddressRecognizer"](),
        "CRYPTO": c["CryptoRecognizer"](),
        "UUID": c["UuidRecognizer"](),
        "URL": c["UrlRecognizer"](),
    }
    for r in recs.values():  # compile patterns now, not on a hot path
        r.analyze("warm up 1.2.3.4 a@b.co", r.supported_entities, None)
    return recs


def _presidio_recognizers() -> dict[str, Any]:
    global _presidio
    with _presidio_lock:
        if _presidio is None:
            _presidio = _build_presidio()
        return _presidio


_DIGITS = re.compile(r"\d")
_IBAN_GATE = re.compile(r"[A-Za-z]{2}\d\d")
_IP_GATE = re.compile(r"\d\.\d|[0-9a-fA-F]:[0-9a-fA-F:]|::")
_SSN_GATE = re.compile(r"\d{3}[- .]\d\d[- .]\d{4}")
_MIN_SCORE = 0.3


def _non_identifying_ip(value: str) -> bool:
    """Loopback/unspecified addresses, and short IPv6-like tokens such as ``1::2``
    (Python slices, C++ scopes) that identify nothing."""
    if ":" in value and sum(1 for g in value.split("/")[0].split(":") if g) < 3:
        return True
    try:
        ip = ipaddress.ip_interface(value).ip
    except ValueError:
        return True
    return ip.is_loopback or ip.is_unspecified


def _gate(entity: str, text: str, ndigits: int) -> bool:
    if entity == "EMAIL_ADDRESS":
        return "@" in text
    if entity == "PHONE_NUMBER":
        return ndigits >= 7
    if entity == "CREDIT_CARD":
        return ndigits >= 12
    if entity == "IBAN_CODE":
        return ndigits >= 10 and _IBAN_GATE.search(text) is not None
    if entity == "IP_ADDRESS":
        return _IP_GATE.search(text) is not None
    if entity == "US_SSN":
        return _SSN_GATE.search(text) is not None
    return True


# --- detect-secrets ---------------------------------------------------------------------

_ds_lock = threading.Lock()
_ds_plugins: list[tuple[str, Any]] | None = None

_DS_ENTITY = {
    "AWSKeyDetector": "AWS_ACCESS_KEY", "GitHubTokenDetector": "GITHUB_TOKEN",
    "SlackDetector": "SLACK_TOKEN", "JwtTokenDetector": "JWT",
    "BasicAuthDetector": "PASSWORD",
}


def _detect_secrets_plugins() -> list[tuple[str, Any]]:
    """Instantiate detect-secrets plugins once. Only ``analyze_string`` is ever called:
    it touches no process-global settings and never verifies secrets over the network."""
    global _ds_plugins
    with _ds_lock:
        if _ds_plugins is None:
            from .no_http import without_http

            with without_http():  # verification over the network is never used: not loaded
                from detect_secrets.plugins import (
                    artifactory, aws, azure_storage_key, basic_auth, discord, github_token,
                    gitlab_token, high_entropy_strings, jwt, keyword, mailchimp, npm, openai,
                    pypi_token, sendgrid, slack, square_oauth, stripe, telegram_token, twilio,
                )
            classes = [
                aws.AWSKeyDetector, github_token.GitHubTokenDetector, slack.SlackDetector,
                jwt.JwtTokenDetector, basic_auth.BasicAuthDetector, stripe.StripeDetector,
                npm.NpmDetector, openai.OpenAIDetector, sendgrid.SendGridDetector,
                twilio.TwilioKeyDetector, mailchimp.MailchimpDetector,
                discord.DiscordBotTokenDetector, telegram_token.TelegramBotTokenDetector,
                pypi_token.PypiTokenDetector, gitlab_token.GitLabTokenDetector,
                artifactory.ArtifactoryDetector, azure_storage_key.AzureStorageKeyDetector,
                square_oauth.SquareOAuthDetector, keyword.KeywordDetector,
            ]
            plugins: list[tuple[str, Any]] = [(c.__name__, c()) for c in classes]
            plugins.append(("Base64HighEntropyString",
                            high_entropy_strings.Base64HighEntropyString(limit=4.5)))
            _ds_plugins = plugins
        return _ds_plugins


_HEXISH = re.compile(r"^[0-9a-fA-F-]+$")


def _looks_random(v: str) -> bool:
    """A high-entropy candidate that is not hex, a UUID, a path or a word."""
    if len(v) < 20 or _HEXISH.match(v) or v.count("/") >= 2:
        return False
    classes = sum((any(c.islower() for c in v), any(c.isupper() for c in v),
                   any(c.isdigit() for c in v)))
    return classes == 3 and entropy(v) > 4.0


_DS_PREFILTER = re.compile(r"[A-Za-z0-9]{16}|[\"'][^\"']{8,}[\"']|[:=]")


def _ds_spans(text: str) -> Iterable[tuple[int, int, str]]:
    if not _DS_PREFILTER.search(text):
        return
    for name, plugin in _detect_secrets_plugins():
        try:
            values = set(plugin.analyze_string(text))
        except Exception:  # a plugin bug must not let text through unscanned silently
            values = set()
        for value in values:
            if not isinstance(value, str) or len(value) < 6:
                continue
            if name == "Base64HighEntropyString" and not _looks_random(value):
                continue
            if name == "KeywordDetector" and not _plausible_password(value):
                continue
            entity = _DS_ENTITY.get(name, "SECRET")
            if name == "KeywordDetector":
                entity = "SECRET"
            for m in re.finditer(re.escape(value), text):
                yield m.start(), m.end(), entity


# --- the Redactor -----------------------------------------------------------------------

def _resolve(cands: list[tuple[int, int, str]]) -> list[Span]:
    """Keep non-overlapping spans: by priority, then longer, then earlier."""
    order = sorted(set(cands), key=lambda c: (PRIORITY.get(c[2], PRIORITY["CUSTOM"]),
                                              -(c[1] - c[0]), c[0]))
    taken: list[Span] = []
    for s, e, ent in order:
        if all(e <= t.start or s >= t.end for t in taken):
            taken.append(Span(s, e, ent))
    return sorted(taken, key=lambda sp: sp.start)


def apply_spans(text: str, spans: list[Span]) -> str:
    """Replace each span by ``<ENTITY>``."""
    out, pos = [], 0
    for sp in spans:
        out.append(text[pos:sp.start])
        out.append(f"<{sp.entity}>")
        pos = sp.end
    out.append(text[pos:])
    return "".join(out)


def _word_rx(words: Iterable[str]) -> re.Pattern[str] | None:
    ws = sorted({w for w in words if w and len(w) >= 3 and w.lower() not in GENERIC_NAMES},
                key=len, reverse=True)
    if not ws:
        return None
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, ws)) +
                      r")(?![A-Za-z0-9])", re.I)


_SENTINEL: Any = object()


class Redactor:
    """Detects PII and secrets in text and replaces them by typed placeholders.

    ``username``/``hostname`` default to the current login and machine (pass ``None`` to
    skip, or explicit values in tests). ``patterns`` are extra policy rules;
    ``extra_entities`` enables optional detectors (``MAC_ADDRESS``, ``CRYPTO``, ``UUID``,
    ``URL``). Build once and reuse: construction compiles everything.
    """

    def __init__(self, *, username: str | None = _SENTINEL, hostname: str | None = _SENTINEL,
                 patterns: Iterable[CustomPattern] = (),
                 extra_entities: Iterable[str] = ()):
        if username is _SENTINEL:
            username = _current_user()
        if hostname is _SENTINEL:
            hostname = socket.gethostname()
        self.username = username
        self.hostname = hostname
        self._user_rx = _word_rx([username] if username else [])
        hosts = [hostname, hostname.split(".")[0]] if hostname else []
        self._host_rx = _word_rx(hosts)
        self._custom = [(p.name, compile_pattern(p.regex)) for p in patterns]  # RE2: linear
        self._presidio = _presidio_recognizers()
        entities = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE",
                    "IP_ADDRESS", "US_SSN", *extra_entities]
        self._recognizers = [(e, self._presidio[e]) for e in dict.fromkeys(entities)]
        _detect_secrets_plugins()

    @classmethod
    def from_policy(cls, policy: Policy, **kw: Any) -> "Redactor":
        return cls(patterns=policy.redaction.patterns,
                   extra_entities=policy.redaction.extra_entities, **kw)

    def detect(self, text: str) -> list[Span]:
        """Non-overlapping spans of sensitive values in ``text``, in order."""
        if not text or not text.strip():
            return []
        cands: list[tuple[int, int, str]] = list(_own_spans(text))
        ndigits = len(_DIGITS.findall(text))
        for entity, rec in self._recognizers:
            if not _gate(entity, text, ndigits):
                continue
            for r in rec.analyze(text, rec.supported_entities, None):
                if r.score < _MIN_SCORE:
                    continue
                if entity == "IP_ADDRESS" and _non_identifying_ip(text[r.start:r.end]):
                    continue
                cands.append((r.start, r.end, entity))
        cands.extend(_ds_spans(text))
        for name, rx in self._custom:
            cands.extend((m.start(), m.end(), name) for m in rx.finditer(text) if m.end() > m.start())
        for rx, entity in ((self._user_rx, "USERNAME"), (self._host_rx, "HOSTNAME")):
            if rx is not None:
                cands.extend((m.start(), m.end(), entity) for m in rx.finditer(text))
        return _resolve(cands)

    def redact(self, text: str) -> Redaction:
        """Redacted text and the original-text spans that were replaced."""
        spans = self.detect(text)
        return Redaction(apply_spans(text, spans) if spans else text, spans)

    def redact_title(self, title: str) -> str:
        """A window title with sensitive values replaced."""
        return self.redact(title).text

    def redact_url(self, url: str) -> str:
        """A URL with userinfo, secret-looking query/fragment values and path tokens
        replaced; scheme and host are kept."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return self.redact(url).text
        if not parts.scheme or not parts.netloc:
            return self.redact(url).text
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = host + (f":{port}" if port else "")
        if parts.username is not None or parts.password is not None:
            netloc = "<USERNAME>" + (":<PASSWORD>" if parts.password is not None else "") \
                     + "@" + netloc
        segs = parts.path.split("/")
        path = "/".join(self._redact_url_piece(seg, segs[i - 1] if i else "")
                        for i, seg in enumerate(segs))
        query = self._redact_params(parts.query)
        fragment = self._redact_fragment(parts.fragment)
        return urlunsplit((parts.scheme, netloc, path, query, fragment))

    def _redact_url_piece(self, piece: str, before: str = "") -> str:
        """A path segment or parameter value: a token by its shape (random base64/base64url,
        hex of 16+, a JWT or vault token), a value after a segment that names a secret or
        a one-time link (``/password-reset/<v>``, ``/token/<v>``), or what the text
        detectors find in it."""
        if not piece:
            return piece
        raw = unquote(piece)
        if url_token(raw) or (_after_secret_name(before) and len(raw) >= 6
                               and any(c.isdigit() for c in raw)):
            return "<SECRET>"
        red = self.redact(raw)
        return quote(red.text, safe="<>@:+,;=!$'()*~.-_") if red.spans else piece

    def _redact_params(self, qs: str) -> str:
        if not qs:
            return qs
        out = []
        for pair in qs.split("&"):
            key, eq, value = pair.partition("=")
            if eq and value and secret_param(unquote(key)):
                out.append(f"{key}=<SECRET>")
            elif eq:
                out.append(f"{key}={self._redact_url_piece(value, key)}")
            else:
                out.append(self._redact_url_piece(pair))
        return "&".join(out)

    def _redact_fragment(self, frag: str) -> str:
        """``#a=b&c=d``, a client-side route with its own query (``#/reset?token=..``) or a
        plain anchor."""
        if not frag:
            return frag
        route, q, qs = frag.partition("?")
        if q:
            return self._redact_fragment(route) + "?" + self._redact_params(qs)
        if "=" in frag:
            return self._redact_params(frag)
        if "/" in frag:
            segs = frag.split("/")
            return "/".join(self._redact_url_piece(seg, segs[i - 1] if i else "")
                            for i, seg in enumerate(segs))
        return self._redact_url_piece(frag)


def mask_url_values(url: str, spans: Callable[[str], list[tuple[int, int]]]) -> str:
    """``url`` with what ``spans`` finds in each of its pieces replaced by ``<SECRET>``: every
    path segment, query key and value and fragment piece is decoded as the site reads it
    (percent escapes; ``+`` is a space in a query) before ``spans`` looks at it, so a value
    shows the same whether the page encoded it or not. Scheme and host are kept."""
    try:
        parts = urlsplit(url)
        head = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        if url.startswith(head):  # a value across path, query and fragment is one value
            rest = _mask_across(url[len(head):], spans, plus=False)
            parts = urlsplit(head + rest)
    except ValueError:
        return _mask_piece(url, spans, plus=False)
    path = "/".join(_mask_piece(seg, spans, plus=False) for seg in parts.path.split("/"))
    query = _mask_pairs(_mask_across(parts.query, spans, plus=True), spans)
    route, q, qs = parts.fragment.partition("?")
    fragment = (_mask_pairs(route, spans) if "=" in route else
                "/".join(_mask_piece(seg, spans, plus=False) for seg in route.split("/")))
    if q:
        fragment += "?" + _mask_pairs(qs, spans)
    return urlunsplit((parts.scheme, parts.netloc, path, query, fragment))


#: what splits a URL into the pieces :func:`mask_url_values` decodes one by one
_URL_SEPARATORS = frozenset("/?&=#;")


def _mask_across(component: str, spans: Callable[[str], list[tuple[int, int]]], *,
                 plus: bool) -> str:
    """``component`` with a value that runs over its separators masked as one: a value with
    a ``/`` or ``&`` in it, put in a path or a route unencoded, falls into pieces too short
    for ``spans`` to know on their own. Untouched when no value crosses a separator."""
    text = unquote_plus(component) if plus else unquote(component)
    found = [(st, e) for st, e in spans(text) if _URL_SEPARATORS & set(text[st:e])]
    if not found:
        return component
    for start, end in sorted(found, reverse=True):
        text = f"{text[:start]}<SECRET>{text[end:]}"
    return quote(text, safe="<>@:,!$'()*~.-_/?&=#;")


def _mask_pairs(qs: str, spans: Callable[[str], list[tuple[int, int]]]) -> str:
    return "&".join("=".join(_mask_piece(p, spans, plus=True) for p in pair.split("=", 1))
                    for pair in qs.split("&")) if qs else qs


def _mask_piece(piece: str, spans: Callable[[str], list[tuple[int, int]]], *, plus: bool) -> str:
    if not piece:
        return piece
    text = unquote_plus(piece) if plus else unquote(piece)
    found = spans(text)
    if not found:
        return piece
    for start, end in sorted(found, reverse=True):
        text = f"{text[:start]}<SECRET>{text[end:]}"
    return quote(text, safe="<>@:,!$'()*~.-_")


_SECRET_PARAM = re.compile(
    r"(?i)(?:token|secret|passw|pwd|api[_-]?key|apikey|auth|sig(?:nature)?$|^sig|"
    r"credential|session|^sid$|^code$|^key$|^state$|otp|nonce|x-amz-)")
#: path words after which a segment is a one-time value (reset links, invites, magic links)
_ONE_TIME_WORDS = frozenset({
    "reset", "password-reset", "reset-password", "verify", "verification", "confirm",
    "confirmation", "activate", "activation", "invite", "invitation", "magic", "magic-link",
    "unsubscribe", "recover", "recovery", "callback", "share", "s", "t", "k"})
_HEX16 = re.compile(r"^[0-9a-fA-F-]{16,}$")


def secret_param(key: str) -> bool:
    """A query or fragment key named like a credential (``pw``, ``pass``, ``token``,
    ``key``, ``sig``, ``code``, ``auth``, ``session``, ``otp``...), any case."""
    return bool(_SECRET_PARAM.search(key)) or credential_name(key)


def url_token(v: str) -> bool:
    """A URL piece that is a token by its shape."""
    if len(v) < 16:
        return False
    if _HEX16.match(v):   # hex of 16+ (a UUID too: ids in reset links are secrets)
        h = v.replace("-", "")
        return len(h) >= 16 and any(c.isdigit() for c in h) and any(c.isalpha() for c in h)
    if v.startswith("eyJ") and v.count(".") >= 1:
        return True
    return random_token(v) or _looks_random(v)


def _after_secret_name(seg: str) -> bool:
    seg = unquote(seg).lower()
    return seg in _ONE_TIME_WORDS or credential_name(seg) or "reset" in seg


def _current_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


__all__ = ["Redactor", "Redaction", "Span", "apply_spans", "PRIORITY"]
