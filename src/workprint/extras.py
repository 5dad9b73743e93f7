"""Optional parts of the install: the default is a contributor's computer (recorder, review,
viewer, sync, AgentNet/Aguvis exports); extras add the rest (see ``pyproject.toml``)."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtra


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{feature} needs the Python package {module!r}, which this install does "
                           f"not have: pip install 'workprint[{extra}]'") from None
