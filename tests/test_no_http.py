"""The redactor loads detect-secrets and tldextract without ``requests`` (their HTTP client,
which workprint never uses), and finds exactly what it finds with ``requests`` loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"

_CHILD = r"""
import json, sys
if sys.argv[2] == "full":
    import requests  # loaded first: nothing is stood in
from workprint.policy.redact_text import Redactor
r = Redactor(username=None, hostname=None, extra_entities=["URL", "UUID", "CRYPTO", "MAC_ADDRESS"])
texts = [json.loads(l)["text"] for l in open(sys.argv[1])]
spans = [[(s.start, s.end, s.entity) for s in r.detect(t)] for t in texts]
http = sorted(m for m in sys.modules if m.split(".")[0] in ("requests", "requests_file", "urllib3", "ssl"))
from workprint.policy.no_http import http_loaded
stood_in = http_loaded() is False
import requests, detect_secrets.plugins.base as base  # later imports get the real package
print(json.dumps({"spans": spans, "http": http, "stood_in": stood_in,
                  "real_later": hasattr(requests, "get") and base.requests.exceptions is requests.exceptions}))
"""


def _run(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(DATA / "redaction_corpus.jsonl"), mode],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_redactor_loads_without_requests_and_finds_the_same():
    slim, full = _run("slim"), _run("full")
    assert slim["http"] == [], f"building and using the Redactor loaded {slim['http']}"
    assert slim["stood_in"] and not full["stood_in"]
    assert sum(map(len, slim["spans"])) > 100  # the corpus really exercises the detectors
    assert slim["spans"] == full["spans"]
    assert slim["real_later"], "a later import of requests must be the real package, also for detect-secrets"


def test_stand_in_hands_out_the_real_thing_when_used():
    code = r"""
import sys
from workprint.policy.no_http import without_http, http_loaded
with without_http():
    import requests
    assert not http_loaded()
    Session = requests.Session
    s = Session()          # calling a stand-in class makes the real one
    assert http_loaded() and type(s).__module__.startswith("requests")
    assert requests.exceptions.RequestException  # any other name: the real package's
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
