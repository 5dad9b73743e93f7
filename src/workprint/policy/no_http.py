"""detect-secrets and tldextract, imported without their HTTP client.

Both import ``requests`` when they load: detect-secrets to verify a found secret with its
issuer, tldextract to fetch the public suffix list. workprint does neither (secrets are
never verified over the network; the suffix list is tldextract's bundled snapshot), but
``requests`` brings urllib3, ssl, http.client, email, charset_normalizer and idna with it:
~18 MB resident in a recorder that runs all day (BENCHMARKS.md, "OCR off" fifth sitting).

Inside :func:`without_http`, ``import requests`` and ``import requests_file`` give
stand-in modules. A stand-in holds only the classes those packages name while they load
(``Session`` and ``Response`` in annotations, ``FileAdapter``); calling one of them, or
asking a stand-in for any other name (``requests.exceptions``, ``requests.post``...), loads
the real package at that moment and hands back the real thing. So nothing behaves
differently - code that does use the network later still works and only then pays for it.
When the block ends the stand-ins leave ``sys.modules``: a later ``import requests``
anywhere gets the real package. Nothing is stood in when ``requests`` is already loaded.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
import types
from typing import Iterator

#: the modules stood in, and the classes each must name while the packages load
STAND_INS: dict[str, tuple[str, ...]] = {
    "requests": ("Session", "Response"),
    "requests_file": ("FileAdapter",),
}

_lock = threading.RLock()


def _real(name: str) -> types.ModuleType:
    """The real module ``name``, imported now if only its stand-in is loaded."""
    with _lock:
        mod = sys.modules.get(name)
        if isinstance(mod, _StandIn):
            del sys.modules[name]
        return importlib.import_module(name)


class _StandIn(types.ModuleType):
    """A module that loads the real one when asked for a name it does not hold."""

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)  # the import machinery probing (__path__, __spec__...)
        return getattr(_real(self.__name__), attr)


def _deferred_class(module: str, name: str) -> type:
    def __new__(cls, *args, **kwargs):  # noqa: N807 - the real class's instance instead
        return getattr(_real(module), name)(*args, **kwargs)

    return type(name, (), {"__new__": __new__, "__module__": module,
                           "__doc__": f"Stand-in for {module}.{name}: calling it makes the real one."})


def _stand_in(name: str, classes: tuple[str, ...]) -> _StandIn:
    mod = _StandIn(name, f"Stand-in for {name} (see workprint.policy.no_http).")
    for cls in classes:
        setattr(mod, cls, _deferred_class(name, cls))
    return mod


@contextlib.contextmanager
def without_http() -> Iterator[None]:
    """Import inside this block; ``requests`` is not loaded by it (see the module doc)."""
    with _lock:
        added = []
        if "requests" not in sys.modules:
            for name, classes in STAND_INS.items():
                if name not in sys.modules:
                    sys.modules[name] = _stand_in(name, classes)
                    added.append(name)
        try:
            yield
        finally:
            for name in added:
                if isinstance(sys.modules.get(name), _StandIn):
                    del sys.modules[name]


def http_loaded() -> bool:
    """Is the real ``requests`` package loaded in this process?"""
    mod = sys.modules.get("requests")
    return mod is not None and not isinstance(mod, _StandIn)


class NoFetch:
    """A ``requests.Session`` stand-in for tldextract calls that must never fetch: any use
    raises (with ``suffix_list_urls=()`` tldextract only creates a session, unused, unless
    it is given one)."""

    def __getattr__(self, attr: str):
        raise RuntimeError(f"workprint never fetches over the network (session.{attr})")
