"""AT-SPI watcher: is the focused field a password field, and which URL does a browser show?

The recorder must never keep keys typed into fields the platform marks as secret. On
Linux the platform is the accessibility bus (AT-SPI over D-Bus). ``AtspiWatcher`` keeps
one connection to that bus in its own daemon thread, blocked in ``select()`` on the
socket (no polling), and remembers per process the last accessible that received focus
and whether it is a password field. The recorder asks, per key press, with a lock and a
dict lookup - no D-Bus round trip on that path::

    w = AtspiWatcher()                  # session bus from $DBUS_SESSION_BUS_ADDRESS
    w.start()                           # False (and w.status "unavailable: ...") on any failure
    w.secret_focus(window_pid)          # True / False / None (AT-SPI knows nothing)
    w.document_url(window_pid, title)   # URL of the document behind that window title, or None
    w.stop()

How it works
------------
1. ``org.a11y.Bus.GetAddress`` on the session bus (D-Bus activation starts
   at-spi-bus-launcher) gives the accessibility bus; with ``enable=True`` the watcher
   also sets ``org.a11y.Status.IsEnabled`` as screen readers do (see the caveat below).
2. On the accessibility bus: ``AddMatch`` for ``Event.Object.StateChanged`` with
   ``arg0='focused'`` (the bus filters everything else, so a busy browser costs nothing)
   and for ``NameOwnerChanged`` (an app leaving drops its records); ``RegisterEvent
   ("object:state-changed:focused")`` at the registry so that toolkits which only emit
   events somebody listens to (Qt, newer ATK bridges) emit them.
3. On ``focused`` with detail1 == 1 the watcher stores a *pending* record at once (pending
   counts as secret: fail closed) and resolves, pipelined, the sender's pid
   (``GetConnectionUnixProcessID``, cached per bus name), ``Accessible.GetRole`` and
   ``Accessible.GetAttributes`` of the object. Secret = role PASSWORD_TEXT, or the object
   attribute ``text-input-type`` is ``password``. Focus *loss* events are ignored: the
   last focused object stays the answer until another one gets focus (fail closed).
4. The last ``FOCUS_HISTORY`` records of each program are kept with the time they came
   in, so that keys typed before a Tab or a click are judged by the field they went into
   (``secret_focus(pid, before_ns=, since_ns=)``) - the Tab's own focus event is often in,
   and still pending, by the time the gate judges the keys before it.

What "belongs to pid" means
---------------------------
A focus record of the accessible's process A answers for a window process W when A == W,
or when one of them is an ancestor of the other and every process on the way runs the
same executable (a multi-process program: browser main process, zygote, renderers).
Nothing else: a terminal's pid does not inherit the answer of an app started in it.
``secret_focus(None)`` (window pid unknown) is True when the most recent focus anywhere is
a (possibly pending) secret field, else None.

Facts measured on this machine (Debian 12, at-spi2-core 2.46.0, Chromium 156.0.8078.108,
Xvfb + openbox, private session bus) - see tests/test_atspi.py
----------------------------------------------------------------------------------
* Role numbers (checked with the installed libatspi's ``atspi_role_get_name``): 23 frame,
  40 "password text", 79 entry, 82 "document frame", 95 "document web".
* AT-SPI has no state that marks a password field: Chromium's ``<input type=password>`` has
  exactly the state bits of a text input (editable, focusable, single-line, showing, ...).
  Chromium adds the object attribute ``text-input-type`` (``password`` / ``text``), used
  here as a second signal.
* Focus events: Chromium sends ``StateChanged('focused', 0)`` for the old object and
  ``('focused', 1)`` for the new one together; signature ``siiva{sv}``. The ``a{sv}`` stays
  empty even when properties are requested in ``RegisterEvent`` (registry 2.46 has
  ``RegisterEvent(s event, as properties, s app_bus_name)``), so the role takes one round
  trip (~1 ms).
* The sender of Chromium's events is the **browser process**: the pid that ``/usr/bin/
  chromium`` execs into, the X window's pid. Renderer processes never appear on the bus.
* xdotool click or Tab to focus event received: 5-22 ms, median ~7.5 ms (the xdotool
  process start included); role resolved 0.4-5 ms after that. ``secret_focus`` costs
  ~0.4 us per call. Watcher thread CPU: 0 s in 2 s idle (it blocks in select), ~0.5 ms
  per focus event while tabbing between fields.
* Chromium's document ("document web") exposes ``Document.GetAttributes`` =
  ``{'URI': ..., 'Title': ..., 'MimeType': ..., 'DocType': ...}``; ``GetAttributeValue
  ('DocURL')`` returns ''. Firefox is documented to use ``DocURL`` (not installed here, not
  verified); both keys are read. The frame's name is the window title
  ("<page title> - Chromium"), the document's name is the page title. Only the active tab's
  document is in the tree.
* ``Collection.GetMatches`` on a Chromium frame returned nothing and took ~0.9 s on a
  10,000-node page, so documents are found by a breadth-first walk with pipelined calls
  that does not descend into toolbars, buttons, entries, ... (~200 calls, 20-30 ms), and
  the document's parent is cached per window: the next lookup is ~23 calls, ~3 ms. The
  lookup asks the app live each time, so no document load events are needed.
* Chromium 156 emitted focus events and exposed its pages only when started with
  ``--force-renderer-accessibility`` (that flag alone suffices). ``org.a11y.Status.IsEnabled
  = true`` - set before or after its start - and ``ACCESSIBILITY_ENABLED=1`` in its
  environment did **not** (it registers an app with an empty frame). So browsers must be
  launched with that flag (e.g. in the desktop file or ``/etc/chromium.d/``) for this
  watcher to see them; otherwise ``secret_focus`` returns None for them. IsEnabled still
  matters for GTK/Qt apps, which gate their bridges on it. Setting it is session-wide and
  at-spi-bus-launcher persists it to the GSettings key ``org.gnome.desktop.interface
  toolkit-accessibility``; ``stop()`` sets it back to false if this watcher switched it on
  and no screen reader is flagged (``ScreenReaderEnabled``). The watcher never sets
  ``ScreenReaderEnabled`` (on GNOME that starts Orca).
* at-spi-bus-launcher, its bus daemon and at-spi2-registryd are detached (parent pid 1);
  the bus socket is ``$XDG_RUNTIME_DIR/at-spi/bus_<display>``. They exit when the session
  bus goes away.

Caveats: sandboxed apps (Flatpak) talk through a proxy, so the pid seen is the proxy's and
``secret_focus`` returns None for them; apps without an accessibility bridge (xterm, most
terminals) are unknown (None), so terminal password prompts need the recorder's own check.
"""

from __future__ import annotations

import itertools
import os
import select
import threading
import time
from collections import deque
from dataclasses import dataclass, replace

from jeepney import DBusAddress, HeaderFields, Message, MessageType, Parser, new_method_call
from jeepney.bus import get_connectable_addresses
from jeepney.io.blocking import prep_socket

__all__ = ["AtspiWatcher", "FocusRecord", "ROLE_DOCUMENT_WEB", "ROLE_ENTRY", "ROLE_PASSWORD_TEXT",
           "same_program_family"]

# AT-SPI roles (AtspiRole) and states (AtspiStateType) used here
ROLE_FRAME = 23
ROLE_PASSWORD_TEXT = 40
ROLE_ENTRY = 79
ROLE_DOCUMENT_FRAME = 82
ROLE_DOCUMENT_WEB = 95
STATE_DEFUNCT = 6
STATE_SHOWING = 25

_DOC_ROLES = frozenset({ROLE_DOCUMENT_WEB, ROLE_DOCUMENT_FRAME})
# Subtrees that never hold a browser's page document: check box, label, menu, menu bar,
# menu item, password text, push button, scroll bar, separator, status bar, text,
# toggle button, tool bar, tool tip, entry, notification, push button menu.
_PRUNE_ROLES = frozenset({7, 29, 33, 34, 35, 40, 43, 48, 50, 54, 61, 62, 63, 64, 79, 101, 129})
_URL_KEYS = ("DocURL", "URI", "URL")
_TITLE_SEPARATORS = (" - ", " \u2014 ", " \u2013 ", " | ", " \u00b7 ")

_DBUS_NAME = "org.freedesktop.DBus"
_DBUS_PATH = "/org/freedesktop/DBus"
_A11Y_BUS_NAME = "org.a11y.Bus"
_A11Y_BUS_PATH = "/org/a11y/bus"
_REGISTRY = "org.a11y.atspi.Registry"
_REGISTRY_PATH = "/org/a11y/atspi/registry"
_ROOT_PATH = "/org/a11y/atspi/accessible/root"
_ACCESSIBLE = "org.a11y.atspi.Accessible"
_DOCUMENT = "org.a11y.atspi.Document"
_PROPERTIES = "org.freedesktop.DBus.Properties"
_EVENT_OBJECT = "org.a11y.atspi.Event.Object"

_MATCH_RULES = (
    f"type='signal',interface='{_EVENT_OBJECT}',member='StateChanged',arg0='focused'",
    f"type='signal',sender='{_DBUS_NAME}',interface='{_DBUS_NAME}',member='NameOwnerChanged'",
)
_EVENTS = ("object:state-changed:focused",)

_RESOLVE_TIMEOUT_S = 0.5   # role/pid of a focused object (event thread)
_RESOLVE_SLACK_S = 0.05    # ``secret_focus`` waits this much past it for a pending role
FOCUS_HISTORY = 16         # focus records kept per program for ``secret_focus(before_ns=)``
#: A focus event arrives here 5-22 ms after the click or key that moved the focus (measured,
#: see above); a record received up to this long after the keys being judged began may still
#: be the focus of the field they went to.
FOCUS_DELIVERY_NS = 250_000_000
_MAX_WALK_NODES = 1500
_MAX_WALK_DEPTH = 25


@dataclass(frozen=True)
class FocusRecord:
    """The last accessible object that received focus in one process."""

    t_ns: int                 # time.monotonic_ns() when the focus event was received
    sender: str               # unique name of the app on the accessibility bus
    path: str                 # object path of the focused accessible
    pid: int | None           # the app's process id (GetConnectionUnixProcessID)
    role: int | None = None   # AtspiRole; None while pending or when the app did not answer
    secret: bool | None = None  # None = pending/unknown (treated as secret)
    resolved_ns: int | None = None  # when role/attributes arrived

    @property
    def counts_as_secret(self) -> bool:
        return self.secret is not False


class _Woken(Exception):
    """The watcher's wake-up pipe became readable: stop."""


def _call(bus: str, path: str, interface: str, member: str, signature: str | None = None,
          body: tuple = ()) -> Message:
    return new_method_call(DBusAddress(path, bus, interface), member, signature, body)


def _get_prop(bus: str, path: str, interface: str, name: str) -> Message:
    return _call(bus, path, _PROPERTIES, "Get", "ss", (interface, name))


def _ok(msg: Message | None):
    """The body of a method return; None for errors, timeouts and anything else."""
    if msg is None or msg.header.message_type is not MessageType.method_return:
        return None
    return msg.body


def _error_name(msg: Message | None) -> str:
    if msg is None:
        return "no reply"
    return str(msg.header.fields.get(HeaderFields.error_name, msg.header.message_type))


class _Link:
    """One D-Bus connection, read with ``select()`` against deadlines.

    Calls are pipelined: ``send`` returns the serial, ``wait`` collects replies. Signals
    that arrive while waiting are kept (in order) when ``keep_signals`` is set, else dropped.
    With ``wake_fd``, any wait raises ``_Woken`` as soon as that fd becomes readable.
    """

    def __init__(self, address: str, deadline: float, *, wake_fd: int | None = None,
                 keep_signals: bool = False):
        path = next(get_connectable_addresses(address))
        self.sock = prep_socket(path, timeout=max(0.05, deadline - time.monotonic()))
        self.sock.settimeout(1.0)  # only bounds sendall(); reads go through select()
        self.wake_fd = wake_fd
        self.keep_signals = keep_signals
        self.parser = Parser()
        self.serials = itertools.count(1)
        self.expect: set[int] = set()
        self.replies: dict[int, Message] = {}
        self.backlog: deque[tuple[int, Message]] = deque()
        try:
            hello = _ok(self.call(_call(_DBUS_NAME, _DBUS_PATH, _DBUS_NAME, "Hello"), deadline))
            if not hello:
                raise ConnectionError("the bus did not answer Hello")
            self.unique_name = hello[0]
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, msg: Message) -> int:
        serial = next(self.serials)
        self.expect.add(serial)
        self.sock.sendall(msg.serialise(serial=serial))
        return serial

    def _fill(self, deadline: float | None) -> bool:
        fds = [self.sock] if self.wake_fd is None else [self.sock, self.wake_fd]
        while True:
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                return False
            try:
                ready, _, _ = select.select(fds, [], [], timeout)
            except InterruptedError:
                continue
            if not ready:
                return False
            if self.wake_fd is not None and self.wake_fd in ready:
                raise _Woken()
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionResetError("the bus closed the connection")
            self.parser.add_data(data)
            return True

    def _read(self, deadline: float | None) -> Message | None:
        while True:
            msg = self.parser.get_next_message()
            if msg is not None:
                return msg
            if not self._fill(deadline):
                return None

    def _route(self, msg: Message) -> None:
        kind = msg.header.message_type
        if kind is MessageType.signal:
            if self.keep_signals:
                self.backlog.append((time.monotonic_ns(), msg))
            return
        serial = msg.header.fields.get(HeaderFields.reply_serial)
        if serial in self.expect:
            self.expect.discard(serial)
            self.replies[serial] = msg
        # else: a late reply to a call that timed out - dropped

    def wait(self, serials, deadline: float) -> dict[int, Message]:
        wanted = set(serials)
        got: dict[int, Message] = {}
        while True:
            for serial in list(wanted):
                if serial in self.replies:
                    got[serial] = self.replies.pop(serial)
                    wanted.discard(serial)
            if not wanted:
                return got
            msg = self._read(deadline)
            if msg is None:  # timed out: forget the calls still open
                self.expect.difference_update(wanted)
                return got
            self._route(msg)

    def call(self, msg: Message, deadline: float) -> Message | None:
        serial = self.send(msg)
        return self.wait([serial], deadline).get(serial)

    def call_many(self, msgs: list[Message], deadline: float) -> list[Message | None]:
        serials = [self.send(m) for m in msgs]
        got = self.wait(serials, deadline)
        return [got.get(s) for s in serials]

    def next_signal(self) -> tuple[int, Message]:
        """Block until a signal arrives (or the wake fd fires); (receipt monotonic_ns, msg)."""
        if self.backlog:
            return self.backlog.popleft()
        while True:
            msg = self._read(None)
            if msg is None:
                continue
            if msg.header.message_type is MessageType.signal:
                return time.monotonic_ns(), msg
            self._route(msg)


# --- processes --------------------------------------------------------------------------

def parent_pid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat.rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def executable(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def _descends_within_program(child: int, ancestor: int, exe: str, max_depth: int = 8) -> bool:
    pid = child
    for _ in range(max_depth):
        pid = parent_pid(pid)
        if pid is None or pid <= 1:
            return False
        if pid == ancestor:
            return True
        if executable(pid) != exe:
            return False
    return False


def same_program_family(a: int, b: int) -> bool:
    """True when ``a`` and ``b`` are the same process, or one descends from the other
    through processes that all run the same executable (one multi-process program)."""
    if a == b:
        return True
    exe = executable(a)
    if exe is None or exe != executable(b):
        return False
    return _descends_within_program(a, b, exe) or _descends_within_program(b, a, exe)


def _title_has(title: str, name: str) -> bool:
    """``name`` occurs in ``title`` as whole title components: bounded by the ends of the
    title or by separators such as " - ". "Login" is not in "Login Help - Chromium"."""
    if not name:
        return False
    start = title.find(name)
    while start >= 0:
        before, after = title[:start], title[start + len(name):]
        if ((not before or before.endswith(_TITLE_SEPARATORS))
                and (not after or after.startswith(_TITLE_SEPARATORS))):
            return True
        start = title.find(name, start + 1)
    return False


def _role_of(msg: Message | None) -> int | None:
    body = _ok(msg)
    if not body or not isinstance(body[0], int):
        return None
    return body[0]


def _states(msg: Message | None) -> int | None:
    body = _ok(msg)
    if not body:
        return None
    value = 0
    for i, word in enumerate(body[0]):
        value |= (word & 0xFFFFFFFF) << (32 * i)
    return value


def _variant_value(msg: Message | None):
    body = _ok(msg)
    if not body:
        return None
    return body[0][1]


class AtspiWatcher:
    """Watches the accessibility bus in a daemon thread. All public methods are thread-safe
    and never raise; ``secret_focus`` is the per-key-press path (lock + dict lookups)."""

    def __init__(self, session_address: str | None = None, *, enable: bool = True,
                 start_timeout: float = 2.0, query_timeout: float = 0.2):
        self._session_address = session_address
        self._enable = enable
        self._start_timeout = start_timeout
        self._query_timeout = query_timeout
        self._lock = threading.Lock()         # focus state and caches
        self._stored = threading.Condition(self._lock)  # a focus record came or was resolved
        self._stores = 0
        self._query_lock = threading.Lock()   # the query connection (document_url)
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._native_id: int | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._session: _Link | None = None
        self._events_link: _Link | None = None
        self._query: _Link | None = None
        self._available = False
        self._status = "not started"
        self._enabled_by_us = False
        self._by_pid: dict[int, FocusRecord] = {}
        #: the last few records of each program, oldest first (see ``secret_focus(before_ns=)``)
        self._history: dict[int, deque[FocusRecord]] = {}
        self._last: FocusRecord | None = None
        self._pid_of: dict[str, int] = {}        # unique bus name -> pid
        self._alias: dict[int, int] = {}         # window pid -> a11y pid (0: none)
        self._generation = 0                     # bumps when the set of a11y pids changes
        self._containers: dict[tuple[str, str], tuple[str, str]] = {}  # (app, frame) -> doc parent
        self._events_seen = 0
        self._focus_events = 0
        self._a11y_address: str | None = None

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> bool:
        """Connect (in the watcher thread). Returns within ``start_timeout`` seconds: True
        when the watcher runs, False when it is unavailable (see ``status``)."""
        if self._thread is not None:
            return self.available()
        address = self._session_address or os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if not address:
            self._fail("no session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
            return False
        try:
            self._wake_r, self._wake_w = os.pipe()
            self._status = "starting"
            self._thread = threading.Thread(target=self._run, args=(address,),
                                            name="atspi-watcher", daemon=True)
            self._thread.start()
        except Exception as exc:  # noqa: BLE001 - never raise into the recorder
            self._fail(f"cannot start the watcher thread: {exc}")
            return False
        if not self._ready.wait(self._start_timeout + 0.1):
            self._stopping.set()
            self._wake()
            self._fail(f"no answer from the session or accessibility bus within {self._start_timeout} s")
            return False
        if not self.available():  # setup failed: the thread is ending, release its wake pipe
            self._thread.join(0.2)
            self._close_wake_pipe()
            return False
        return True

    def stop(self, timeout: float = 0.8) -> None:
        """Close the connections and join the thread; returns within ~``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        with self._lock:
            self._available = False
            if not self._status.startswith("unavailable"):
                self._status = "stopped"
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._query_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            try:
                if self._query is not None:
                    self._query.close()
                    self._query = None
            finally:
                self._query_lock.release()
        session, self._session = self._session, None
        if session is not None:
            try:
                if self._enabled_by_us:
                    self._restore_enabled(session, min(deadline, time.monotonic() + 0.3))
            except Exception:  # noqa: BLE001
                pass
            session.close()
        if thread is None or not thread.is_alive():
            self._close_wake_pipe()

    def _close_wake_pipe(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return  # still selecting on it; a daemon thread, it ends with its deadlines
        fds, (self._wake_r, self._wake_w) = (self._wake_r, self._wake_w), (None, None)
        for fd in fds:
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def __enter__(self) -> "AtspiWatcher":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- queries ---------------------------------------------------------------------

    def available(self) -> bool:
        return self._available

    @property
    def a11y_address(self) -> str | None:
        """The accessibility bus's address (once started), for other readers of it
        (:mod:`.atspi_elements` keeps its own connection)."""
        return self._a11y_address

    @property
    def status(self) -> str:
        """One of: running, starting, stopped, not started, "unavailable: <reason>"."""
        return self._status

    @property
    def events_seen(self) -> int:
        """Signals handled by the watcher thread (focus events, name changes)."""
        return self._events_seen

    @property
    def focus_events(self) -> int:
        return self._focus_events

    def last_focus(self, pid: int | None = None) -> FocusRecord | None:
        """The last focus record (of ``pid``'s program, or anywhere)."""
        with self._lock:
            if pid is None:
                return self._last
        return self._record_for(pid)

    def focus_at(self, pid: int, t_ns: int) -> FocusRecord | None:
        """The focus record of ``pid``'s program that held at ``t_ns``
        (``time.monotonic_ns()``, e.g. a key's time): the last one received before it. None
        when no kept record is that old (the ``FOCUS_HISTORY`` kept all came in later, or
        the program never reported a focus): unknown, never a later focus."""
        prior = [r for r in self._history_for(pid) if r.t_ns < t_ns]
        return prior[-1] if prior else None

    def focus_after(self, pid: int, t_ns: int, until: float) -> FocusRecord | None:
        """The first focus record of ``pid``'s program received after ``t_ns`` (e.g. a
        press's time: the focus it moved, which arrives some ms later), waiting for it until
        ``until`` (``time.monotonic()``); None when none came by then. Not for the input
        hook's thread."""
        while True:
            with self._lock:
                stores = self._stores
            later = [r for r in self._history_for(pid) if r.t_ns > t_ns]
            if later:
                return later[0]
            left = until - time.monotonic()
            if left <= 0:
                return None
            with self._stored:
                if self._stores == stores:
                    self._stored.wait(left)

    def thread_cpu_seconds(self) -> float | None:
        """CPU time (user + system) used by the watcher thread so far."""
        tid = self._native_id
        if tid is None:
            return None
        try:
            with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def secret_focus(self, pid: int | None, before_ns: int | None = None,
                     since_ns: int | None = None) -> bool | None:
        """Is the last focused accessible of ``pid``'s program a password field?

        True: a password field (or a focus whose role is still being resolved, or could
        not be resolved: fail closed). False: an ordinary accessible. None: AT-SPI knows
        nothing about that program (not accessible, watcher unavailable). With ``pid``
        None: True if the most recent focus anywhere counts as secret, else None.

        With ``before_ns`` (``time.monotonic_ns()``): the field that had focus just before
        that moment - the keys typed until a Tab or a click are judged by the field they went
        into, not by the one the Tab or click moved to, whose focus event is often in (and
        still being resolved: secret) by the time the gate judges them. That is the record
        received last before ``before_ns``, and - since a focus event arrives some ms after
        the input that caused it - with ``since_ns`` (when the keys being judged began) also
        every record received up to ``FOCUS_DELIVERY_NS`` after ``since_ns``: any of them
        counting as secret makes the answer True. With no record before ``before_ns``, the
        answer is as now. A record among them whose role is still being asked makes the
        call wait for it (typically 0.4-5 ms, at most until the resolver's own deadline,
        then it counts as secret), so that keys typed right after a click into an ordinary
        field are not taken for a secret: not for the input hook's thread.
        """
        if not self._available:
            return None
        if pid is None:
            with self._lock:
                last = self._last
            return True if last is not None and last.counts_as_secret else None
        if before_ns is not None:
            window_end = before_ns if since_ns is None else max(before_ns, since_ns + FOCUS_DELIVERY_NS)
            while True:
                with self._lock:
                    stores = self._stores
                history = self._history_for(pid)
                prior = [r for r in history if r.t_ns < before_ns]
                if not prior:
                    break
                records = (prior[-1], *(r for r in history if before_ns <= r.t_ns < window_end))
                pending = [r for r in records if r.resolved_ns is None]
                if not pending or any(r.secret is True for r in records):
                    return any(r.counts_as_secret for r in records)
                # A focus still being resolved (its role comes 0.4-5 ms after it): wait for
                # its answer rather than take keys typed into an ordinary field for a
                # secret. Bounded by the resolver's own deadline; still pending then: secret.
                left = max(r.t_ns for r in pending) / 1e9 + _RESOLVE_TIMEOUT_S + _RESOLVE_SLACK_S - time.monotonic()
                if left <= 0:
                    return True
                with self._stored:
                    if self._stores == stores:
                        self._stored.wait(left)
        record = self._record_for(pid)
        if record is None:
            return None
        return record.counts_as_secret

    def document_url(self, pid: int | None, title: str, timeout: float | None = None) -> str | None:
        """URL of the document shown in ``pid``'s window titled ``title``, or None.

        Asks the app live (a few pipelined round trips, bounded by ``timeout``, default
        0.2 s): the app's frame whose name equals ``title``, the showing "document web" in
        it, and that document's name must occur in ``title`` as a whole component
        (Chromium: "<page title> - Chromium"). None on any doubt: no such frame, several
        documents with different URLs, an empty URL, a timeout, an error.
        """
        if pid is None or not title or not self._available:
            return None
        budget = self._query_timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        if not self._query_lock.acquire(timeout=max(0.0, budget)):
            return None
        try:
            link = self._query
            if link is None or not self._available:
                return None
            return self._find_url(link, pid, title, deadline)
        except Exception:  # noqa: BLE001 - fail closed, never raise into the recorder
            return None
        finally:
            self._query_lock.release()

    # --- internals: state --------------------------------------------------------------

    def _fail(self, reason: str) -> None:
        with self._lock:
            self._available = False
            self._status = f"unavailable: {reason}"

    def _wake(self) -> None:
        if self._wake_w is not None:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    def _record_for(self, pid: int) -> FocusRecord | None:
        a11y_pid = self._a11y_pid(pid)
        with self._lock:
            return self._by_pid.get(a11y_pid) if a11y_pid else None

    def _history_for(self, pid: int) -> list[FocusRecord]:
        a11y_pid = self._a11y_pid(pid)
        with self._lock:
            return list(self._history.get(a11y_pid, ())) if a11y_pid else []

    def _a11y_pid(self, pid: int) -> int:
        """The pid whose focus records answer for window pid ``pid`` (0: none)."""
        with self._lock:
            if pid in self._by_pid or not self._by_pid:
                return pid if pid in self._by_pid else 0
            alias = self._alias.get(pid)
            if alias is not None:
                return alias
            candidates = list(self._by_pid)
            generation = self._generation
        found = next((a for a in candidates if same_program_family(pid, a)), 0)
        with self._lock:
            if generation == self._generation:
                if len(self._alias) > 256:
                    self._alias.clear()
                self._alias[pid] = found
        return found

    def _store(self, record: FocusRecord) -> None:
        with self._lock:
            self._last = record
            if record.pid is not None:
                self._by_pid[record.pid] = record
                self._history.setdefault(record.pid, deque(maxlen=FOCUS_HISTORY)).append(record)
            # window pid -> app pid answers are recomputed after each focus change, so a
            # reused pid cannot keep a stale answer for long
            self._alias.clear()
            self._generation += 1
            self._stores += 1
            self._stored.notify_all()

    def _resolve(self, pending: FocusRecord, resolved: FocusRecord) -> None:
        with self._lock:
            if self._last is pending:
                self._last = resolved
            if pending.pid is not None and self._by_pid.get(pending.pid) is pending:
                self._by_pid[pending.pid] = resolved
            history = self._history.get(pending.pid)
            if history:
                for i, rec in enumerate(history):
                    if rec is pending:
                        history[i] = resolved
            self._stores += 1
            self._stored.notify_all()

    def _forget(self, name: str) -> None:
        with self._lock:
            self._pid_of.pop(name, None)
            gone = [pid for pid, rec in self._by_pid.items() if rec.sender == name]
            for pid in gone:
                del self._by_pid[pid]
                self._history.pop(pid, None)
            if self._last is not None and self._last.sender == name:
                self._last = None
            if gone:
                self._alias.clear()
                self._generation += 1

    # --- internals: the watcher thread -------------------------------------------------

    def _run(self, address: str) -> None:
        self._native_id = threading.get_native_id()
        deadline = time.monotonic() + self._start_timeout
        session = events = query = None
        try:
            session = _Link(address, deadline, wake_fd=self._wake_r)
            reply = session.call(_call(_A11Y_BUS_NAME, _A11Y_BUS_PATH, _A11Y_BUS_NAME, "GetAddress"), deadline)
            body = _ok(reply)
            if not body or not body[0]:
                raise ConnectionError(f"org.a11y.Bus.GetAddress failed: {_error_name(reply)}")
            a11y_address = body[0]
            self._a11y_address = a11y_address
            if self._enable:
                self._set_enabled(session, deadline)
            events = _Link(a11y_address, deadline, wake_fd=self._wake_r, keep_signals=True)
            replies = events.call_many(
                [_call(_DBUS_NAME, _DBUS_PATH, _DBUS_NAME, "AddMatch", "s", (rule,)) for rule in _MATCH_RULES],
                deadline)
            if not all(_ok(r) is not None for r in replies):
                raise ConnectionError(f"AddMatch failed: {[_error_name(r) for r in replies]}")
            registered = self._register_events(events, deadline)
            query = _Link(a11y_address, deadline, wake_fd=self._wake_r)
            query.wake_fd = None  # callers' lookups are bounded by their own deadlines
        except _Woken:
            for link in (session, events, query):
                if link is not None:
                    link.close()
            self._ready.set()
            return
        except Exception as exc:  # noqa: BLE001
            for link in (session, events, query):
                if link is not None:
                    link.close()
            self._fail(f"{type(exc).__name__}: {exc}")
            self._ready.set()
            return
        session.wake_fd = None
        with self._lock:
            if self._stopping.is_set():
                started = False
            else:
                started = True
                self._session, self._events_link, self._query = session, events, query
                self._available = True
                self._status = "running" if registered else "running (RegisterEvent failed)"
        if not started:
            for link in (session, events, query):
                link.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                t_ns, msg = events.next_signal()
                self._handle(events, t_ns, msg)
        except _Woken:
            pass
        except Exception as exc:  # noqa: BLE001 - the bus went away
            self._fail(f"accessibility bus lost: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._available = False
                self._events_link = None
            events.close()

    def _set_enabled(self, session: _Link, deadline: float) -> None:
        current = _variant_value(session.call(_get_prop(_A11Y_BUS_NAME, _A11Y_BUS_PATH, "org.a11y.Status", "IsEnabled"), deadline))
        if current is True:
            return
        reply = session.call(_call(_A11Y_BUS_NAME, _A11Y_BUS_PATH, _PROPERTIES, "Set", "ssv",
                                   ("org.a11y.Status", "IsEnabled", ("b", True))), deadline)
        if _ok(reply) is not None:
            self._enabled_by_us = True

    def _restore_enabled(self, session: _Link, deadline: float) -> None:
        reader = _variant_value(session.call(
            _get_prop(_A11Y_BUS_NAME, _A11Y_BUS_PATH, "org.a11y.Status", "ScreenReaderEnabled"), deadline))
        if reader is True:
            return  # a screen reader came up meanwhile: leave accessibility on
        session.call(_call(_A11Y_BUS_NAME, _A11Y_BUS_PATH, _PROPERTIES, "Set", "ssv",
                           ("org.a11y.Status", "IsEnabled", ("b", False))), deadline)
        self._enabled_by_us = False

    def _register_events(self, events: _Link, deadline: float) -> bool:
        ok = True
        for event in _EVENTS:
            reply = events.call(_call(_REGISTRY, _REGISTRY_PATH, _REGISTRY, "RegisterEvent", "sass",
                                      (event, [], "")), deadline)
            if _ok(reply) is None:  # registries before 2.46 take the event name only
                reply = events.call(_call(_REGISTRY, _REGISTRY_PATH, _REGISTRY, "RegisterEvent", "s",
                                          (event,)), deadline)
                ok = ok and _ok(reply) is not None
        return ok

    def _handle(self, events: _Link, t_ns: int, msg: Message) -> None:
        self._events_seen += 1
        fields = msg.header.fields
        interface = fields.get(HeaderFields.interface)
        member = fields.get(HeaderFields.member)
        if interface == _EVENT_OBJECT and member == "StateChanged":
            body = msg.body
            if len(body) >= 2 and body[0] == "focused" and body[1] == 1:
                self._on_focus(events, t_ns, fields.get(HeaderFields.sender), fields.get(HeaderFields.path))
        elif interface == _DBUS_NAME and member == "NameOwnerChanged":
            name, _old, new = msg.body
            if not new and name.startswith(":"):
                self._forget(name)

    def _on_focus(self, events: _Link, t_ns: int, sender: str | None, path: str | None) -> None:
        if not sender or not path:
            return
        self._focus_events += 1
        deadline = time.monotonic() + _RESOLVE_TIMEOUT_S
        with self._lock:
            pid = self._pid_of.get(sender)
        pid_serial = None
        if pid is None:
            pid_serial = events.send(_call(_DBUS_NAME, _DBUS_PATH, _DBUS_NAME, "GetConnectionUnixProcessID", "s", (sender,)))
        role_serial = events.send(_call(sender, path, _ACCESSIBLE, "GetRole"))
        attr_serial = events.send(_call(sender, path, _ACCESSIBLE, "GetAttributes"))
        if pid_serial is not None:  # the bus daemon answers first; the app may take longer
            body = _ok(events.wait([pid_serial], deadline).get(pid_serial))
            if body:
                pid = int(body[0])
                with self._lock:
                    self._pid_of[sender] = pid
        pending = FocusRecord(t_ns=t_ns, sender=sender, path=path, pid=pid)
        self._store(pending)  # counts as secret until the role is known
        got = events.wait([role_serial, attr_serial], deadline)
        role = _role_of(got.get(role_serial))
        attrs_body = _ok(got.get(attr_serial))
        attrs = attrs_body[0] if attrs_body and isinstance(attrs_body[0], dict) else {}
        secret = None
        if role is not None:
            secret = role == ROLE_PASSWORD_TEXT or str(attrs.get("text-input-type", "")).lower() == "password"
        self._resolve(pending, replace(pending, role=role, secret=secret, resolved_ns=time.monotonic_ns()))

    # --- internals: document lookup (caller's thread, under the query lock) ------------

    def _apps_for(self, link: _Link, pid: int, deadline: float) -> list[tuple[str, str]]:
        body = _ok(link.call(_call(_REGISTRY, _ROOT_PATH, _ACCESSIBLE, "GetChildren"), deadline))
        if not body:
            return []
        apps = [(bus, path) for bus, path in body[0] if bus and not path.endswith("/null")]
        with self._lock:
            known = dict(self._pid_of)
        unknown = [bus for bus, _ in apps if bus not in known]
        if unknown:
            replies = link.call_many(
                [_call(_DBUS_NAME, _DBUS_PATH, _DBUS_NAME, "GetConnectionUnixProcessID", "s", (b,)) for b in unknown],
                deadline)
            for bus, reply in zip(unknown, replies):
                got = _ok(reply)
                if got:
                    known[bus] = int(got[0])
                    with self._lock:
                        self._pid_of[bus] = int(got[0])
        return [(bus, path) for bus, path in apps if bus in known and same_program_family(pid, known[bus])]

    def _children(self, link: _Link, nodes: list[tuple[str, str]], deadline: float) -> list[list[tuple[str, str]] | None]:
        replies = link.call_many([_call(b, p, _ACCESSIBLE, "GetChildren") for b, p in nodes], deadline)
        out: list[list[tuple[str, str]] | None] = []
        for reply in replies:
            body = _ok(reply)
            out.append(None if body is None else
                       [(b, p) for b, p in body[0] if b and not p.endswith("/null")])
        return out

    def _find_url(self, link: _Link, pid: int, title: str, deadline: float) -> str | None:
        urls: set[str] = set()
        for app in self._apps_for(link, pid, deadline):
            frames = self._children(link, [app], deadline)[0] or []
            if not frames:
                continue
            names = link.call_many([_get_prop(b, p, _ACCESSIBLE, "Name") for b, p in frames], deadline)
            for frame, name in zip(frames, names):
                if _variant_value(name) != title:
                    continue
                found = self._documents(link, frame, title, deadline)
                if found is None:
                    return None  # timed out or inconsistent: no answer rather than a guess
                urls.update(found)
        if len(urls) == 1:
            return urls.pop()
        return None

    def _documents(self, link: _Link, frame: tuple[str, str], title: str, deadline: float) -> set[str] | None:
        """URLs of the showing documents in ``frame`` whose name fits ``title``."""
        key = (frame[0], frame[1])
        parent = self._containers.get(key)
        if parent is not None:
            kids = self._children(link, [parent], deadline)[0] or []
            roles = link.call_many([_call(b, p, _ACCESSIBLE, "GetRole") for b, p in kids], deadline)
            docs = [(kid, parent) for kid, role in zip(kids, roles) if _role_of(role) in _DOC_ROLES]
            urls = self._check_documents(link, docs, title, deadline, key)
            if urls:
                return urls
            self._containers.pop(key, None)
        docs = self._walk(link, frame, deadline)
        if docs is None:
            return None
        return self._check_documents(link, docs, title, deadline, key)

    def _walk(self, link: _Link, frame: tuple[str, str], deadline: float) -> list[tuple[tuple[str, str], tuple[str, str]]] | None:
        """Breadth-first search for document objects under ``frame``: (doc, its parent)."""
        docs: list[tuple[tuple[str, str], tuple[str, str]]] = []
        frontier = [frame]
        seen = 1
        for _depth in range(_MAX_WALK_DEPTH):
            if not frontier:
                break
            if time.monotonic() >= deadline:
                return None
            lists = self._children(link, frontier, deadline)
            pairs = [(kid, parent) for parent, kids in zip(frontier, lists) for kid in (kids or [])]
            seen += len(pairs)
            if seen > _MAX_WALK_NODES:
                return None
            roles = link.call_many([_call(b, p, _ACCESSIBLE, "GetRole") for (b, p), _ in pairs], deadline)
            frontier = []
            for (kid, parent), reply in zip(pairs, roles):
                role = _role_of(reply)
                if role in _DOC_ROLES:
                    docs.append((kid, parent))
                elif role is not None and role not in _PRUNE_ROLES:
                    frontier.append(kid)
        return docs

    def _check_documents(self, link: _Link, docs, title: str, deadline: float, key) -> set[str]:
        msgs: list[Message] = []
        for (b, p), _parent in docs:
            msgs += [_get_prop(b, p, _ACCESSIBLE, "Name"),
                     _call(b, p, _DOCUMENT, "GetAttributes"),
                     _call(b, p, _ACCESSIBLE, "GetState")]
        replies = link.call_many(msgs, deadline) if msgs else []
        urls: set[str] = set()
        for i, (_doc, parent) in enumerate(docs):
            name = _variant_value(replies[3 * i])
            attrs_body = _ok(replies[3 * i + 1])
            states = _states(replies[3 * i + 2])
            if not isinstance(name, str) or not attrs_body or states is None:
                continue
            if not states >> STATE_SHOWING & 1 or states >> STATE_DEFUNCT & 1:
                continue
            attrs = attrs_body[0] if isinstance(attrs_body[0], dict) else {}
            url = next((attrs[k] for k in _URL_KEYS if attrs.get(k)), "")
            if not url or not _title_has(title, name):
                continue
            urls.add(url)
            if len(self._containers) > 64:
                self._containers.clear()
            self._containers[key] = parent
        return urls
