"""Recall and precision of the Redactor on the labelled corpus (tests/data)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from workprint.policy.redact_text import Redactor

DATA = Path(__file__).parent / "data"
STRUCTURED = {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS",
              "US_SSN", "AWS_ACCESS_KEY", "GITHUB_TOKEN", "SLACK_TOKEN", "JWT",
              "PRIVATE_KEY", "PASSWORD", "SECRET", "HOME_PATH", "USERNAME", "HOSTNAME"}


def _generator():
    spec = importlib.util.spec_from_file_location("mkcorpus", DATA / "make_redaction_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def corpus():
    items = [json.loads(l) for l in (DATA / "redaction_corpus.jsonl").read_text().splitlines()]
    gen = _generator()
    red = Redactor(username=gen.CORPUS_USERNAME, hostname=gen.CORPUS_HOSTNAME)
    return items, [red.redact(it["text"]).text for it in items]


def test_corpus_size(corpus):
    items, _ = corpus
    assert sum(1 for i in items if i["spans"]) >= 300
    assert sum(1 for i in items if not i["spans"]) >= 300


def test_recall_per_entity(corpus):
    items, outs = corpus
    hits: dict[str, list[int]] = {}
    for it, out in zip(items, outs):
        for s, e, ent in it["spans"]:
            h = hits.setdefault(ent, [0, 0])
            h[1] += 1
            h[0] += it["text"][s:e] not in out
    assert set(hits) <= STRUCTURED
    low = {ent: f"{f}/{n}" for ent, (f, n) in hits.items() if f / n < 0.99}
    assert not low, f"recall below 0.99: {low}"


def test_placeholders_name_the_entity(corpus):
    items, outs = corpus
    wrong = [(it["text"], out) for it, out in zip(items, outs)
             for _, _, ent in it["spans"]
             # a generic secret inside a password context may be typed as the password
             if f"<{ent}>" not in out and not (ent == "SECRET" and "<PASSWORD>" in out)]
    assert len(wrong) <= len(items) // 100, wrong[:5]


def test_precision_on_ordinary_work_text(corpus):
    items, outs = corpus
    clean = [(it["text"], out) for it, out in zip(items, outs) if not it["spans"]]
    changed = [(t, o) for t, o in clean if t != o]
    assert 1 - len(changed) / len(clean) >= 0.97, changed[:10]
