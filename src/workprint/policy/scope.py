"""Scope decisions: is the window in front recorded? Pure functions over a Policy.

Rules, in order (the first that applies decides):

1. no active window -> out of scope;
2. built-in deny apps (password managers, keyrings, pinentry/askpass and polkit dialogs)
   -> out, whatever the policy says;
3. private/incognito browser windows -> out;
4. ``scope.deny_apps`` -> out (deny always wins);
5. browser windows: the site decides. The host comes from the URL; unknown URL -> out
   ("browser url unknown"), even when ``allow_sites`` contains ``"*"`` (a window whose
   site cannot be told may show a denied one - background windows, whose URL is never
   asked, included). Built-in deny sites (banking, health, personal mail...) and
   ``deny_sites`` -> out; ``allow_sites`` -> in;
6. other apps: ``allow_apps`` -> in; otherwise out (default-deny).

App globs match case-insensitively against the app id (X11 WM_CLASS class) OR the
instance. Site globs match the lowercased host; a deny pattern without wildcards also
covers its subdomains (``paypal.com`` denies ``www.paypal.com``); an allow pattern without
wildcards covers the host and its ``www.`` form only.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, Sequence, TypeVar
from urllib.parse import urlsplit

from ..events import Geometry
from .model import Policy

#: Apps never recorded (globs, case-insensitive, on WM_CLASS class or instance).
BUILTIN_DENY_APPS: tuple[str, ...] = (
    "keepassxc", "org.keepassxc.keepassxc", "keepass", "keepass2", "keeweb",
    "*1password*", "bitwarden", "bitwarden-desktop", "lastpass*", "dashlane*", "enpass*",
    "seahorse", "org.gnome.seahorse*", "gnome-keyring*", "gcr-prompter", "gcr-viewer",
    "kwalletmanager*", "kwalletd*", "ksecretd", "qtpass", "gopass*", "passwordsafe",
    "org.gnome.world.secrets", "secrets", "buttercup*", "authy*", "yubico-authenticator",
    "pinentry*", "*ssh-askpass*", "ksshaskpass", "lxqt-openssh-askpass",
    "polkit-gnome-authentication-agent-1", "polkit-kde-authentication-agent-1",
    "lxqt-policykit-agent", "lxpolkit", "mate-polkit", "kleopatra",
    "torbrowser*", "tor browser", "tor-browser*",
)

#: Sites never recorded (host globs). Banking, payments, health, personal mail, private
#: messaging, tax and benefits.
BUILTIN_DENY_SITES: tuple[str, ...] = (
    "*bank*", "paypal.com", "venmo.com", "cash.app", "wise.com", "revolut.com",
    "chase.com", "wellsfargo.com", "citi.com", "capitalone.com", "americanexpress.com",
    "schwab.com", "fidelity.com", "vanguard.com", "robinhood.com", "coinbase.com",
    "mint.intuit.com", "*health*", "mychart.*", "*.mychart.com", "zocdoc.com",
    "goodrx.com", "kp.org", "patient.*", "*.patientportal.*",
    "mail.google.com", "outlook.live.com", "mail.yahoo.com", "mail.aol.com",
    "proton.me", "protonmail.com", "icloud.com", "gmx.*", "web.de", "tutanota.com",
    "tuta.com", "web.whatsapp.com", "web.telegram.org", "messenger.com", "signal.org",
    "irs.gov", "ssa.gov", "tinder.com", "bumble.com", "hinge.co",
)

#: App ids (class or instance) of web browsers: the site decides for these windows.
BROWSER_APPS: tuple[str, ...] = (
    "chromium", "chromium-browser", "google-chrome*", "firefox*", "navigator",
    "brave-browser*", "microsoft-edge*", "vivaldi*", "opera*", "epiphany",
    "org.gnome.epiphany", "falkon", "konqueror", "midori", "qutebrowser", "librewolf",
    "waterfox*", "floorp", "zen*", "thorium*", "yandex-browser*", "min", "nyxt",
)

#: Title markers of private windows (browser windows only).
PRIVATE_TITLE_MARKERS = ("incognito", "private browsing", "inprivate", "(private)",
                         "private window")
#: App id/instance markers of private windows (any app).
PRIVATE_APP_MARKERS = ("*incognito*", "*private*", "*inprivate*")


class _Window(Protocol):
    """What :func:`window_at` needs of a window (capture's ``WindowInfo`` has it)."""

    window: int
    geometry: Geometry | None


@dataclass(frozen=True, slots=True)
class ScopeDecision:
    allowed: bool
    reason: str


#: Terminal emulators (X11 WM_CLASS instance or class, lower-case).
TERMINAL_APPS = frozenset({
    "xterm", "uxterm", "urxvt", "rxvt", "st", "st-256color", "alacritty", "kitty", "foot",
    "wezterm", "org.wezfurlong.wezterm", "gnome-terminal", "gnome-terminal-server",
    "org.gnome.terminal", "org.gnome.console", "kgx", "konsole", "org.kde.konsole",
    "xfce4-terminal", "lxterminal", "qterminal", "mate-terminal", "terminator", "tilix",
    "com.gexperts.tilix", "terminology", "guake", "tilda", "yakuake", "sakura", "eterm",
    "cool-retro-term", "ptyxis", "org.gnome.ptyxis", "blackbox", "contour", "ghostty",
    "com.mitchellh.ghostty",
})



@lru_cache(maxsize=256)
def _glob_re(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(fnmatch.translate(p.lower()) for p in patterns))


@lru_cache(maxsize=256)
def _site_re(patterns: tuple[str, ...], deny: bool) -> re.Pattern[str] | None:
    alts = []
    for p in patterns:
        p = p.lower()
        alts.append(fnmatch.translate(p))
        if not any(c in p for c in "*?["):
            alts.append(fnmatch.translate(("*." if deny else "www.") + p))
    return re.compile("|".join(alts)) if alts else None


def _matches(rx: re.Pattern[str] | None, *values: str) -> bool:
    return rx is not None and any(v and rx.match(v.lower()) for v in values)


def app_matches(patterns: tuple[str, ...], app_id: str, app_instance: str = "") -> bool:
    """Case-insensitive glob match on the app id or instance."""
    return _matches(_glob_re(tuple(patterns)), app_id, app_instance)


def site_matches(patterns: tuple[str, ...], host: str, *, deny: bool) -> bool:
    """Glob match of a host (see module doc for the subdomain rule)."""
    return _matches(_site_re(tuple(patterns), deny), host)


def is_browser(app_id: str, app_instance: str = "") -> bool:
    return app_matches(BROWSER_APPS, app_id, app_instance)


def is_private_window(app_id: str, app_instance: str, title: str) -> bool:
    """Incognito/private windows, by app markers or (for browsers) title markers."""
    if app_matches(PRIVATE_APP_MARKERS, app_id, app_instance):
        return True
    if is_browser(app_id, app_instance):
        t = (title or "").lower()
        return any(m in t for m in PRIVATE_TITLE_MARKERS)
    return False


def host_of(url: str | None) -> str | None:
    """Lowercased host of a URL (``github.com/x`` works too); None if it has none."""
    if not url:
        return None
    u = url.strip()
    if "://" not in u:
        if re.match(r"^[a-z][a-z0-9+.\-]*:", u, re.I) and not re.match(r"^[^/:]+:\d", u):
            return None  # about:blank, data:, mailto:, javascript:
        u = "http://" + u
    try:
        parts = urlsplit(u)
        if parts.scheme.lower() not in ("http", "https", "ws", "wss", "ftp"):
            return None
        host = parts.hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.rstrip(".").lower() or None


def decide(policy: Policy, *, app_id: str, app_instance: str = "", title: str = "",
           url: str | None = None) -> ScopeDecision:
    """Whether the active window may be recorded, and why (see module doc)."""
    app_id, app_instance = app_id or "", app_instance or ""
    if not app_id and not app_instance:
        return ScopeDecision(False, "no active window")
    if app_matches(BUILTIN_DENY_APPS, app_id, app_instance):
        return ScopeDecision(False, "built-in deny: password manager or credential dialog")
    if is_private_window(app_id, app_instance, title):
        return ScopeDecision(False, "built-in deny: private browsing window")
    sc = policy.scope
    if app_matches(sc.deny_apps, app_id, app_instance):
        return ScopeDecision(False, "app denied by policy")
    if is_browser(app_id, app_instance):
        return _decide_site(policy, url)
    if app_matches(sc.allow_apps, app_id, app_instance):
        return ScopeDecision(True, "app allowed by policy")
    return ScopeDecision(False, "app not in allow_apps")


def _decide_site(policy: Policy, url: str | None) -> ScopeDecision:
    sc = policy.scope
    host = host_of(url)
    if host is None:
        return ScopeDecision(False, "browser url unknown")
    if site_matches(BUILTIN_DENY_SITES, host, deny=True):
        return ScopeDecision(False, "built-in deny: banking, health or personal site")
    if site_matches(sc.deny_sites, host, deny=True):
        return ScopeDecision(False, "site denied by policy")
    if site_matches(sc.allow_sites, host, deny=False):
        return ScopeDecision(True, "site allowed by policy")
    return ScopeDecision(False, "site not in allow_sites")


W = TypeVar("W", bound=_Window)


def window_at(windows: Sequence[W], x: int, y: int) -> W | None:
    """The window that shows at root point ``(x, y)``: the top-most (``windows`` is bottom
    first) whose outer extents - its frame with the title bar and borders when it has one -
    contain the point; None when no window does (the bare desktop). Windows without a known
    geometry are passed over: a caller that must fail closed checks for them first."""
    for win in reversed(windows):
        g = getattr(win, "frame", None) or win.geometry
        if g is not None and g.contains(x, y):
            return win
    return None
