"""Exceptions with messages a person can act on."""


class WorkprintError(Exception):
    """Base class. ``str(err)`` says what went wrong and what to do; ``exit_code`` is
    what the CLI exits with."""

    exit_code = 1


class NoDisplayError(WorkprintError):
    exit_code = 3


class CaptureError(WorkprintError):
    """Capture itself stopped mid-session (an input or focus stream of the platform was
    lost): the session is kept up to that moment and marked as ended by an error."""

    exit_code = 9


class StoreError(WorkprintError):
    exit_code = 4


class StoreVersionError(StoreError):
    pass


class SessionNotFound(StoreError):
    exit_code = 2


class DiskFullError(StoreError):
    exit_code = 5


class PolicyError(WorkprintError):
    exit_code = 6


class NoticeNotAccepted(WorkprintError):
    """The contributor has not acknowledged the recording notice for the current policy."""

    exit_code = 7
