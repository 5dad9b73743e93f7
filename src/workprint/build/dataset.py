"""Building, listing and rebuilding dataset versions over a collector's store.

:func:`build_dataset` is the driver: it plans the complete sessions (sorted), runs the
session stage on the engine, keeps trajectories in (pseudonym, trajectory) order, drops
duplicates, cuts shards, runs the shard stage, writes the format's side files and
``manifest.json``, registers the version (and the sessions it holds) in the collector's
metadata store, and writes one audit entry. A version lives in ``OUT/v<NNNN>/``.

:func:`rebuild_dataset` answers erasure: a new version of a dataset from the sessions of
its latest version that are still in the store, with the same parameters, then deletes
every version that holds an erased session (files and registry rows), audited.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

from ..errors import BuildError, EmptyDatasetError
from ..export.aguvis import system_message
from ..server.collector import Collector
from ..server.config import CollectorConfig
from . import manifest as M
from .engine import make_engine
from .output import open_output, split_location
from .filters import DUPLICATE, Filters, k_anonymous, session_passes
from .shards import SHARD_BYTES, SHARD_STEPS, TrajRef, finish, functions_in_order, image_folder, plan_shards, shard_name
from .source import plan_sessions
from .stages import session_stage, shard_stage

STAGING = ".staging"
ACTOR = "cli:build"


def _reduce_for(meta):
    """Reduction thresholds of the policy a session was recorded under (its ``[actions]``),
    as the device export would use them; the built-in defaults for an unknown policy."""
    from ..actions.reduce import ReduceConfig
    from ..errors import PolicyError
    from ..policy.model import parse_policy

    cache: dict[str, tuple] = {}

    def get(policy_hash: str) -> tuple:
        if policy_hash not in cache:
            body = meta.policy_body(policy_hash)
            cfg = ReduceConfig()
            if body is not None:
                try:
                    cfg = ReduceConfig.from_policy(parse_policy(body, source="published policy"))
                except PolicyError:
                    pass
            cache[policy_hash] = tuple((k, getattr(cfg, k)) for k in
                                       ("multi_click_s", "multi_click_px", "drag_px", "wait_s"))
        return cache[policy_hash]
    return get


def version_key(version: int) -> str:
    return f"v{version:04d}"


def build_dataset(config: CollectorConfig, *, name: str, fmt: str, out: Path | str,
                  engine: str = "local", workers: int = 1, ray_address: str | None = None,
                  filters: Filters = Filters(), image_format: str = "jpeg",
                  shard_steps: int = SHARD_STEPS, shard_bytes: int = SHARD_BYTES,
                  only_sessions: set[str] | None = None, actor: str = ACTOR,
                  collector: Collector | None = None,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Build a new version of dataset ``name`` into ``out/v<N>`` (``out`` a folder or an
    ``s3://`` URL, see :mod:`.output`); returns its manifest plus ``location``.
    ``progress(done, total)`` counts the sessions read, reduced and encoded (the bulk of
    the work) as the engine finishes them."""
    from ..export import FORMATS
    from ..export.common import IMAGE_FORMATS

    if fmt not in FORMATS:
        raise BuildError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if image_format not in IMAGE_FORMATS:
        raise BuildError(f"unknown image format {image_format!r}; use one of {', '.join(IMAGE_FORMATS)}")
    if shard_steps < 1 or shard_bytes < 1:
        raise BuildError("shard bounds must be positive")
    if fmt == "hf":
        from ..extras import require

        require("pyarrow", "export", "the hf format")
    eng = make_engine(engine, workers, ray_address)
    own = collector is None
    coll = collector or Collector(config)
    try:
        store = open_output(out, coll.config.blobs_url)
    except BaseException:
        if own:
            coll.close()
        raise
    params = {"format": fmt, "image_format": image_format, "filters": filters.to_dict(),
              "shard_steps": shard_steps, "shard_bytes": shard_bytes}
    version = coll.meta.reserve_dataset_version(name, store.url, params)
    vkey = version_key(version)
    try:
        if store.keys(vkey + "/"):
            raise BuildError(f"{store.location(vkey)} already exists and is not empty; the registry and "
                             f"the output disagree - move it away or choose another --out")
        result = _build(coll, eng, store, name=name, version=version, fmt=fmt, vkey=vkey, filters=filters,
                        image_format=image_format, shard_steps=shard_steps, shard_bytes=shard_bytes,
                        only_sessions=only_sessions, progress=progress)
    except BaseException:
        coll.meta.discard_dataset_version(name, version)
        store.delete_prefix(vkey + "/")
        if own:
            coll.close()
        raise
    try:
        man, kept_sessions = result
        coll.meta.finish_dataset_version(name, version, store.location(vkey), man["content_digest"],
                                         kept_sessions)
        coll.audit(actor, "dataset.build", f"{name}@v{version}", format=fmt, engine=man["engine"],
                   sessions=len(kept_sessions), steps=man["counts"]["steps"],
                   content_digest=man["content_digest"])
    finally:
        if own:
            coll.close()
    return {**man, "location": store.location(vkey)}      # where it went (not in the file)


def _build(coll: Collector, eng, store, *, name: str, version: int, fmt: str, vkey: str, filters: Filters,
           image_format: str, shard_steps: int, shard_bytes: int,
           only_sessions: set[str] | None,
           progress: Callable[[int, int], None] | None = None) -> tuple[dict[str, Any], list[str]]:
    plans, owners = plan_sessions(coll.meta, reduce_for=_reduce_for(coll.meta))
    plans = [p for p in plans if session_passes(p.received_day, filters)
             and (only_sessions is None or p.session in only_sessions)]
    staging = f"{vkey}/{STAGING}"
    folder = image_folder(fmt)
    images_rel = folder or f"{STAGING}/images"
    base = {"blobs": coll.config.blobs_url, "filters": filters.to_dict(), "image_format": image_format,
            "out": store.spec, "images": f"{vkey}/{images_rel}", "images_rel": images_rel,
            "list_images": bool(folder), "staging": staging}
    listing: dict[str, dict[str, Any]] = {}
    with eng:
        results = eng.map(session_stage, [{**base, "plan": p.to_dict()} for p in plans], progress)
        results.sort(key=lambda r: r["session"])

        # Keep in build order; identical trajectories once (the first).
        refs: list[TrajRef] = []
        kept_info: list[dict[str, Any]] = []
        seen: set[str] = set()
        filtered: dict[str, int] = {}
        drops: dict[str, int] = {}
        dropped_trajectories = 0
        skipped = []
        code: dict[str, dict[str, list]] = {}
        for r in results:
            if r["error"]:
                skipped.append({"pseudonym": r["session"], "error": r["error"]})
            for why, n in r["filtered"].items():
                filtered[why] = filtered.get(why, 0) + n
            for why, n in r["drops"].items():
                drops[why] = drops.get(why, 0) + n
            dropped_trajectories += r["dropped_trajectories"]
            code[r["session"]] = r.get("code") or {}
            for path, digest, size in r.pop("files"):          # held once, in the listing
                listing[path] = {"path": path, "size": size, "sha256": digest}
            for t in sorted(r["trajectories"], key=lambda t: t["index"]):
                if filters.dedupe and t["key"] in seen:
                    filtered[DUPLICATE] = filtered.get(DUPLICATE, 0) + 1
                    continue
                seen.add(t["key"])
                refs.append(TrajRef(r["session"], t["index"], t["steps"], t["image_bytes"]))
                kept_info.append(t)
        if not refs:
            raise EmptyDatasetError(
                f"no trajectory is left to build from {len(plans)} complete session(s)"
                + (f" ({sum(filtered.values())} left out by filters: "
                   + "; ".join(f"{n} {w}" for w, n in sorted(filtered.items())) + ")" if filtered else "")
                + (f"; {len(skipped)} session(s) failed verification" if skipped else "")
                + ". Check the filters, or wait until devices uploaded approved sessions.")

        shards = plan_shards(refs, shard_steps, shard_bytes)
        files = [shard_name(fmt, k, len(shards)) for k in range(len(shards))]
        system = system_message(functions_in_order(t["functions"] for t in kept_info)) if fmt == "aguvis" else ""
        written = eng.map(shard_stage, [
            {"format": fmt, "out": store.spec, "key": f"{vkey}/{f}", "rel": f,
             "refs": [[r.session, r.index] for r in shard], "staging": staging,
             "images": base["images"], "system": system}
            for f, shard in zip(files, shards)])
    store.delete_prefix(staging + "/")
    for w in written:
        listing[w["path"]] = {"path": w["path"], "size": w["size"], "sha256": w["sha256"]}

    sessions_kept = sorted({r.session for r in refs})
    sources: dict[tuple[str, str], int] = {}
    for t in kept_info:
        key = (t["source"][0], t["source"][1])
        sources[key] = sources.get(key, 0) + 1
    steps = sum(r.steps for r in refs)
    side = finish(fmt, store.location(vkey), files, rows=steps, num_bytes=sum(w["num_bytes"] for w in written),
                  trajectories=len(refs), unlabelled=sum(1 for t in kept_info if t["unlabelled"]),
                  sources=sources)
    for rel, text in side.items():
        data = text.encode("utf-8")
        store.put(f"{vkey}/{rel}", data)
        listing[rel] = {"path": rel, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    listing = [listing[p] for p in sorted(listing)]
    k = coll.config.k_anonymity
    contributors = len({owners[s] for s in sessions_kept})
    by_policy: dict[str, set[str]] = {}
    steps_by_policy: dict[str, int] = {}
    plan_policy = {p.session: p.policy_hash for p in plans}
    for r in refs:
        ph = plan_policy[r.session]
        by_policy.setdefault(ph, set()).add(owners[r.session])
        steps_by_policy[ph] = steps_by_policy.get(ph, 0) + r.steps
    counts = {
        "sessions": len(sessions_kept), "trajectories": len(refs), "steps": steps,
        "images": sum(1 for f in listing if f["path"].startswith("images/")) if folder else steps,
        "shards": len(files),
        "contributors": k_anonymous(contributors, contributors, k),
        "by_policy": [{"policy_hash": ph, "steps": k_anonymous(steps_by_policy[ph], len(c), k)}
                      for ph, c in sorted(by_policy.items())],
        "k": k,
        "left_out": {"by_filter": dict(sorted(filtered.items())),
                     "steps_without_screenshot": dict(sorted(drops.items())),
                     "trajectories_without_steps": dropped_trajectories,
                     "sessions_failed_verification": skipped},
    }
    chunks = {p.session: list(p.chunks) for p in plans}
    man = M.make_manifest(
        dataset=name, version=version, created=M.created_time(), fmt=fmt, image_format=image_format,
        engine=eng.describe(), filters=filters.to_dict(), counts=counts,
        data_code=_data_code(code[s] for s in sessions_kept),
        policies=sorted({plan_policy[s] for s in sessions_kept}), files=listing,
        sessions=[(s, chunks[s]) for s in sessions_kept],
        shard_bounds={"max_steps": shard_steps, "max_image_bytes": shard_bytes})
    store.put(f"{vkey}/{M.NAME}", M.dumps(man).encode("utf-8"))       # last: the version is whole
    return man, sessions_kept


def _data_code(per_session) -> dict[str, list]:
    merged: dict[str, set] = {}
    for c in per_session:
        for key, values in c.items():
            merged.setdefault(key, set()).update(values)
    return {k: sorted(v) for k, v in sorted(merged.items())}


def list_datasets(config: CollectorConfig, name: str | None = None) -> list[dict[str, Any]]:
    coll = Collector(config)
    try:
        return [{k: v for k, v in d.items() if k != "params"} | {"format": d["params"]["format"]}
                for d in coll.meta.dataset_versions(name)]
    finally:
        coll.close()


#: What happens to a version that held erased sessions (``--withdraw``): its objects are
#: deleted either way; ``tombstone`` leaves ``TOMBSTONE.json`` in its place (see :func:`tombstone`).
WITHDRAW = ("delete", "tombstone")
TOMBSTONE = "TOMBSTONE.json"


def tombstone(manifest: dict[str, Any], *, withdrawn: str, reason: str, replaced_by: str | None) -> dict[str, Any]:
    """What a withdrawn version leaves behind: that the version existed (id, when it was
    built, its content digest - so a copy someone kept can be recognised as withdrawn),
    when and why it was withdrawn and what replaces it. Nothing about what it held: no
    sessions, no pseudonyms, no file names (image names are content hashes), no counts."""
    return {"format": "workprint-dataset-tombstone", "dataset": manifest["dataset"],
            "version": manifest["version"], "id": manifest["id"], "created": manifest["created"],
            "content_digest": manifest["content_digest"], "withdrawn": withdrawn, "reason": reason,
            "replaced_by": replaced_by}


def rebuild_dataset(config: CollectorConfig, name: str, *, engine: str = "local", workers: int = 1,
                    ray_address: str | None = None, actor: str = ACTOR,
                    withdraw: str | None = None) -> dict[str, Any]:
    """A new version of ``name`` without erased sessions; then the versions that held
    erased sessions are withdrawn: every object of theirs deleted, and with ``withdraw=
    "tombstone"`` (default: the collector's ``dataset_withdrawal``) a ``TOMBSTONE.json`` left
    in their place. Returns ``{"built": manifest or None, "deleted": [versions],
    "withdraw": how}`` (built None when nothing is left without the erased sessions)."""
    withdraw = withdraw or config.dataset_withdrawal
    if withdraw not in WITHDRAW:
        raise BuildError(f"--withdraw {withdraw!r}: choose {' or '.join(WITHDRAW)}")
    coll = Collector(config)
    try:
        versions = [d for d in coll.meta.dataset_versions(name) if d["state"] == "built"]
        if not versions:
            raise BuildError(f"no built dataset named {name!r}; list them with `workprint build --list`")
        latest = versions[-1]
        affected = sorted({v["version"] for v in versions if v["rebuild_due"] is not None}
                          | set(coll.meta.datasets_with_erased_sessions(name)))
        held = set(coll.meta.dataset_sessions(name, latest["version"]))
        p = latest["params"]
        try:
            man: dict[str, Any] | None = build_dataset(
                config, name=name, fmt=p["format"], out=split_location(latest["location"])[0],
                engine=engine, workers=workers, ray_address=ray_address,
                filters=Filters.from_dict(p["filters"]), image_format=p["image_format"],
                shard_steps=p["shard_steps"], shard_bytes=p["shard_bytes"],
                only_sessions=held, actor=actor, collector=coll)
        except EmptyDatasetError:
            man = None                     # nothing left without the erased: only withdraw
        replaced_by = f"{name}@v{man['version']}" if man else None
        deleted = []
        for v in versions:
            if v["version"] in affected:
                left = _withdraw_version(v["location"], name, v["version"], coll.config.blobs_url,
                                         withdraw, replaced_by)
                coll.meta.delete_dataset_version(name, v["version"],
                                                 state="withdrawn" if left else "deleted")
                coll.audit(actor, "dataset.withdraw" if left else "dataset.delete", f"{name}@v{v['version']}",
                           reason="held erased sessions", replaced_by=replaced_by or "nothing (no data left)",
                           **({"tombstone": left} if left else {}))
                deleted.append(v["version"])
        return {"built": man, "deleted": deleted, "withdraw": withdraw}
    finally:
        coll.close()


def _withdraw_version(location: str, name: str, version: int, blobs_url: str, how: str,
                      replaced_by: str | None) -> str | None:
    """Delete every object of a version - only when its manifest says it is that version -
    and, with ``how="tombstone"``, write its tombstone; returns the tombstone's location."""
    import json

    root, vkey = split_location(location)
    store = open_output(root, blobs_url)
    if not store.keys(vkey + "/"):
        return None
    where = store.location(f"{vkey}/{M.NAME}")
    try:
        m = json.loads(store.get(f"{vkey}/{M.NAME}"))
    except (KeyError, ValueError):
        raise BuildError(f"{where} is missing or unreadable; not deleting objects that may not be "
                         f"dataset {name} version {version} - check and remove them by hand") from None
    if m.get("dataset") != name or m.get("version") != version:
        raise BuildError(f"{where} names {m.get('dataset')}@v{m.get('version')}, not {name}@v{version}; "
                         f"not deleted")
    store.delete_prefix(vkey + "/")
    if how != "tombstone":
        return None
    stone = tombstone(m, withdrawn=M.created_time(), reason="held sessions of an erased contributor",
                      replaced_by=replaced_by)
    store.put(f"{vkey}/{TOMBSTONE}", M.dumps(stone).encode("utf-8"))
    return store.location(f"{vkey}/{TOMBSTONE}")
