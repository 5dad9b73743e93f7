"""The local episode viewer: a small FastAPI app serving JSON about the stored sessions,
their episodes and steps, the keyframes as images, and one static page (no build step,
nothing fetched from elsewhere) that steps through them.

Screenshots are sensitive, so the viewer listens on the loopback interface only and every
request must carry the random token printed with the URL: ``?token=`` (the page passes it
on with every request) or the cookie set when a request with a valid ``?token=`` arrives
(so a reload without the query string still works). Anything else gets 403.

Episodes and steps come from :func:`workprint.export.common.session_trajectories` - the
viewer shows exactly what an export would contain - plus, for local viewing only, the app
and window title that were active at each step and the approach path of mouse actions.

For the person recorded it also answers: what happened on each day (recorded, paused, idle,
out of scope, forgotten - :mod:`workprint.actions.timeline`), where each session stands on
its way to the collector (:mod:`workprint.sync.state`, refusals with their reason), search
over the stored (already redacted) typed text, titles and app names, forgetting a span
(:func:`workprint.store.forget.forget_span`, after telling a running recorder), and what
the placeholders and black areas mean (:mod:`workprint.policy.legend`).
"""

from __future__ import annotations

import hashlib
import html
import re
import secrets
import socket
import threading
import time
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import asdict
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from ..actions import timeline as tl
from ..errors import StoreError
from ..events import FocusEvent
from ..export.common import ExportError, ImageEncoder, Trajectory, session_trajectories, status_of
from ..store.session import DataDir, Session, change_stamp

STATIC = Path(__file__).parent / "static"
HOST = "127.0.0.1"
_FRAME_ID = re.compile(r"^[0-9a-f]{8,64}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_RESULTS = 200
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def new_token() -> str:
    return secrets.token_urlsafe(24)


def cookie_name(token: str) -> str:
    """Per-token cookie name: cookies ignore ports, so two viewers on one machine would
    otherwise overwrite each other's cookie."""
    return "wpview_" + hashlib.sha256(token.encode()).hexdigest()[:10]


def step_label(kind: str, s: dict[str, Any]) -> str:
    """A short human label for one step (what the overlay caption shows)."""
    if kind == "write":
        return s.get("text", "")
    if kind in ("press", "hotkey"):
        return "+".join(s.get("keys", []))
    if kind in ("scroll", "hscroll"):
        n = s.get("dy") if kind == "scroll" else s.get("dx")
        return f"{kind} {n:+d}"
    if kind == "wait":
        return f"wait ({s['gap']})" if s.get("gap") else "wait"
    if kind == "end":
        return f"end: {s.get('status', 'unknown')}"
    mods = "+".join(s.get("keys", []))
    return f"{mods}+{kind}" if mods else kind


class _Focus:
    """The active app/title at any time of a session, from its raw focus events."""

    def __init__(self, session: Session):
        self.times: list[int] = []
        self.values: list[tuple[str, str]] = []
        for e in session.events(kinds=["focus"]):
            assert isinstance(e, FocusEvent)
            self.times.append(e.t_ns)
            self.values.append((e.app_id, e.title) if e.window else ("", ""))

    def at(self, t_ns: int) -> tuple[str, str]:
        i = bisect_right(self.times, t_ns) - 1
        return self.values[i] if i >= 0 else ("", "")


class _Clock:
    """Session clock (``t_ns``) -> wall-clock epoch milliseconds, from the session's meta."""

    def __init__(self, meta: dict[str, Any]):
        try:
            start = datetime.fromisoformat(meta["start_wall"])
            if start.tzinfo is None:
                start = start.replace(tzinfo=timezone.utc)
            self.start_ms: float | None = start.timestamp() * 1000
            self.mono: int | None = int(meta["start_mono_ns"])
        except (KeyError, TypeError, ValueError):
            self.start_ms = self.mono = None

    def ms(self, t_ns: int) -> int | None:
        if self.start_ms is None or self.mono is None:
            return None
        return round(self.start_ms + (t_ns - self.mono) / 1e6)

    def ns(self, ms: float) -> int:
        assert self.start_ms is not None and self.mono is not None
        return self.mono + round((ms - self.start_ms) * 1e6)


def _local_day(ms: float) -> date:
    return datetime.fromtimestamp(ms / 1000).date()


def _midnight_ms(d: date) -> int:
    """Local midnight at the start of ``d`` (the viewer runs on the contributor's machine)."""
    return round(datetime.combine(d, dtime()).timestamp() * 1000)


def _snippet(text: str, at: int, n: int, width: int = 60) -> str:
    a, b = max(0, at - width), min(len(text), at + n + width)
    return ("…" if a else "") + text[a:b] + ("…" if b < len(text) else "")


class Viewer:
    """Reads the data dir on demand; caches reduced sessions while their files are unchanged."""

    def __init__(self, data_dir: Path, image_format: str = "jpeg"):
        self.data_dir = Path(data_dir)
        self.store = DataDir(self.data_dir)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[tuple, list[dict[str, Any]]]] = OrderedDict()
        self._timelines: dict[str, tuple[tuple, dict[str, Any]]] = {}
        self._search_docs: dict[str, tuple[tuple, list[dict[str, Any]]]] = {}
        self._encoder = ImageEncoder(image_format, cache=32)
        self._enc_lock = threading.Lock()

    # -- sessions --------------------------------------------------------------------
    def _known(self, sid: str) -> None:
        """Exact ids only (no prefixes, no path tricks)."""
        if sid not in self.store.session_ids():
            raise HTTPException(404, f"no session {sid!r}")

    def open(self, sid: str) -> Session:
        self._known(sid)
        try:
            return Session(self.store.sessions_dir / sid)
        except StoreError as exc:   # damaged: the page lists it with this message
            raise HTTPException(422, str(exc)) from exc

    def _states(self) -> tuple[dict[str, str | None], dict[str, Any]]:
        """Each session's review decision and upload state (asking the review and the
        outbox, the owners of their files)."""
        from ..sync.review import Review
        from ..sync.state import review_items, sealed, upload_states

        rv = Review(self.data_dir)
        try:
            items = review_items(rv)
        finally:
            rv.close()
        return {i.id: i.decision for i in items}, upload_states(items, sealed(self.data_dir))

    def sessions(self) -> list[dict[str, Any]]:
        decisions, states = self._states()
        out = []
        for sid in self.store.session_ids():
            up = states[sid].to_dict() if sid in states else None
            try:
                with Session(self.store.sessions_dir / sid) as s:
                    d = asdict(s.summary())
            except StoreError as exc:
                out.append({"id": sid, "error": str(exc), "review": decisions.get(sid), "upload": up})
                continue
            d.pop("path", None)
            d["review"] = decisions.get(sid)
            d["upload"] = up
            out.append(d)
        return out

    def decide(self, sid: str, decision: str) -> dict[str, Any]:
        from ..sync.state import decide

        self.open(sid).close()
        note = decide(self.data_dir, sid, decision)
        _, states = self._states()
        return {"id": sid, "review": decision, "note": note,
                "upload": states[sid].to_dict() if sid in states else None}

    # -- the day: timeline ----------------------------------------------------------------
    def timeline(self, sid: str) -> dict[str, Any]:
        """One session's spans and task markers, in wall-clock milliseconds."""
        self._known(sid)
        stamp = self._stamp(sid)
        with self._lock:
            hit = self._timelines.get(sid)
            if hit is not None and hit[0] == stamp:
                return hit[1]
        session = self.open(sid)
        try:
            with session.reading():
                meta = dict(session.meta)
                events = list(session.events(kinds=["gap", "focus", "marker"]))
        except StoreError as exc:
            raise HTTPException(422, str(exc)) from exc
        finally:
            session.close()
        clock = _Clock(meta)
        start = clock.mono if clock.mono is not None else (events[0].t_ns if events else 0)
        if meta.get("state") == "recording":
            end = time.monotonic_ns()   # the recorder's clock: same machine, same boot
        else:
            end = meta.get("end_mono_ns") or meta.get("last_t_ns") or start
        spans = tl.spans(events, start, int(end))
        out = {
            "session": sid, "state": meta.get("state"),
            "start_ms": clock.ms(spans[0].start_ns) if spans else clock.ms(start),
            "end_ms": clock.ms(spans[-1].end_ns) if spans else clock.ms(int(end)),
            "spans": [self._span(sid, sp, clock) for sp in spans],
            "markers": [{"name": m.name, "text": m.text, "ok": m.ok, "at_ms": clock.ms(m.t_ns)}
                        for m in tl.markers(events)],
            "totals": tl.totals(spans),
        }
        with self._lock:
            self._timelines[sid] = (stamp, out)
        return out

    @staticmethod
    def _span(sid: str, sp: tl.Span, clock: _Clock) -> dict[str, Any]:
        return {"session": sid, "kind": sp.kind, "reason": sp.reason, "words": sp.words,
                "app": sp.app, "title": sp.title, "start_ms": clock.ms(sp.start_ns),
                "end_ms": clock.ms(sp.end_ns), "duration_s": round(sp.duration_ns / 1e9, 3),
                # the session clock, exact (strings: JavaScript numbers hold 53 bits)
                "start_t_ns": str(sp.start_ns), "end_t_ns": str(sp.end_ns)}

    def _day_spans(self) -> dict[date, list[dict[str, Any]]]:
        """Every session's spans cut at local midnights, by local day."""
        days: dict[date, list[dict[str, Any]]] = {}
        for sid in self.store.session_ids():
            try:
                t = self.timeline(sid)
            except HTTPException:
                continue  # a damaged session: listed (with its error) among the sessions
            for sp in t["spans"]:
                a, b = sp["start_ms"], sp["end_ms"]
                if a is None or b is None:
                    continue
                while True:
                    d = _local_day(a)
                    cut = min(b, _midnight_ms(d + timedelta(days=1)))
                    piece = sp | {"start_ms": a, "end_ms": cut, "duration_s": round((cut - a) / 1000, 3)}
                    if (a, cut) != (sp["start_ms"], sp["end_ms"]):   # cut at midnight: wall clock only
                        piece |= {"start_t_ns": None, "end_t_ns": None}
                    days.setdefault(d, []).append(piece)
                    if cut >= b:
                        break
                    a = cut
        return days

    def days(self) -> list[dict[str, Any]]:
        out = []
        for d, spans in sorted(self._day_spans().items()):
            totals = {k: 0.0 for k in tl.KINDS}
            for sp in spans:
                totals[sp["kind"]] += sp["duration_s"]
            out.append({"day": d.isoformat(), "sessions": sorted({sp["session"] for sp in spans}),
                        "totals": {k: round(v, 3) for k, v in totals.items()}})
        return out

    def day(self, day: str) -> dict[str, Any]:
        if not _DAY.match(day):
            raise HTTPException(404, "a day is YYYY-MM-DD")
        try:
            d = date.fromisoformat(day)
        except ValueError:
            raise HTTPException(404, "a day is YYYY-MM-DD") from None
        spans = sorted(self._day_spans().get(d, []), key=lambda sp: sp["start_ms"])
        markers = []
        for sid in sorted({sp["session"] for sp in spans}):
            markers += [m | {"session": sid} for m in self.timeline(sid)["markers"]
                        if m["at_ms"] is not None and _local_day(m["at_ms"]) == d]
        totals = {k: 0.0 for k in tl.KINDS}
        for sp in spans:
            totals[sp["kind"]] += sp["duration_s"]
        return {"day": day, "start_ms": _midnight_ms(d), "end_ms": _midnight_ms(d + timedelta(days=1)),
                "spans": spans, "markers": sorted(markers, key=lambda m: m["at_ms"]),
                "totals": {k: round(v, 3) for k, v in totals.items()}}

    # -- search -------------------------------------------------------------------------
    def _docs(self, sid: str) -> list[dict[str, Any]]:
        """What can be searched in a session: typed text (the ``write`` steps the stored
        keys spell), task texts, window titles and app names - all as stored, redacted."""
        self._known(sid)
        stamp = self._stamp(sid)
        with self._lock:
            hit = self._search_docs.get(sid)
            if hit is not None and hit[0] == stamp:
                return hit[1]
        docs: list[dict[str, Any]] = []
        seen_title: set[tuple[str, str]] = set()
        for ep in self.episodes(sid):
            if ep["instruction"]:
                docs.append({"kind": "task", "text": ep["instruction"], "episode": ep["index"],
                             "step": 0, "at_ms": ep["steps"][0]["at_ms"] if ep["steps"] else None})
            for st in ep["steps"]:
                where = {"episode": ep["index"], "step": st["index"], "at_ms": st["at_ms"]}
                if st["kind"] == "write" and st["action"].get("text"):
                    docs.append({"kind": "typed", "text": st["action"]["text"], **where})
                for kind, text in (("app", st["app"]), ("title", st["title"])):
                    if text and (kind, text) not in seen_title:
                        seen_title.add((kind, text))
                        docs.append({"kind": kind, "text": text, **where})
        for sp in self.timeline(sid)["spans"]:   # windows in front while nothing was done
            for kind, text in (("app", sp["app"]), ("title", sp["title"])):
                if text and (kind, text) not in seen_title:
                    seen_title.add((kind, text))
                    docs.append({"kind": kind, "text": text, "episode": None, "step": None,
                                 "at_ms": sp["start_ms"]})
        with self._lock:
            self._search_docs[sid] = (stamp, docs)
        return docs

    def search(self, q: str) -> dict[str, Any]:
        q = q.strip()
        if not q:
            return {"query": q, "results": [], "truncated": False}
        needle = q.casefold()
        results = []
        for sid in self.store.session_ids():
            try:
                docs = self._docs(sid)
            except HTTPException:
                continue
            for doc in docs:
                at = doc["text"].casefold().find(needle)
                if at >= 0:
                    results.append({"session": sid, **doc,
                                    "snippet": _snippet(doc["text"], at, len(q)),
                                    "match": [min(at, 60) + (1 if at > 60 else 0), len(q)]})
        results.sort(key=lambda r: (r["at_ms"] is None, r["at_ms"] or 0))
        return {"query": q, "results": results[:MAX_RESULTS], "truncated": len(results) > MAX_RESULTS}

    # -- forgetting -----------------------------------------------------------------------
    def forget(self, sid: str, since: int | None = None, until: int | None = None, *,
               since_ms: float | None = None, until_ms: float | None = None) -> dict[str, Any]:
        """Irrecoverably delete what ``sid`` recorded in ``[since, until]`` of its clock
        (``t_ns``; a span of the timeline) or ``[since_ms, until_ms]`` of the wall clock (a
        stretch selected on the day): as ``workprint forget`` does - a running recorder
        first drops what it still holds of the span, then the store deletes it (overwritten,
        rebuilt, WAL emptied) and the session's unsent outbox chunks are withdrawn."""
        from ..capture.control import forget_live
        from ..store.forget import forget_span
        from ..sync.outbox import forget_hook

        session = self.open(sid)
        try:
            meta = dict(session.meta)
        finally:
            session.close()
        clock = _Clock(meta)
        if since is None or until is None:
            if clock.mono is None or since_ms is None or until_ms is None:
                raise HTTPException(422, f"session {sid} has no start time; use `workprint forget --session`")
            since, until = clock.ns(since_ms), clock.ns(until_ms)
        if not until >= since:
            raise HTTPException(400, "the span must end after it starts")
        live = None
        if meta.get("state") == "recording":
            live = forget_live(self.data_dir, since_t_ns=since, until_t_ns=until)
        report = forget_span(self.data_dir, sid, since, until, outbox=forget_hook(self.data_dir))
        return {"forgot": {"session": sid, "since_t_ns": str(since), "until_t_ns": str(until),
                           "since_ms": clock.ms(since), "until_ms": clock.ms(until)},
                "report": report.to_dict(), "recorder": live}

    # -- episodes --------------------------------------------------------------------
    def _stamp(self, sid: str) -> tuple:
        return change_stamp(self.store.sessions_dir / sid)

    def episodes(self, sid: str) -> list[dict[str, Any]]:
        session = self.open(sid)
        try:
            stamp = self._stamp(sid)
            with self._lock:
                hit = self._cache.get(sid)
                if hit is not None and hit[0] == stamp:
                    self._cache.move_to_end(sid)
                    return hit[1]
            try:
                trajs = session_trajectories(session)
            except ExportError as exc:
                raise HTTPException(422, str(exc)) from exc
            focus = _Focus(session)
            clock = _Clock(session.meta)
            eps = [self._episode(n, t, focus, clock) for n, t in enumerate(trajs)]
        finally:
            session.close()
        with self._lock:
            self._cache[sid] = (stamp, eps)
            while len(self._cache) > 8:
                self._cache.popitem(last=False)
        return eps

    @staticmethod
    def _episode(n: int, traj: Trajectory, focus: _Focus, clock: _Clock) -> dict[str, Any]:
        t0 = traj.steps[0].action.t_start if traj.steps else 0
        steps = []
        for st in traj.steps:
            a = st.action
            app, title = focus.at(a.t_start)
            f = st.frame
            steps.append({
                "index": st.index,
                "kind": a.kind,
                "label": step_label(a.kind, st.structured),
                "code": st.code,
                "action": st.structured,
                "path": [list(p) for p in a.path],
                "t_rel_s": st.t_rel_s,
                "t_ms": round((a.t_start - t0) / 1e6),   # since the first step (local only)
                "at_ms": clock.ms(a.t_start),            # wall clock (local only)
                "duration_ms": round((a.t_end - a.t_start) / 1e6),
                "frame": {"id": f.frame_id, "width": f.width, "height": f.height,
                          "reason": f.reason} if f is not None else None,
                "app": app,
                "title": title,
            })
        return {
            "index": n,
            "task_id": traj.task_id,
            "instruction": traj.instruction,
            "unlabelled": traj.unlabelled,
            "status": status_of(traj.ok),
            "screen": {"width": traj.screen.width, "height": traj.screen.height,
                       "scale": traj.screen.scale},
            "steps": steps,
        }

    def episode(self, sid: str, n: int) -> dict[str, Any]:
        eps = self.episodes(sid)
        if not 0 <= n < len(eps):
            raise HTTPException(404, f"session {sid} has no episode {n}")
        return eps[n]

    # -- images ----------------------------------------------------------------------
    def frame(self, sid: str, frame_id: str, fmt: str) -> bytes:
        if not _FRAME_ID.match(frame_id):
            raise HTTPException(404, "bad frame id")
        session = self.open(sid)
        try:
            img = session.frame_image(frame_id)
        except StoreError as exc:
            raise HTTPException(404, str(exc)) from exc
        finally:
            session.close()
        if fmt == self._encoder.fmt:
            enc = self._encoder
        else:
            enc = ImageEncoder(fmt)
        with self._enc_lock:
            return enc.encode_image(img)


def create_app(data_dir: Path, token: str, image_format: str = "jpeg") -> FastAPI:
    """The viewer app for ``data_dir``; every request must present ``token``."""
    if not token:
        raise ValueError("a token is required")
    viewer = Viewer(data_dir, image_format)
    app = FastAPI(title="workprint viewer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.viewer = viewer
    cname = cookie_name(token)

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        given = request.query_params.get("token")
        from_query = given is not None
        if given is None:
            given = request.headers.get("x-workprint-token") or request.cookies.get(cname)
        if not given or not secrets.compare_digest(given.encode(), token.encode()):
            resp: Response = JSONResponse({"error": "forbidden: open the URL with its token"},
                                          status_code=403)
        else:
            resp = await call_next(request)
            if from_query and request.cookies.get(cname) != token:
                resp.set_cookie(cname, token, httponly=True, samesite="strict", path="/")
        for k, v in _SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        return resp

    page = (STATIC / "index.html").read_text(encoding="utf-8").replace(
        "__TOKEN__", html.escape(quote(token, safe=""), quote=True))

    @app.get("/")
    def index():
        return Response(page, media_type="text/html; charset=utf-8")

    @app.get("/static/{name}")
    def static(name: str):
        files = {"viewer.js": "text/javascript; charset=utf-8", "viewer.css": "text/css; charset=utf-8"}
        if name not in files:
            raise HTTPException(404)
        return FileResponse(STATIC / name, media_type=files[name])

    @app.get("/api/sessions")
    def sessions():
        return viewer.sessions()

    @app.post("/api/sessions/{sid}/review")
    async def review(sid: str, request: Request):
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, "expected JSON") from None
        decision = body.get("decision") if isinstance(body, dict) else None
        if decision not in ("approved", "withheld"):
            raise HTTPException(400, "decision must be 'approved' or 'withheld'")
        from starlette.concurrency import run_in_threadpool
        return await run_in_threadpool(viewer.decide, sid, decision)

    @app.get("/api/sessions/{sid}/timeline")
    def session_timeline(sid: str):
        return viewer.timeline(sid)

    @app.get("/api/days")
    def days():
        return viewer.days()

    @app.get("/api/days/{day}")
    def day(day: str):
        return viewer.day(day)

    @app.get("/api/search")
    def search(q: str = ""):
        return viewer.search(q[:200])

    @app.get("/api/legend")
    def legend():
        from ..policy.legend import legend as placeholders

        return placeholders() | {"timeline": [{"kind": k, "meaning": m} for k, m in tl.KIND_WORDS.items()]}

    @app.post("/api/sessions/{sid}/forget")
    async def forget(sid: str, request: Request):
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, "expected JSON") from None
        if not isinstance(body, dict) or body.get("confirm") is not True:
            raise HTTPException(400, "forgetting needs {\"confirm\": true}: it cannot be undone")
        span: dict[str, Any] = {}
        try:
            if "since_t_ns" in body:   # a span of the timeline, on the session's clock
                span = {"since": int(body["since_t_ns"]), "until": int(body["until_t_ns"])}
            else:                      # a stretch of the day, wall clock
                span = {"since_ms": float(body["since_ms"]), "until_ms": float(body["until_ms"])}
        except (KeyError, TypeError, ValueError):
            raise HTTPException(400, "give since_t_ns and until_t_ns (a span of the timeline) or "
                                     "since_ms and until_ms (wall-clock milliseconds)") from None
        if list(span.values())[1] < list(span.values())[0]:
            raise HTTPException(400, "the span must end after it starts")
        from starlette.concurrency import run_in_threadpool
        try:
            return await run_in_threadpool(lambda: viewer.forget(sid, **span))
        except StoreError as exc:
            raise HTTPException(409, str(exc)) from exc

    @app.get("/api/sessions/{sid}/episodes")
    def episodes(sid: str):
        return [{k: v for k, v in ep.items() if k != "steps"} |
                {"n_steps": len(ep["steps"]),
                 "start_ms": ep["steps"][0]["at_ms"] if ep["steps"] else None,
                 "end_ms": ep["steps"][-1]["at_ms"] if ep["steps"] else None}
                for ep in viewer.episodes(sid)]

    @app.get("/api/sessions/{sid}/episodes/{n}")
    def episode(sid: str, n: int):
        return viewer.episode(sid, n)

    @app.get("/api/sessions/{sid}/episodes/{n}/steps")
    def steps(sid: str, n: int):
        return viewer.episode(sid, n)["steps"]

    @app.get("/api/sessions/{sid}/frames/{name}")
    def frame(sid: str, name: str):
        stem, _, ext = name.rpartition(".")
        fmt = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png"}.get(ext)
        if fmt is None:
            raise HTTPException(404, "use .png or .jpg")
        data = viewer.frame(sid, stem, fmt)
        return Response(data, media_type=f"image/{fmt}",
                        headers={"Cache-Control": "private, max-age=3600"})

    return app


def bind(port: int = 0) -> socket.socket:
    """A listening socket on the loopback interface (``port`` 0: any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, token: str) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}/?token={token}"


def serve(data_dir: Path, port: int = 0, token: str | None = None, image_format: str = "jpeg",
          on_ready=None, log_level: str = "warning") -> None:
    """Serve until interrupted. ``on_ready(url)`` is called once the socket listens."""
    import uvicorn

    token = token or new_token()
    sock = bind(port)
    app = create_app(data_dir, token, image_format)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready(url_of(sock, token))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
