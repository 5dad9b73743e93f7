"""``workprint inspect``: one session's timeline summary."""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import asdict

from ..events import ButtonEvent, FocusEvent, GapEvent, KeyEvent, MarkerEvent, ScrollEvent, resolve_trees
from ..store.session import DataDir, Session
from ._common import add_data_dir, data_dir, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="show one session's timeline summary",
                       description="Show a session's metadata and its timeline: one segment per "
                                   "active window with its keys, clicks, scrolls and frames, plus "
                                   "gaps and markers (--json adds the reduced actions, each with the "
                                   "UI element it acted on, and the accessibility trees recorded). SESSION may be an unambiguous id prefix.")
    p.add_argument("session", metavar="SESSION")
    add_data_dir(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def timeline(session: Session) -> list[dict]:
    """Segments between focus changes, with counts; gaps and markers as their own rows."""
    start = session.meta.get("start_mono_ns", 0)
    frames = session.frames()
    rows: list[dict] = []
    seg: dict | None = None

    def new_segment(ev: FocusEvent | None, t_ns: int) -> dict:
        return {"type": "window", "t": round((t_ns - start) / 1e9, 3),
                "app": ev.app_id if ev else "", "title": ev.title if ev else "",
                "keys": 0, "clicks": 0, "scrolls": 0, "frames": 0, "end": None}

    for ev in session.events():
        if isinstance(ev, FocusEvent):
            if seg:
                seg["end"] = round((ev.t_ns - start) / 1e9, 3)
            seg = new_segment(ev, ev.t_ns)
            rows.append(seg)
            continue
        if isinstance(ev, (GapEvent, MarkerEvent)):
            row = {"type": ev.kind, "t": round((ev.t_ns - start) / 1e9, 3)}
            row.update({k: v for k, v in asdict(ev).items() if k != "t_ns"})
            rows.append(row)
            continue
        if seg is None:
            seg = new_segment(None, ev.t_ns)
            rows.append(seg)
        if isinstance(ev, KeyEvent) and ev.down:
            seg["keys"] += 1
        elif isinstance(ev, ButtonEvent) and ev.down:
            seg["clicks"] += 1
        elif isinstance(ev, ScrollEvent):
            seg["scrolls"] += 1
    windows = [r for r in rows if r["type"] == "window"]
    for f in frames:
        t = (f.t_ns - start) / 1e9
        owner = None
        for r in windows:
            if r["t"] <= t:
                owner = r
        if owner:
            owner["frames"] += 1
    return rows


def a11y_trees(session: Session) -> list[dict]:
    """The accessibility trees recorded (``[capture] a11y_tree``), in time order: each with
    its time, app, node count, truncated flag, digest and ``root`` - null for a repeat of
    the full tree with the same digest listed before it."""
    start = session.meta.get("start_mono_ns", 0)
    return [{"t": round((ev.t_ns - start) / 1e9, 3), "app": ev.app, "nodes": ev.nodes, "truncated": ev.truncated,
             "digest": ev.digest, "root": ev.root.to_dict() if ev.root is not None else None}
            for ev in session.events(["a11y_tree"])]


def actions(session: Session) -> list[dict]:
    """The session's reduced actions, each with the UI element it acted on (or None) and
    the digest of the accessibility tree of the screen before it (or None; see
    :func:`a11y_trees`)."""
    from ..actions.keyframes import trees_before
    from ..actions.reduce import reduce_events

    start = session.meta.get("start_mono_ns", 0)
    events = list(session.events())
    reduced = reduce_events(events)
    trees = resolve_trees(events)
    before = trees_before(reduced, trees) if trees else [None] * len(reduced)
    out = []
    for a, tree in zip(reduced, before):
        row: dict = {"kind": a.kind, "t": round((a.t_start - start) / 1e9, 3)}
        if a.x is not None:
            row.update(x=a.x, y=a.y)
        if a.keys:
            row["keys"] = list(a.keys)
        if a.text is not None:
            row["text"] = a.text
        el = a.element
        row["element"] = None if el is None else {
            "role": el.role, "name": el.name, "description": el.description, "states": list(el.states),
            "box": [el.box.x, el.box.y, el.box.width, el.box.height] if el.box else None,
            "app": el.app, "path": [list(p) for p in el.path], "via": el.via, "source": el.source}
        row["a11y_tree"] = tree.digest if tree is not None else None
        out.append(row)
    return out


def _row_text(r: dict) -> str:
    """A gap with its reason and length; a marker with its name, task text and outcome."""
    if r["type"] == "gap":
        return f"{r['reason']} for {_length(r['duration_ns'] / 1e9)}"
    text = r.get("name", "")
    if r.get("text"):
        text += f" {r['text']!r}"
    if r.get("name") == "task_end":
        text += " (done)" if r.get("ok", True) else " (failed)"
    return text


def _length(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m} min {s} s" if h else f"{m} min {s} s"


def run(args: argparse.Namespace) -> int:
    with DataDir(data_dir(args)).open(args.session) as session:
        summary = session.summary()
        rows = timeline(session)
        acts = actions(session) if args.json else []
        trees = a11y_trees(session) if args.json else []
        reasons = Counter(f.reason for f in session.frames())
        meta = session.meta
    if args.json:
        print_json({"session": asdict(summary), "meta": meta, "frames_by_reason": dict(reasons),
                    "timeline": rows, "actions": acts, "a11y_trees": trees})
        return 0
    screen = meta.get("screen", {})
    print(f"session   {summary.id}  ({summary.state})")
    print(f"start     {summary.start}   end {summary.end}   duration {summary.duration_s}s")
    print(f"screen    {screen.get('width')}x{screen.get('height')} scale {screen.get('scale')} "
          f"monitors {len(screen.get('monitors', []))}")
    print(f"events    " + ", ".join(f"{k} {v}" for k, v in sorted(summary.events.items())))
    print(f"frames    {summary.frames} ({summary.unique_frames} unique, {summary.dropped_frames} dropped) "
          + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    print(f"on disk   {summary.bytes_on_disk} bytes")
    print("timeline")
    for r in rows:
        if r["type"] == "window":
            print(f"  {r['t']:>9.3f}s  {r['app'] or '(no window)':14} {r['title'][:50]!r:52} "
                  f"keys {r['keys']:>4} clicks {r['clicks']:>3} scrolls {r['scrolls']:>3} frames {r['frames']:>3}")
        else:
            print(f"  {r['t']:>9.3f}s  [{r['type']}] {_row_text(r)}")
    return 0
