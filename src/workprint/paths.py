"""Platform locations."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def default_data_dir() -> Path:
    """``$WORKPRINT_DATA_DIR`` or the platform's user data dir (``~/.local/share/workprint``)."""
    env = os.environ.get("WORKPRINT_DATA_DIR")
    return Path(env) if env else Path(platformdirs.user_data_dir("workprint", appauthor=False))
