"""Scope patterns that allow more than their author likely meant (pure; for `policy check`).

A valid policy can still be wider than intended: ``"*"`` in ``allow_apps`` records every
app, a glob that starts with a wildcard such as ``"*term*"`` also takes in every terminal, ``allow_sites = ["*"]`` every
site. These are warnings, not errors (a program may mean exactly that); ``policy check
--strict`` - what a fleet should publish with - turns them into errors.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from .model import Policy
from .scope import BROWSER_APPS, TERMINAL_APPS

_WILDCARDS = set("*?[")
#: plain names of the apps a broad glob is checked against
_BROWSERS = tuple(sorted({b.rstrip("*") for b in BROWSER_APPS}))
_TERMINALS = tuple(sorted(TERMINAL_APPS))


@dataclass(frozen=True, slots=True)
class PolicyWarning:
    key: str       # dotted key, e.g. "scope.allow_apps"
    pattern: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "pattern": self.pattern, "message": self.message}


def _only_wildcards(pattern: str) -> bool:
    return pattern.strip("*?") == ""


def policy_warnings(policy: Policy) -> list[PolicyWarning]:
    out: list[PolicyWarning] = []
    key = "scope.allow_apps"
    for p in policy.scope.allow_apps:
        if _only_wildcards(p):
            out.append(PolicyWarning(key, p, "records every app (only the built-in denies and "
                                              "deny_apps stay out); list the work apps instead"))
            continue
        if p[0] not in _WILDCARDS:  # "libreoffice-*", "gnome-terminal*": one app's variants
            continue
        for kind, names in (("browsers", _BROWSERS), ("terminals", _TERMINALS)):
            hit = [n for n in names if fnmatch.fnmatchcase(n, p.lower())]
            if hit:
                out.append(PolicyWarning(key, p, f"this glob also matches {kind} "
                                                  f"({', '.join(hit[:4])}{', ...' if len(hit) > 4 else ''}); "
                                                  f"name them exactly if they are meant"))
    key = "scope.allow_sites"
    for p in policy.scope.allow_sites:
        if _only_wildcards(p):
            out.append(PolicyWarning(key, p, "records every site (only the built-in denies and "
                                              "deny_sites stay out); list the work sites instead"))
        elif p.lstrip("*.?") and "." not in p.lstrip("*.?") and p[0] in "*?":
            out.append(PolicyWarning(key, p, "matches a whole top-level domain"))
    return out
