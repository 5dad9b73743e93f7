"""Exceptions with messages a person can act on - the one hierarchy of the CLI.

``str(err)`` says what went wrong and what to do; ``exit_code`` is what the CLI exits with and
``meaning`` how ``workprint --help`` describes that code (the help's exit-code list is generated
from the classes here, see :func:`exit_code_help`). Every error a command can end with lives in
this module; other modules import their classes from here.
"""

from __future__ import annotations


class WorkprintError(Exception):
    """Base class."""

    exit_code = 1
    meaning = "error"

    def to_dict(self) -> dict:
        """The stable error object printed under ``--json``."""
        return {"code": self.exit_code, "type": type(self).__name__, "message": str(self)}


class UsageError(WorkprintError):
    """The command line itself is wrong (a missing confirmation, a bad combination)."""

    exit_code = 2
    meaning = "not found / bad usage"


class NotFound(WorkprintError):
    exit_code = 2
    meaning = "not found / bad usage"


class NoDisplayError(WorkprintError):
    exit_code = 3
    meaning = "no display"


class StoreError(WorkprintError):
    exit_code = 4
    meaning = "store error"


class StoreVersionError(StoreError):
    pass


class SessionNotFound(StoreError):
    exit_code = 2
    meaning = "not found / bad usage"


class CorruptSessionError(StoreError):
    """One session's store cannot be read. Commands over many sessions report it and go on
    with the others; ``session`` is its id."""

    def __init__(self, session: str, path: object, detail: str):
        self.session = session
        super().__init__(
            f"session {session} is corrupt and cannot be read ({detail}; {path}). The other "
            f"sessions are not affected. Delete it with `workprint forget --session {session}`, "
            f"or restore {path} from a backup.")


class DiskFullError(StoreError):
    exit_code = 5
    meaning = "disk full"


class PolicyError(WorkprintError):
    exit_code = 6
    meaning = "policy error"


class NoticeNotAccepted(WorkprintError):
    """The contributor has not acknowledged the recording notice for the current policy."""

    exit_code = 7
    meaning = "notice not acknowledged"


class RecorderNotRunning(WorkprintError):
    exit_code = 8
    meaning = "no recorder running"


class CaptureError(WorkprintError):
    """Capture itself stopped mid-session (an input or focus stream of the platform was
    lost): the session is kept up to that moment and marked as ended by an error."""

    exit_code = 9
    meaning = "capture stopped mid-session (the session is kept up to that moment)"


class ExportError(WorkprintError):
    exit_code = 2
    meaning = "not found / bad usage"


class BuildError(WorkprintError):
    """A dataset build cannot run as asked (store, filters, output folder, engine)."""

    exit_code = 2
    meaning = "not found / bad usage"


class EmptyDatasetError(BuildError):
    """Nothing is left to build: no complete session, or the filters left out everything."""


class NotEnrolled(WorkprintError):
    exit_code = 2
    meaning = "not found / bad usage"


class ConfigError(WorkprintError):
    """A collector setting (store URL, database, TLS files) cannot be used."""

    exit_code = 2
    meaning = "not found / bad usage"


class SyncError(WorkprintError):
    """The collector refused a request or could not be reached."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        """A 4xx other than 408/429: retrying the same bytes cannot succeed."""
        return self.status is not None and 400 <= self.status < 500 and self.status not in (408, 429)


class MissingExtra(WorkprintError):
    """A feature needs an optional package that this install does not have."""

    exit_code = 10
    meaning = "a feature needs an optional extra (pip install 'workprint[EXTRA]')"


INTERRUPTED_EXIT = 130
#: The output's reader went away (`| head`): 128 + SIGPIPE, as a shell reports it.
BROKEN_PIPE_EXIT = 141


def _all_classes(root: type = WorkprintError) -> list[type]:
    out = [root]
    for sub in root.__subclasses__():
        out += _all_classes(sub)
    return out


def exit_code_help() -> str:
    """``exit codes: 0 ok, 1 error, 2 not found / bad usage, ...`` from the classes above."""
    meanings: dict[int, str] = {0: "ok"}
    for cls in sorted(_all_classes(), key=lambda c: c.exit_code):
        meanings.setdefault(cls.exit_code, cls.meaning)
    meanings[INTERRUPTED_EXIT] = "interrupted"
    meanings[BROKEN_PIPE_EXIT] = "output pipe closed by its reader"
    return "exit codes: " + ", ".join(f"{code} {text}" for code, text in sorted(meanings.items())) + "."
