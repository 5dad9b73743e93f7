"""The recorder loads Presidio's recognizers without spaCy, and they behave exactly like
the ones from the full package import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"

_CHILD = r"""
import json, sys
from workprint.policy import presidio_slim
from workprint.policy.redact_text import Redactor
r = Redactor(username=None, hostname=None, extra_entities=["URL", "UUID", "CRYPTO", "MAC_ADDRESS"])
slim = {n: c for n, c in presidio_slim.load_recognizer_classes().items()}
mode = presidio_slim.last_mode
spacy = "spacy" in sys.modules
left = sorted(m for m in sys.modules if m.startswith("presidio_analyzer"))
import presidio_analyzer.predefined_recognizers as full  # the ordinary, complete import
texts = [json.loads(l)["text"] for l in open(sys.argv[1])]
diff = []
for name, cls in slim.items():
    a, b = cls(), getattr(full, name)()
    assert a.__class__ is not b.__class__  # really two imports
    for t in texts:
        ra = [(x.start, x.end, x.entity_type, round(x.score, 6)) for x in a.analyze(t, a.supported_entities, None)]
        rb = [(x.start, x.end, x.entity_type, round(x.score, 6)) for x in b.analyze(t, b.supported_entities, None)]
        if ra != rb:
            diff.append([name, t])
print(json.dumps({"mode": mode, "spacy": spacy, "left": left, "diff": diff[:5],
                  "redacted": r.redact("write to ann@example.org").text}))
"""


def test_slim_import_avoids_spacy_and_matches_full_presidio():
    out = subprocess.run([sys.executable, "-c", _CHILD, str(DATA / "redaction_corpus.jsonl")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["mode"] == "slim"
    assert res["spacy"] is False, "spaCy was imported by building the Redactor"
    assert res["left"] == [], "the slim loader must leave no partial package in sys.modules"
    assert res["diff"] == [], f"slim and full recognizers disagree: {res['diff']}"
    assert res["redacted"] == "write to <EMAIL_ADDRESS>"


def test_falls_back_to_full_import_when_layout_differs(monkeypatch):
    from workprint.policy import presidio_slim

    monkeypatch.setitem(presidio_slim.RECOGNIZERS, "EmailRecognizer", "generic.no_such_module")
    monkeypatch.delitem(sys.modules, "presidio_analyzer", raising=False)
    classes = presidio_slim.load_recognizer_classes()
    assert presidio_slim.last_mode == "full"
    assert classes["IpRecognizer"]().analyze("host 8.8.4.4 up", ["IP_ADDRESS"], None)
