"""Scope decisions: default-deny, deny wins, built-in denies, browsers by site."""

from __future__ import annotations

import pytest

from workprint.policy.model import parse_policy
from workprint.policy.scope import decide, host_of

POLICY = parse_policy("""
[scope]
allow_apps  = ["XTerm", "code", "libreoffice-*", "KeePassXC", "Bitwarden"]
deny_apps   = ["*1password*", "slack"]
allow_sites = ["*.corp.example.com", "github.com", "mybank.example.org", "paypal.com"]
deny_sites  = ["secret.corp.example.com"]
""")
STAR = parse_policy('[scope]\nallow_sites = ["*"]\nallow_apps = ["*"]\n')


def d(app_id, app_instance="", title="", url=None, policy=POLICY):
    return decide(policy, app_id=app_id, app_instance=app_instance, title=title, url=url)


@pytest.mark.parametrize("cls,inst", [("XTerm", "xterm"), ("xterm", ""), ("Code", "code"),
                                      ("libreoffice-calc", "libreoffice"), ("", "code")])
def test_allowed_apps_case_insensitive_class_or_instance(cls, inst):
    assert d(cls, inst).allowed


def test_default_deny():
    r = d("Gimp", "gimp")
    assert not r.allowed and "allow_apps" in r.reason
    assert not d("", "").allowed


def test_deny_wins_over_allow():
    assert not STAR.scope.deny_apps
    p = parse_policy('[scope]\nallow_apps = ["*"]\ndeny_apps = ["Slack"]\n')
    assert d("Slack", "slack", policy=p).reason == "app denied by policy"
    assert d("Gimp", policy=p).allowed


@pytest.mark.parametrize("cls,inst", [
    ("KeePassXC", "keepassxc"), ("Bitwarden", "bitwarden"), ("1Password", "1password"),
    ("Seahorse", "seahorse"), ("Pinentry-gtk-2", "pinentry-gtk-2"), ("Gcr-prompter", ""),
    ("kwalletmanager5", ""), ("QtPass", "qtpass"), ("", "x11-ssh-askpass"),
])
def test_builtin_password_managers_cannot_be_allowed(cls, inst):
    for pol in (POLICY, STAR):
        r = d(cls, inst, policy=pol)
        assert not r.allowed and r.reason.startswith("built-in deny")


@pytest.mark.parametrize("cls,inst,title", [
    ("Google-chrome", "google-chrome", "New Tab - Google Chrome (Incognito)"),
    ("firefox", "Navigator", "GitHub — Mozilla Firefox Private Browsing"),
    ("Microsoft-edge", "microsoft-edge", "Docs - [InPrivate] - Microsoft Edge"),
    ("Brave-browser", "brave-browser", "GitHub - Brave (Private)"),
    ("Chromium", "chromium-browser (incognito)", "GitHub"),
])
def test_private_browser_windows_denied_even_on_allowed_site(cls, inst, title):
    r = d(cls, inst, title, "https://github.com/", policy=STAR)
    assert not r.allowed and "private" in r.reason


def test_private_marker_in_editor_title_is_not_a_private_window():
    assert d("code", "code", "incognito.py - Visual Studio Code").allowed


@pytest.mark.parametrize("url", [
    "https://www.chase.com/", "https://secure.bankofamerica.com/login", "https://paypal.com",
    "https://www.paypal.com/myaccount", "https://mail.google.com/mail/u/0/#inbox",
    "https://outlook.live.com/mail/", "https://account.proton.me/", "https://mychart.example.org",
    "https://www.healthcare.gov/", "https://web.whatsapp.com/",
])
def test_builtin_deny_sites_win_over_allow_star(url):
    r = d("firefox", "Navigator", "page", url, policy=STAR)
    assert not r.allowed and "built-in" in r.reason
    # also over an explicit allow entry
    assert not d("firefox", "Navigator", "page", url).allowed


def test_browser_site_decides():
    ok = d("Google-chrome", "google-chrome", "PR", "https://github.com/org/repo/pull/1")
    assert ok.allowed and ok.reason == "site allowed by policy"
    assert d("firefox", "Navigator", "", "https://www.github.com/").allowed
    assert not d("firefox", "Navigator", "", "https://gist.github.com/").allowed
    assert d("firefox", "Navigator", "", "https://wiki.corp.example.com/x").allowed
    assert not d("firefox", "Navigator", "", "https://corp.example.com.evil.net/").allowed
    r = d("firefox", "Navigator", "", "https://secret.corp.example.com/")
    assert r.reason == "site denied by policy"
    assert d("firefox", "Navigator", "", "https://news.ycombinator.com/").reason == \
        "site not in allow_sites"


def test_browser_not_needed_in_allow_apps_but_deny_apps_still_wins():
    p = parse_policy('[scope]\nallow_sites = ["github.com"]\ndeny_apps = ["firefox"]\n')
    assert not d("firefox", "Navigator", "", "https://github.com", policy=p).allowed
    assert d("Chromium", "chromium", "", "https://github.com", policy=p).allowed


def test_browser_url_unknown_fails_closed():
    r = d("firefox", "Navigator", "GitHub", None)
    assert not r.allowed and r.reason == "browser url unknown"
    # even with allow_sites = ["*"]: a window whose site cannot be told may show a denied one
    r = d("firefox", "Navigator", "GitHub", None, policy=STAR)
    assert not r.allowed and r.reason == "browser url unknown"
    assert d("firefox", "Navigator", "GitHub", "https://github.com/", policy=STAR).allowed
    assert not d("firefox", "Navigator", "Settings", "chrome://settings/passwords").allowed
    assert not d("firefox", "Navigator", "Blank", "about:blank").allowed


@pytest.mark.parametrize("url,host", [
    ("https://GitHub.com/x?y=1", "github.com"), ("github.com/org", "github.com"),
    ("http://user:pw@host.example.com:8080/p", "host.example.com"),
    ("localhost:3000/app", "localhost"), ("https://example.com./", "example.com"),
    ("about:blank", None), ("", None), (None, None), ("file:///home/a/x.html", None),
    ("mailto:a@b.com", None), ("https://[::1]:8080/", "::1"),
])
def test_host_of(url, host):
    assert host_of(url) == host
