"""The policy the device's collector publishes, kept on the device.

``workprint enroll`` and every ``workprint sync`` round fetch ``GET /v1/policy`` and keep the
answer in ``<data-dir>/collector-policy.json``; ``record``, ``notice`` and ``policy show`` then
work under it (see :func:`workprint.commands._common.resolve_policy`). The text is parsed
with the same parser as ``workprint policy check`` and its :attr:`Policy.hash` must be the
hash the collector announced - the one identity sessions are stamped with and the collector
accepts - so a device never records under a policy its collector would refuse.

``hash == "none"``: the collector published nothing; the device keeps no file and records
under the built-in policy, whose hash such a collector accepts.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ..errors import PolicyError
from ..policy.model import Policy, parse_policy

PUBLISHED_NAME = "collector-policy.json"
#: What ``GET /v1/policy`` answers when the collector published no policy.
NOT_PUBLISHED = "none"


def published_path(data_dir: Path) -> Path:
    return Path(data_dir) / PUBLISHED_NAME


def parse_published(answer: dict[str, Any], server: str) -> Policy | None:
    """Validate a ``GET /v1/policy`` answer; None when nothing is published."""
    announced = answer.get("hash")
    if announced == NOT_PUBLISHED:
        return None
    text = answer.get("policy")
    if not isinstance(text, str) or not isinstance(announced, str):
        raise PolicyError(f"the collector at {server} sent a policy answer without text or hash")
    try:
        policy = parse_policy(text, source=f"<collector {server}>")
    except PolicyError as exc:
        raise PolicyError(f"the policy published by {server} is not valid here: {exc}; "
                             "update workprint or ask the program owner") from None
    if policy.hash != announced:
        raise PolicyError(f"the collector at {server} announced policy {announced[:12]} but its text "
                             f"hashes to {policy.hash[:12]} here (different workprint versions?); "
                             "update workprint so both agree")
    return policy


def save_published(data_dir: Path, answer: dict[str, Any], server: str) -> Policy | None:
    """Check and keep the collector's policy. Returns it (None: nothing published)."""
    policy = parse_published(answer, server)
    path = published_path(data_dir)
    if policy is None:
        path.unlink(missing_ok=True)
        return None
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"hash": policy.hash, "policy": answer["policy"], "server": server,
                   "fetched": time.time()}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return policy


def load_published(data_dir: Path) -> Policy | None:
    """The collector's policy as last fetched, or None (not enrolled, or nothing published)."""
    path = published_path(data_dir)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise PolicyError(f"{path}: unreadable ({exc}); run `workprint sync` to fetch it again") from None
    return parse_published(doc, doc.get("server", "?"))
