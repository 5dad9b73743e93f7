"""The recording notice and the contributor's acknowledgement of it.

Before the first recording under a policy, the contributor reads what is collected, why,
for how long, and what their rights are, and acknowledges it explicitly (typing ``yes``,
or ``workprint notice --accept`` for scripted set-ups). The acknowledgement is kept as a
JSON *receipt* under ``<data-dir>/consent/`` - one file per acknowledgement, never
rewritten, so the history can be shown to an auditor. A receipt names the notice version,
the sha256 of the exact notice text, the policy hash, when and how it was given and the
contributor *pseudonym* (never a login or host name, never the policy's file path).

A receipt is valid only for the same notice version and text, the same effective policy
(hash) and the same contributor: a changed policy needs a new acknowledgement.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shlex
import sys
import textwrap
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from ..errors import NoticeNotAccepted
from ..identity import contributor_pseudonym
from .model import Policy

#: Bump when the meaning of the notice changes; every contributor then acknowledges again.
NOTICE_VERSION = 1
CONSENT_DIR = "consent"
HOW = ("interactive", "cli")


def _para(text: str) -> str:
    return textwrap.fill(text, width=78, initial_indent="  ", subsequent_indent="  ",
                         break_on_hyphens=False, break_long_words=False)


def _scope_paragraphs(policy: Policy) -> list[str]:
    s = policy.scope
    if not s.allow_apps and not s.allow_sites:
        return ["Allowed apps and sites: none. Under this policy nothing is recorded until "
                "the program owner allows specific work apps or sites."]
    out = []
    if s.allow_apps:
        out.append(f"Allowed apps: {', '.join(s.allow_apps)}.")
    if s.allow_sites:
        out.append(f"Allowed sites (in browsers): {', '.join(s.allow_sites)}.")
    denied = [*s.deny_apps, *s.deny_sites]
    if denied:
        out.append(f"Never recorded, even if allowed above: {', '.join(denied)}.")
    return out


def _sections(policy: Policy) -> list[tuple[str, list[str]]]:
    j, p, eu = policy.jurisdiction, policy.pause, policy.jurisdiction.profile == "eu"
    shots = ("screenshots of the allowed apps' windows (other windows blacked out, sensitive "
             "text masked)" if policy.screenshots.enabled
             else "no screenshots (this policy switches them off)")
    when = ("only inside task episodes that you start and end yourself" if j.episodes_only
            else "while the recorder runs and an allowed app or site is in front")
    collected = [
        f"Recording happens {when}. It collects the keys you press and the text you type "
        "(secrets and personal data are replaced by placeholders such as <EMAIL_ADDRESS>), "
        f"mouse clicks, scrolls and drags, the title and name of the window in front, and {shots}.",
        *_scope_paragraphs(policy)]
    if j.indicator:
        collected.append("A visible indicator shows whenever recording is on.")
    pause = f"Pause at any time with {p.hotkey} or `workprint pause`."
    if p.idle_minutes:
        pause += f" Recording also pauses after {p.idle_minutes:g} minutes without input."
    if p.on_lock:
        pause += " It pauses while the screen is locked."
    if policy.review.auto_approve_after_hours:
        review = (f"Sessions you do not withhold are approved for upload "
                  f"{policy.review.auto_approve_after_hours:g} hours after they end.")
    else:
        review = "Nothing leaves this computer until you approve it."
    sections = [
        ("What is collected", collected),
        ("What is never collected", [
            "Other apps and sites; password fields and password prompts (their keys leave only "
            "a placeholder); password managers, private/incognito windows, banking and health "
            "sites; your login name, host name and home folder (you appear only under a "
            "random pseudonym); audio and camera."]),
        ("Why", [
            "Only to train AI agents that operate computers. The data is never used to "
            "evaluate your performance, to monitor you, or for any decision about your "
            "employment. Exported training data carries no per-keystroke timing."]),
        ("How long", [
            f"Recordings are kept on this computer for at most {policy.retention.days} days "
            f"and {policy.retention.max_mb} MB. {review}"]),
        ("Your rights", [
            pause,
            "Review what was recorded: `workprint sessions`, `workprint review`.",
            "Delete irrecoverably from this computer: `workprint forget --last 10m` or "
            "`workprint forget --session ID`.",
            "Ask the program owner for a copy of your data (access, portability) or to "
            "delete data already uploaded."]),
    ]
    if eu:
        sections.append(("Under the GDPR", [
            "Your employer is the controller of this data. Recording happens only in task "
            "episodes you start, with a visible indicator, and data is kept for at most "
            f"{policy.retention.days} days.",
            "You have the right of access (Art. 15), rectification (Art. 16), erasure "
            "(Art. 17), restriction of processing (Art. 18), data portability (Art. 20) and "
            "to object (Art. 21), and you may lodge a complaint with your data protection "
            "authority. Acknowledging this notice records that you were informed; it does "
            "not waive any of these rights."]))
    return sections


def notice_text(policy: Policy) -> str:
    """The notice shown before recording under ``policy`` (plain text, deterministic)."""
    profile = "EU / GDPR" if policy.jurisdiction.profile == "eu" else "US"
    lines = [f"WORKPRINT RECORDING NOTICE (version {NOTICE_VERSION}, {profile} profile)"]
    for title, paragraphs in _sections(policy):
        lines += ["", title, *(_para(x) for x in paragraphs)]
    return "\n".join(lines) + "\n"


def notice_sha256(policy: Policy) -> str:
    return hashlib.sha256(notice_text(policy).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Receipt:
    """A stored acknowledgement of the notice."""

    notice_version: int
    notice_sha256: str
    policy_hash: str
    jurisdiction: str
    accepted_at: str          # ISO 8601, UTC
    how: str                  # "interactive" | "cli"
    contributor: str          # pseudonym (identity.contributor_pseudonym)
    path: str = ""            # where it is stored (not part of the file)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("path")
        return d

    @classmethod
    def from_file(cls, path: Path) -> "Receipt":
        d = json.loads(path.read_text(encoding="utf-8"))
        return cls(notice_version=int(d["notice_version"]), notice_sha256=str(d["notice_sha256"]),
                   policy_hash=str(d["policy_hash"]), jurisdiction=str(d["jurisdiction"]),
                   accepted_at=str(d["accepted_at"]), how=str(d["how"]),
                   contributor=str(d["contributor"]), path=str(path))


def consent_dir(data_dir: Path | str) -> Path:
    return Path(data_dir).expanduser() / CONSENT_DIR


def accept(data_dir: Path | str, policy: Policy, *, how: str) -> Receipt:
    """Record that the contributor acknowledged the notice for ``policy``."""
    if how not in HOW:
        raise ValueError(f"how must be one of {HOW}, got {how!r}")
    now = datetime.now(timezone.utc)
    receipt = Receipt(
        notice_version=NOTICE_VERSION, notice_sha256=notice_sha256(policy),
        policy_hash=policy.hash, jurisdiction=policy.jurisdiction.profile,
        accepted_at=now.isoformat(timespec="milliseconds"), how=how,
        contributor=contributor_pseudonym(data_dir))
    folder = consent_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for d in (Path(data_dir), folder):  # owner-only, whatever mode they had before
        if d.is_dir() and (d.stat().st_mode & 0o777) != 0o700:
            os.chmod(d, 0o700)
    name = f"receipt-{now.strftime('%Y%m%dT%H%M%S%fZ')}-{policy.hash[:12]}.json"
    path = folder / name
    tmp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as f:
        json.dump(receipt.to_dict(), f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return Receipt(**{**receipt.to_dict(), "path": str(path)})


def receipts(data_dir: Path | str) -> list[Receipt]:
    """All readable receipts, newest first."""
    folder = consent_dir(data_dir)
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.glob("receipt-*.json"), reverse=True):
        try:
            out.append(Receipt.from_file(p))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a damaged receipt counts as no receipt
    return out


def receipt_status(data_dir: Path | str, policy: Policy) -> tuple[Receipt | None, str]:
    """The valid receipt for ``policy`` (or None) and a sentence saying why."""
    found = receipts(data_dir)
    if not found:
        return None, "the notice has not been acknowledged in this data dir"
    sha, phash = notice_sha256(policy), policy.hash
    me = contributor_pseudonym(data_dir)
    for r in found:
        if (r.notice_version == NOTICE_VERSION and r.notice_sha256 == sha
                and r.policy_hash == phash and r.contributor == me):
            return r, f"acknowledged on {r.accepted_at} ({r.how})"
    latest = found[0]
    if latest.contributor != me:
        return None, "the notice was acknowledged by another contributor, not by you"
    if latest.policy_hash != phash:
        return None, "the policy changed since your last acknowledgement"
    return None, "the notice changed since your last acknowledgement"


def current_receipt(data_dir: Path | str, policy: Policy) -> Receipt | None:
    """The valid receipt for this notice version, policy and contributor, if any."""
    return receipt_status(data_dir, policy)[0]


def accept_command(data_dir: Path | str, policy: Policy) -> str:
    """The command that acknowledges the notice ahead of time, for error messages."""
    cmd = f"workprint notice --accept --data-dir {shlex.quote(str(data_dir))}"
    if policy.source and not policy.source.startswith("<"):
        cmd += f" --policy {shlex.quote(policy.source)}"
    return cmd


def require_acknowledged(data_dir: Path | str, policy: Policy, *, interactive: bool,
                         input: TextIO | None = None, output: TextIO | None = None) -> Receipt:
    """Return the valid receipt, asking for one on a terminal if there is none.

    Raises :class:`~workprint.errors.NoticeNotAccepted` when not interactive and no valid
    receipt exists, or when the person does not type ``yes``.
    """
    receipt, why = receipt_status(data_dir, policy)
    if receipt is not None:
        return receipt
    how_to = accept_command(data_dir, policy)
    if not interactive:
        raise NoticeNotAccepted(
            f"Recording needs your acknowledgement of the recording notice first ({why}). "
            f"Read it with `workprint notice` and acknowledge it with `{how_to}`, "
            f"or start `workprint record` on a terminal to be asked.")
    inp = input if input is not None else sys.stdin
    out = output if output is not None else sys.stdout
    out.write(notice_text(policy))
    out.write(f"\n({why[0].upper()}{why[1:]}.)\n")
    out.write("Type yes to acknowledge this notice and continue: ")
    out.flush()
    answer = inp.readline()
    if answer.strip().lower() != "yes":
        out.write("\n")
        raise NoticeNotAccepted(
            "Not acknowledged: nothing was recorded. To record, type yes when asked, or run "
            f"`{how_to}`.")
    return accept(data_dir, policy, how="interactive")


__all__ = ["NOTICE_VERSION", "Receipt", "notice_text", "notice_sha256", "accept", "receipts",
           "receipt_status", "current_receipt", "require_acknowledged", "accept_command",
           "consent_dir"]
