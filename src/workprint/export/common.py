"""Shared by all export formats: sessions -> trajectories of steps, pyautogui code,
structured actions, deterministic image encoding and the output folder.

What leaves here carries no per-keystroke timing (step times are whole seconds since the
episode start) and no identities (no pids, window ids, usernames, titles, session ids).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..actions.describe import describe
from ..actions.episodes import Episode, EpisodeConfig, split_episodes
from ..actions.keyframes import FrameIndex, KeyframeConfig, final_frame, keyframe, trees_before
from ..actions.reduce import ReduceConfig, reduce_events
from ..errors import ExportError, WorkprintError  # noqa: F401  (re-exported)
from ..events import A11yNode, A11yTreeEvent, Action, FrameRef, MarkerEvent, resolve_trees
from . import code as _code
from .code import status_of
from .jpeg import TiledJpeg, save_jpeg

#: Version of the export formats written here; in every export's provenance.
#: 3: the UI element of each step (AgentNet ``value.element``, hf ``element_*`` columns).
#: 4: the accessibility tree before each step, where recorded (AgentNet ``value.a11y_tree``,
#: hf ``a11y_tree``).
EXPORT_VERSION = 4

Progress = Callable[[int, int], None]

#: File left in every export folder so a re-run may safely replace it.
MARKER = ".workprint-export"
IMAGE_FORMATS = ("jpeg", "png")


@dataclass(frozen=True)
class Screen:
    """Logical screen size (what coordinates are normalised by) and scale."""

    width: int
    height: int
    scale: float = 1.0

    def nx(self, x: int) -> float:
        return round(min(max(x / self.width, 0.0), 1.0), 4)

    def ny(self, y: int) -> float:
        return round(min(max(y / self.height, 0.0), 1.0), 4)


@dataclass
class Step:
    index: int
    action: Action            # kind "end" for the final terminate step
    frame: FrameRef | None
    t_rel_s: int
    code: str
    structured: dict[str, Any]
    description: str = ""
    #: Filled only from CoT synthesis output (:func:`apply_cot`); workprint never writes them.
    observation: str = ""
    thought: str = ""
    #: The UI element acted on (:func:`element_struct`), or None.
    element: dict[str, Any] | None = None
    #: The accessibility tree of the screen before the action (:func:`tree_struct`), or
    #: None (not recorded, or none since the previous action).
    a11y_tree: dict[str, Any] | None = None


@dataclass
class Trajectory:
    task_id: str
    instruction: str
    unlabelled: bool
    ok: bool | None
    screen: Screen
    steps: list[Step] = field(default_factory=list)
    #: Provenance of the session it came from (policy hash, recorder version).
    source: dict[str, Any] = field(default_factory=dict)


# --- code ------------------------------------------------------------------------------
def action_code(a: Action, screen: Screen) -> str:
    """pyautogui / ``computer.*`` code for one action (see :mod:`.code` for the grammar)."""
    return _code.action_code(a, screen.nx, screen.ny)


def action_struct(a: Action, screen: Screen) -> dict[str, Any]:
    """The action as plain data: pixel and normalised coordinates plus the screen."""
    d: dict[str, Any] = {"type": a.kind, "screen": {
        "width": screen.width, "height": screen.height, "scale": screen.scale}}
    if a.x is not None and a.y is not None:
        d.update(x=a.x, y=a.y, nx=screen.nx(a.x), ny=screen.ny(a.y))
    if a.x2 is not None and a.y2 is not None:
        d.update(x2=a.x2, y2=a.y2, nx2=screen.nx(a.x2), ny2=screen.ny(a.y2))
    if a.button is not None:
        d["button"] = a.button
    if a.kind == "write":
        d["text"] = a.text or ""
    if a.keys:
        d["keys"] = list(a.keys)
    if a.kind in ("scroll", "hscroll"):
        d.update(dx=a.dx, dy=a.dy)
    if a.kind == "wait" and a.text:
        d["gap"] = a.text
    if a.kind == "end":
        d["status"] = status_of(a.ok)
    return d


def element_struct(a: Action, screen: Screen) -> dict[str, Any] | None:
    """The element an action acted on, as exported: role, name (redacted at the source),
    app, box normalised to [0, 1] of the screen as ``[x0, y0, x1, y1]``, and where it came
    from; None when the platform named none."""
    el = a.element
    if el is None:
        return None
    bbox = None
    if el.box is not None:
        b = el.box
        bbox = [screen.nx(b.x), screen.ny(b.y), screen.nx(b.x + b.width), screen.ny(b.y + b.height)]
    return {"role": el.role, "name": el.name, "app": el.app, "bbox": bbox, "source": el.source}


def tree_struct(tree: A11yTreeEvent | None, screen: Screen) -> dict[str, Any] | None:
    """An accessibility tree as exported: ``{"app", "nodes", "truncated", "root"}``, each
    node ``{"role", "name", "states", "bbox": [x0, y0, x1, y1] (0-1 of the screen, as an
    element's) | null, "children"}`` (empty name, states and children left out)."""
    if tree is None or tree.root is None:
        return None

    def node(n: A11yNode) -> dict[str, Any]:
        d: dict[str, Any] = {"role": n.role}
        if n.name:
            d["name"] = n.name
        if n.states:
            d["states"] = list(n.states)
        b = n.box
        d["bbox"] = None if b is None else [screen.nx(b.x), screen.ny(b.y), screen.nx(b.x + b.width),
                                            screen.ny(b.y + b.height)]
        if n.children:
            d["children"] = [node(c) for c in n.children]
        return d

    return {"app": tree.app, "nodes": tree.nodes, "truncated": tree.truncated, "root": node(tree.root)}


# --- sessions -> trajectories ------------------------------------------------------------
def screen_of(meta: dict[str, Any], frames: list[FrameRef]) -> Screen:
    s = meta.get("screen") or {}
    if s.get("width") and s.get("height"):
        return Screen(int(s["width"]), int(s["height"]), float(s.get("scale") or 1.0))
    if frames:
        return Screen(frames[0].width, frames[0].height, 1.0)
    raise ExportError(
        f"session {meta.get('id', '?')} records no screen size (meta 'screen') and has no "
        f"frames, so coordinates cannot be normalised. Re-record it with a current workprint.")


def task_id(session_id: str, episode_index: int) -> str:
    return hashlib.sha256(f"workprint:{session_id}:{episode_index}".encode()).hexdigest()[:16]


def build_trajectory(session_id: str, ep: Episode, screen: Screen, index: FrameIndex,
                     next_start: int | None, kf: KeyframeConfig,
                     trees: dict[int, A11yTreeEvent] | None = None) -> Trajectory:
    """``trees``: the tree before each action, by ``id(action)`` (:func:`trees_before`)."""
    traj = Trajectory(task_id(session_id, ep.index), ep.instruction, ep.unlabelled, ep.ok, screen)
    t0 = ep.t_start
    steps = ep.steps
    for i, a in enumerate(steps):
        traj.steps.append(Step(i, a, keyframe(a, index, kf), round((a.t_start - t0) / 1e9),
                               action_code(a, screen), action_struct(a, screen),
                               describe(a, screen.nx, screen.ny),
                               element=element_struct(a, screen),
                               a11y_tree=tree_struct((trees or {}).get(id(a)), screen)))
    last = steps[-1]
    end_t = max(ep.t_end, last.t_end)
    limit = end_t + int(kf.settle_s * 1e9)
    if next_start is not None:
        limit = min(limit, next_start)
    end = Action("end", end_t, end_t, ok=ep.ok)
    traj.steps.append(Step(len(steps), end, final_frame(last, index, limit),
                           round((end_t - t0) / 1e9), action_code(end, screen),
                           action_struct(end, screen), describe(end, screen.nx, screen.ny)))
    return traj


def session_trajectories(session, reduce_cfg: ReduceConfig | None = None,
                         episode_cfg: EpisodeConfig | None = None,
                         keyframe_cfg: KeyframeConfig | None = None) -> list[Trajectory]:
    """Reduce one stored session and cut it into trajectories (no image work)."""
    events = list(session.events())
    frames = session.frames()
    screen = screen_of(session.meta, frames)
    actions = reduce_events(events, reduce_cfg)
    markers = [e for e in events if isinstance(e, MarkerEvent)]
    episodes = split_episodes(actions, markers, episode_cfg)
    index = FrameIndex(frames)
    recorded = resolve_trees(events)
    trees = {id(a): t for a, t in zip(actions, trees_before(actions, recorded)) if t is not None} if recorded else None
    kf = keyframe_cfg or KeyframeConfig()
    source = provenance(session.meta)
    out = []
    for n, ep in enumerate(episodes):
        nxt = episodes[n + 1] if n + 1 < len(episodes) else None
        next_start = None
        if nxt is not None:
            first = nxt.actions[0]
            next_start = min(nxt.t_start, first.t_approach or first.t_start) - 1
        traj = build_trajectory(session.id, ep, screen, index, next_start, kf, trees)
        traj.source = source
        out.append(traj)
    return out


def provenance(meta: dict[str, Any]) -> dict[str, Any]:
    """What produced a session's data: the policy it was recorded (and redacted) under and
    the recorder's version. Redaction runs at the source, so the recorder version is the
    redaction version."""
    return {"policy_hash": meta.get("policy_hash") or "", "recorder_version":
            meta.get("workprint_version") or "", "jurisdiction": meta.get("jurisdiction") or ""}


#: Why a step is left out of an export (a count per reason goes into the summary).
DROP_NO_SCREENSHOT = "no screenshot before the action"
DROP_NO_FINAL_SCREENSHOT = "no screenshot after the last action (terminate step)"


def exportable(traj: Trajectory) -> tuple[Trajectory | None, dict[str, int]]:
    """The trajectory as exported: only steps that have their screenshot (the state before
    the action), re-indexed from 0, and a terminate step only for a labelled outcome
    (success or failure). Returns it (None if no step is left) and the drop counts by reason.
    """
    drops: dict[str, int] = {}
    kept: list[Step] = []
    for st in traj.steps:
        if st.action.kind == "end" and st.action.ok is None:
            continue                      # no labelled outcome: no terminate step at all
        if st.frame is None:
            why = DROP_NO_FINAL_SCREENSHOT if st.action.kind == "end" else DROP_NO_SCREENSHOT
            drops[why] = drops.get(why, 0) + 1
            continue
        kept.append(st)
    if all(st.action.kind == "end" for st in kept):
        return None, drops                # nothing but (at most) a terminate step left
    steps = [Step(i, st.action, st.frame, st.t_rel_s, st.code, st.structured, st.description,
                  st.observation, st.thought, st.element, st.a11y_tree) for i, st in enumerate(kept)]
    return Trajectory(traj.task_id, traj.instruction, traj.unlabelled, traj.ok, traj.screen,
                      steps, traj.source), drops


def load_cot(path: Path) -> dict[str, dict[int, dict[str, Any]]]:
    """Step values by task id and step index from an AgentNet JSONL that CoT synthesis
    (OpenCUA's gen_cot and its merge step) wrote from a workprint AgentNet export."""
    out: dict[str, dict[int, dict[str, Any]]] = {}
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"cannot read --cot file {path}: {exc.strerror}") from exc
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                steps = {int(st["index"]): st.get("value") or {} for st in rec.get("traj") or []}
                out[str(rec["task_id"])] = steps
            except (ValueError, KeyError, TypeError) as exc:
                raise ExportError(f"{path}:{n} is not an AgentNet trajectory record ({exc}); "
                                  f"give --cot the JSONL that gen_cot wrote.") from exc
    return out


def apply_cot(traj: Trajectory, cot: dict[str, dict[int, dict[str, Any]]]) -> int:
    """Fill observation, thought and action text of ``traj``'s steps from ``cot`` where the
    task id, step index and code all match; returns how many steps were filled."""
    steps = cot.get(traj.task_id)
    if not steps:
        return 0
    n = 0
    for st in traj.steps:
        v = steps.get(st.index)
        if not v or v.get("code") != st.code:
            continue
        st.observation = str(v.get("observation") or "")
        st.thought = str(v.get("thought") or "")
        if v.get("action"):
            st.description = str(v["action"])
        n += 1
    return n


def json_line(obj: Any) -> str:
    """One record as every export writes it: sorted keys, UTF-8 kept, no newline."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)


# --- images ------------------------------------------------------------------------------
class ImageEncoder:
    """Encodes stored frames deterministically and names them by content.

    ``jpeg``: quality 90, 4:4:4, no EXIF (fast); ``png``: compress level 1 (lossless).
    Keeps the last few encodings so consecutive steps on one screen encode once.
    A JPEG of a session that exposes its frames' tile grids (``frame_grid(frame_id)`` ->
    ``(width, height, tile, digests)`` and ``tile_data(digest)``) is composed from encoded
    tiles (:class:`~workprint.export.jpeg.TiledJpeg`: restart markers at tile edges), so a
    frame costs the encoding of the tiles it changed; other grids are encoded whole.
    """

    def __init__(self, fmt: str = "jpeg", cache: int = 16, keep_digests: bool = False):
        if fmt not in IMAGE_FORMATS:
            raise ExportError(f"unknown image format {fmt!r}; use one of {', '.join(IMAGE_FORMATS)}")
        self.fmt = fmt
        self.ext = "jpg" if fmt == "jpeg" else "png"
        self._cache: OrderedDict[tuple[str, str], tuple[str, bytes]] = OrderedDict()
        self._size = cache
        self._tiled = TiledJpeg() if fmt == "jpeg" else None
        #: with ``keep_digests``: file name -> full sha256 of each image encoded (the caller
        #: pops them; a dataset build lists every file with its hash)
        self.digests: dict[str, str] | None = {} if keep_digests else None

    def encode_image(self, img) -> bytes:
        buf = io.BytesIO()
        if self.fmt == "jpeg":
            save_jpeg(img, buf)
        else:
            img.save(buf, format="PNG", compress_level=1)
        return buf.getvalue()

    def frame_bytes(self, session, frame_id: str) -> bytes:
        """The encoded image of a stored frame (composed from tiles where it can be)."""
        if self._tiled is not None and hasattr(session, "frame_grid"):
            width, height, tile, digests = session.frame_grid(frame_id)
            data = self._tiled.encode(session.id, width, height, tile, digests, session.tile_data)
            if data is not None:
                return data
        return self.encode_image(session.frame_image(frame_id))

    def _encode_frame(self, session, frame_id: str) -> tuple[str, bytes]:
        data = self.frame_bytes(session, frame_id)
        digest = hashlib.sha256(data).hexdigest()
        name = digest[:32] + "." + self.ext
        if self.digests is not None:
            self.digests[name] = digest
        return name, data

    def stream(self, session, frames: Sequence[FrameRef | None],
               workers: int = 2, lookahead: int = 6) -> Iterator[tuple[str, bytes] | None]:
        """Encoded images for ``frames`` in order (None stays None). Assembly and encoding
        run in a small thread pool (Pillow releases the GIL) with bounded look-ahead; each
        distinct frame is encoded once and kept only until its last use."""
        keys = [f.frame_id if f is not None else None for f in frames]
        uniq = list(dict.fromkeys(k for k in keys if k is not None))
        pos = {k: i for i, k in enumerate(uniq)}
        last_use = {k: i for i, k in enumerate(keys) if k is not None}
        futures: dict[str, Future] = {}
        submitted = 0
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for i, k in enumerate(keys):
                if k is None:
                    yield None
                    continue
                while submitted < len(uniq) and submitted <= pos[k] + lookahead:
                    futures[uniq[submitted]] = pool.submit(self._encode_frame, session, uniq[submitted])
                    submitted += 1
                result = futures[k].result()
                if last_use[k] == i:
                    del futures[k]
                yield result

    def get(self, session, frame: FrameRef) -> tuple[str, bytes]:
        """(file name, encoded bytes) of a frame of ``session``."""
        key = (session.id, frame.frame_id)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        name, data = self._encode_frame(session, frame.frame_id)
        self._cache[key] = (name, data)
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return name, data


# --- output folder -----------------------------------------------------------------------
def prepare_out(out: Path) -> Path:
    """Create ``out`` (empty) or clear a previous workprint export in it."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise ExportError(f"{out} exists and is not a folder; choose another --out.")
        entries = list(out.iterdir())
        if entries and not (out / MARKER).exists():
            raise ExportError(
                f"{out} is not empty and was not written by `workprint export`; choose an "
                f"empty or new folder for --out.")
        for p in entries:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("workprint export folder; `workprint export` may replace it\n")
    return out
