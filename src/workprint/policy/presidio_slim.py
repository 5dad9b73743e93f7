"""Presidio's pattern recognizers, imported without Presidio's NLP stack.

``import presidio_analyzer`` runs the package's ``__init__``, which imports the analyzer
engine, its NLP engines and through them spaCy: +63 MB resident and ~0.9 s of CPU at
start-up (measured on the pinned versions), although workprint uses only the regex and
checksum recognizers, which need neither spaCy nor a model. In a recorder that runs all
day that is most of its memory.

:func:`load_recognizer_classes` imports those recognizers' own modules - the real Presidio
code, unmodified - while the package ``__init__`` files are replaced by bare package
objects that hold just the light core classes they re-export (``Pattern``,
``PatternRecognizer``, ...). ``presidio_analyzer.nlp_engine`` is stood in for by a module
whose only name, ``NlpArtifacts``, is what two recognizers use as a type annotation.
Afterwards every ``presidio_analyzer*`` entry this added to ``sys.modules`` is removed
again, so a later ``import presidio_analyzer`` anywhere in the process gets the complete
package, unaffected.

If the layout ever differs from what this expects (another Presidio version), it falls
back to the ordinary import: slower and bigger, never wrong.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import types
from typing import Any

log = logging.getLogger(__name__)

PKG = "presidio_analyzer"

#: core modules, in dependency order, and the names the package re-exports from each
_CORE = [
    ("analysis_explanation", ["AnalysisExplanation"]),
    ("recognizer_result", ["RecognizerResult"]),
    ("score_thresholds", []),
    ("entity_recognizer", ["EntityRecognizer"]),
    ("local_recognizer", ["LocalRecognizer"]),
    ("pattern", ["Pattern"]),
    ("pattern_recognizer", ["PatternRecognizer"]),
]

#: class name -> module below presidio_analyzer.predefined_recognizers
RECOGNIZERS = {
    "CreditCardRecognizer": "generic.credit_card_recognizer",
    "CryptoRecognizer": "generic.crypto_recognizer",
    "EmailRecognizer": "generic.email_recognizer",
    "IbanRecognizer": "generic.iban_recognizer",
    "IpRecognizer": "generic.ip_recognizer",
    "MacAddressRecognizer": "generic.mac_recognizer",
    "PhoneRecognizer": "generic.phone_recognizer",
    "UrlRecognizer": "generic.url_recognizer",
    "UuidRecognizer": "generic.uuid_recognizer",
    "UsSsnRecognizer": "country_specific.us.us_ssn_recognizer",
}

#: how the last load went: "slim", "full" (fallback) or "" (not loaded yet)
last_mode = ""


def _bare_package(name: str) -> types.ModuleType:
    """The package ``name`` as a module object, without running its ``__init__``."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{name} is not a package")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    return mod


def _slim() -> dict[str, Any]:
    root = _bare_package(PKG)
    for sub, names in _CORE:
        mod = importlib.import_module(f"{PKG}.{sub}")
        for n in names:
            setattr(root, n, getattr(mod, n))
    nlp = types.ModuleType(f"{PKG}.nlp_engine")
    nlp.NlpArtifacts = type("NlpArtifacts", (), {"__doc__": "stand-in: annotation only"})
    sys.modules[nlp.__name__] = nlp
    base = f"{PKG}.predefined_recognizers"
    parents = {base}
    for m in RECOGNIZERS.values():
        parts = m.split(".")[:-1]
        parents |= {".".join([base, *parts[:i]]) for i in range(1, len(parts) + 1)}
    for p in sorted(parents, key=len):
        _bare_package(p)
    return {cls: getattr(importlib.import_module(f"{base}.{m}"), cls) for cls, m in RECOGNIZERS.items()}


def _full() -> dict[str, Any]:
    mod = importlib.import_module(f"{PKG}.predefined_recognizers")
    return {cls: getattr(mod, cls) for cls in RECOGNIZERS}


def load_recognizer_classes() -> dict[str, Any]:
    """``{class name: class}`` of the pattern recognizers workprint uses."""
    global last_mode
    if PKG in sys.modules:  # the full package is already loaded: nothing to save
        last_mode = "full"
        return _full()
    before = set(sys.modules)
    try:
        classes = _slim()
        last_mode = "slim"
    except Exception as exc:  # noqa: BLE001 - any layout surprise: the ordinary import
        log.info("presidio slim import failed (%s); importing the full package", exc)
        classes = None
    finally:
        for name in set(sys.modules) - before:
            if name == PKG or name.startswith(PKG + "."):
                del sys.modules[name]
    if classes is None:
        classes = _full()
        last_mode = "full"
    return classes
