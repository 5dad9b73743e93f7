"""``workprint browser``: set up the browser extension that tells the recorder about pages.

``install`` writes the native-messaging host (a small launcher of
:mod:`workprint.capture.browser_host`) and its manifest where Chromium and Google Chrome
look for it; ``extension-path`` prints the unpacked extension folder (for
``--load-extension`` or packing).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shlex
import sys
from importlib import resources
from pathlib import Path

from ..capture.browser_ext import HOST_NAME
from ..errors import ConfigError
from ._common import add_data_dir, data_dir, print_json

#: Where each browser looks for per-user host manifests, under $XDG_CONFIG_HOME (Linux).
USER_MANIFEST_DIRS = {"chromium": "chromium/NativeMessagingHosts",
                      "chrome": "google-chrome/NativeMessagingHosts"}
LAUNCHER = "workprint-browser-host"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "browser", help="set up the browser extension (page, element and password-field reports)",
        description="The workprint extension for Chromium-based browsers tells the recorder the URL "
                    "and title of the page in front, the element you click or focus (role, name, "
                    "box on screen) and when a password field has focus - so its keys are never "
                    "stored - without accessibility flags. It is never active in private windows.")
    bsub = p.add_subparsers(dest="browser_command", metavar="COMMAND", required=True)

    ins = bsub.add_parser(
        "install", help="register the native-messaging host the extension talks through",
        description="Write the native-messaging host (a launcher that forwards the extension's "
                    "reports to the recorder running on the data dir) and its manifest "
                    f"({HOST_NAME}.json) where Chromium and Google Chrome look for it for this user. "
                    "Then load the extension (see `workprint browser extension-path`), or for a "
                    "fleet force-install it by policy (README: the browser extension).")
    add_data_dir(ins)
    ins.add_argument("--browser", choices=("chromium", "chrome", "all"), default="all",
                     help="whose user manifest dir to write (default: all)")
    ins.add_argument("--manifest-dir", type=Path, action="append", metavar="DIR",
                     help="write the host manifest into DIR instead (repeatable), e.g. the "
                          "NativeMessagingHosts folder of a --user-data-dir profile, or a "
                          "system-wide folder such as /etc/opt/chrome/native-messaging-hosts")
    ins.add_argument("--host-dir", type=Path, metavar="DIR",
                     help="where the host launcher goes (default: workprint's config dir; for a "
                          "system-wide manifest use a folder every user can read)")
    ins.add_argument("--extension-id", action="append", metavar="ID",
                     help="allow this extension id (repeatable; default: the id of the extension "
                          "shipped with workprint; give yours when you pack it with your own key)")
    ins.add_argument("--json", action="store_true", help="machine-readable output")
    ins.set_defaults(func=run_install)

    ext = bsub.add_parser(
        "extension-path", help="print the unpacked extension folder",
        description="Print the folder of the unpacked extension shipped with workprint, e.g. for "
                    "`chromium --load-extension=$(workprint browser extension-path)`.")
    ext.add_argument("--json", action="store_true", help="machine-readable output (path and extension id)")
    ext.set_defaults(func=run_extension_path)


def extension_dir() -> Path:
    return Path(str(resources.files("workprint.capture") / "browser_extension"))


def extension_id(manifest: dict) -> str:
    """The id Chromium gives an extension with this manifest's ``key``: the first 32 hex
    digits of the SHA-256 of the public key, written with the letters a-p."""
    try:
        der = base64.b64decode(manifest["key"])
    except (KeyError, ValueError) as exc:
        raise ConfigError("the extension's manifest.json has no valid \"key\"; reinstall workprint") from exc
    return "".join(chr(ord("a") + int(c, 16)) for c in hashlib.sha256(der).hexdigest()[:32])


def shipped_extension() -> tuple[Path, str]:
    folder = extension_dir()
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the browser extension is missing from this install ({folder}); "
                          f"reinstall workprint") from exc
    return folder, extension_id(manifest)


def _config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def launcher_text(data: Path | None) -> str:
    """The host launcher: this Python, with this workprint importable, on ``data``."""
    import workprint

    package_parent = str(Path(workprint.__file__).resolve().parent.parent)
    args = ["-m", "workprint.capture.browser_host"]
    if data is not None:
        args += ["--data-dir", str(data.resolve())]
    return ("#!/bin/sh\n# The workprint browser extension's native-messaging host "
            "(written by `workprint browser install`).\n"
            f"PYTHONPATH={shlex.quote(package_parent)}${{PYTHONPATH:+:$PYTHONPATH}} "
            f"exec {shlex.quote(sys.executable)} {' '.join(shlex.quote(a) for a in args)} \"$@\"\n")


def run_install(args: argparse.Namespace) -> int:
    from ..paths import default_data_dir

    explicit = args.data_dir is not None or bool(os.environ.get("WORKPRINT_DATA_DIR"))
    root = data_dir(args)
    _folder, shipped_id = shipped_extension()
    ids = args.extension_id or [shipped_id]
    for ext_id in ids:
        if len(ext_id) != 32 or any(c not in "abcdefghijklmnop" for c in ext_id):
            raise ConfigError(f"{ext_id!r} is not an extension id (32 letters a-p, as chrome://extensions shows)")
    import platformdirs

    host_dir = args.host_dir or Path(platformdirs.user_config_dir("workprint", appauthor=False))
    host_dir.mkdir(parents=True, exist_ok=True)
    launcher = host_dir / LAUNCHER
    launcher.write_text(launcher_text(root if explicit else None))
    launcher.chmod(0o755)
    manifest = {"name": HOST_NAME, "description": "workprint recorder (browser extension host)",
                "path": str(launcher.resolve()), "type": "stdio",
                "allowed_origins": [f"chrome-extension://{i}/" for i in ids]}
    if args.manifest_dir:
        dirs = list(args.manifest_dir)
    else:
        names = USER_MANIFEST_DIRS if args.browser == "all" else {args.browser: USER_MANIFEST_DIRS[args.browser]}
        dirs = [_config_home() / sub for sub in names.values()]
    written = []
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"{HOST_NAME}.json"
        path.write_text(json.dumps(manifest, indent=2) + "\n")
        written.append(str(path))
    result = {"host": str(launcher), "manifests": written, "extension_ids": ids,
              "data_dir": str(root if explicit else default_data_dir())}
    if args.json:
        print_json({"ok": True, **result})
        return 0
    print(f"native-messaging host {HOST_NAME}: {launcher}")
    for path in written:
        print(f"  manifest: {path}")
    print(f"reports go to the recorder on {result['data_dir']}")
    print(f"extension: load {extension_dir()} (chromium --load-extension=...), id {ids[0]}")
    return 0


def run_extension_path(args: argparse.Namespace) -> int:
    folder, ext_id = shipped_extension()
    if args.json:
        print_json({"ok": True, "path": str(folder), "id": ext_id})
    else:
        print(folder)
    return 0
