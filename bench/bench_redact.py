"""Redaction quality and speed on tests/data/redaction_corpus.jsonl.

Recall per entity: a labelled value counts as found if the redacted text no longer
contains it. Precision per entity: of the spans reported with that entity, the fraction
overlapping a labelled value. Ordinary-text precision: fraction of texts with no labels
left unchanged. Speed: per call on typing-run sized texts (5-80 chars) cut from the corpus.

Run (serialised with other heavy jobs on this machine):
    flock /tmp/workprint-heavy.lock .venv/bin/python bench/bench_redact.py
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "data"))

from make_redaction_corpus import CORPUS_HOSTNAME, CORPUS_USERNAME  # noqa: E402
from workprint.policy.redact_text import Redactor  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "redaction_corpus.jsonl"


def load() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def evaluate(redactor: Redactor, items: list[dict]) -> dict:
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    reported: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses, false_pos = [], []
    clean_total = clean_kept = 0
    for it in items:
        text, labels = it["text"], it["spans"]
        red = redactor.redact(text)
        for s, e, ent in labels:
            found[ent][1] += 1
            if text[s:e] not in red.text:
                found[ent][0] += 1
            else:
                misses.append((ent, text))
        for sp in red.spans:
            reported[sp.entity][1] += 1
            if any(sp.start < e and s < sp.end for s, e, _ in labels):
                reported[sp.entity][0] += 1
        if not labels:
            clean_total += 1
            if red.text == text:
                clean_kept += 1
            else:
                false_pos.append((text, red.text))
    return {"recall": dict(found), "precision": dict(reported),
            "clean": (clean_kept, clean_total), "misses": misses, "false_pos": false_pos}


def typing_runs(items: list[dict], n: int = 2000, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    texts = [it["text"] for it in items]
    runs = []
    while len(runs) < n:
        t = rnd.choice(texts)
        size = rnd.randint(5, 80)
        start = rnd.randint(0, max(0, len(t) - size))
        runs.append(t[start:start + size])
    return runs


def timing(redactor: Redactor, runs: list[str]) -> tuple[float, float]:
    for r in runs[:200]:
        redactor.redact(r)
    ts = []
    for r in runs:
        t0 = time.perf_counter()
        redactor.redact(r)
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return statistics.median(ts) * 1e3, ts[int(len(ts) * 0.99)] * 1e3


def main() -> int:
    items = load()
    t0 = time.perf_counter()
    redactor = Redactor(username=CORPUS_USERNAME, hostname=CORPUS_HOSTNAME)
    build_s = time.perf_counter() - t0
    res = evaluate(redactor, items)
    print(f"corpus: {len(items)} items ({sum(1 for i in items if i['spans'])} positive)")
    print(f"{'entity':<16}{'labelled':>9}{'recall':>9}{'reported':>10}{'precision':>11}")
    for ent in sorted(set(res["recall"]) | set(res["precision"])):
        f, n = res["recall"].get(ent, [0, 0])
        c, m = res["precision"].get(ent, [0, 0])
        rec = f"{f / n:.3f}" if n else "-"
        prec = f"{c / m:.3f}" if m else "-"
        print(f"{ent:<16}{n:>9}{rec:>9}{m:>10}{prec:>11}")
    tf = sum(v[0] for v in res["recall"].values())
    tn = sum(v[1] for v in res["recall"].values())
    kept, total = res["clean"]
    print(f"{'ALL':<16}{tn:>9}{tf / tn:>9.3f}")
    print(f"ordinary work text left unchanged: {kept}/{total} = {kept / total:.3f}")
    med, p99 = timing(redactor, typing_runs(items))
    print(f"typing run (5-80 chars): median {med:.3f} ms, p99 {p99:.3f} ms; build {build_s:.2f} s")
    if "-v" in sys.argv:
        for ent, text in res["misses"]:
            print("MISS", ent, repr(text))
        for text, red in res["false_pos"]:
            print("FP  ", repr(text), "->", repr(red))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
