"""Retraining an endpoint's model from what it saw (issue 16, part 3).

:func:`prepare` gathers the endpoint's labelled captures (every variant), holds out the newest
share and writes the challenger's training file (the original rows plus the older labelled
captures) and the held-out rows under ``<data>/retrain/<endpoint>/<id>/``; :func:`record`
keeps the retraining's record there (``retrain.json``) with a ``pending`` marker.

Once the challenger's job has ended, the job runner finishes the retraining
(:func:`follow_up_all`, from its monitoring thread): it scores the champion and the
challenger's winner on the held-out rows
(:func:`automl.monitoring.retrain.compare_on_holdout`), keeps the result beside them, and puts
the challenger in as the request asked (``then``): as the shadow variant, as a weighted
production variant, or in the champion's place when it is better by the stated margin. The
marker is locked while a runner works on it and removed when the record is final, so two
runners never finish one retraining twice, and a runner killed midway leaves it to the next.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
import uuid
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from automl.data.intake import read_table
from automl.deploy import bundle_dir, winner_id
from automl.endpoint_monitor import capture_root
from automl.exceptions import AutoMLError, Conflict, NotFound, ServerFault
from automl.model.bundle import ModelBundle
from automl.monitoring.capture import DEFAULT_VARIANT
from automl.monitoring.quality import GroundTruthStore
from automl.monitoring.reader import read_window
from automl.monitoring.retrain import (
    HOLDOUT_SHARE,
    RetrainData,
    compare_on_holdout,
    first_copies,
    labelled_captures,
    retraining_data,
)
from automl.service_config import ServiceSettings
from automl.serving.compat import check_schema, facts
from automl.serving.server import load_bundle
from automl.store import COMPLETED, FINISHED, JobStore
from automl.store.datasets import register_dataset
from automl.store.endpoints import EndpointStore, lock
from automl.store.files import job_dir
from automl.store.monitoring import MonitoringStore
from automl.store.variants import PRODUCTION, SHADOW, VariantStore

log = logging.getLogger("automl.retrain")
PENDING = "pending"
TRAINING, FINISHING, DONE, FAILED = "training", "finishing", "completed", "failed"
TRIGGERS = {"drift": {"baseline_drift_check", "prediction_drift_check",
                      "feature_attribution_drift_check"},
            "quality": {"model_quality_check"}}
"""What an automatic retraining may be asked to follow: the checks of a monitoring run that
count as drift and as a quality drop."""
THEN = ("shadow", "variant", "replace")
"""What may happen to the challenger once compared: the shadow variant (a copy of a share of
the requests), a weighted production variant, or the champion's place (only when better by the
stated margin)."""


def start(store: JobStore, settings: ServiceSettings, endpoint: str, request: dict,
          trigger: dict | None = None, bundle: ModelBundle | None = None) -> dict:
    """Start a retraining of ``endpoint``: check ``then``, write the challenger's training data
    (:func:`prepare`), register it as a dataset and queue a job with the champion job's
    settings (``time_budget`` replaced when given). ``request``: the fields of a retrain
    request (``holdout_share``, ``time_budget``, ``then`` and its own); ``trigger``: why, when
    the runner started it; ``bundle``: the endpoint's, when the caller has it loaded.
    Returns the retraining's record."""
    row = EndpointStore(store.engine).get(endpoint)
    retrain_id = new_id()
    then = then_record(request, retrain_id)
    if then is not None and trigger is not None and then["action"] != "replace":
        then["replaces"] = earlier_automatic(settings.data_dir, endpoint, store.engine)
    check_then(store.engine, endpoint, then)
    champion = store.get_job(row["job_id"])
    original = store.get_dataset(champion["dataset_id"])["path"]
    if not Path(original).is_file():
        log.error("the stored file of dataset %s is missing: %s", champion["dataset_id"], original)
        raise ServerFault(f"the training data of job '{champion['id']}' is missing on the "
                          "server; an operator must restore it", {"job_id": champion["id"]})
    bundle = bundle or load_bundle(row["bundle_path"])
    _, data, train = prepare(settings.data_dir, endpoint, bundle, original,
                             request.get("holdout_share") or HOLDOUT_SHARE, retrain_id)
    with open(train, "rb") as handle:
        dataset = register_dataset(store, settings.data_dir, handle, f"{endpoint}-{retrain_id}.csv",
                                   settings.max_upload_bytes, settings.max_columns)
    job_settings = dict(champion["settings"])
    if request.get("time_budget") is not None:
        job_settings["time_budget"] = float(request["time_budget"])
    job = store.create_job(dataset["id"], champion["target"], job_settings)
    meta = {"id": retrain_id, "endpoint": endpoint, "job_id": job["id"],
            "champion": {"job_id": row["job_id"], "candidate_id": row["candidate_id"]},
            "metric": champion["metric"], "then": then, "trigger": trigger,
            "created_at": time.time(), **data.summary()}
    record(settings.data_dir, endpoint, retrain_id, meta)
    return meta


def then_record(request: dict, retrain_id: str) -> dict | None:
    """A request's ``then`` with its defaults filled in, as the record keeps it: the variant's
    name (``rt-<id>``), the shadow's share (1), the variant's weight (1), the margin (0)."""
    action = request.get("then")
    if action is None:
        return None
    given = {k: request.get(k) for k in ("variant_name", "share", "weight", "min_improvement")}
    return {"action": action, "accept_schema_change": bool(request.get("accept_schema_change")),
            "variant": (given["variant_name"] or f"rt-{retrain_id.removeprefix('rt_')}")
            if action != "replace" else None,
            "share": (given["share"] or 1.0) if action == "shadow" else None,
            "weight": (1.0 if given["weight"] is None else given["weight"])
            if action == "variant" else None,
            "min_improvement": (given["min_improvement"] or 0.0) if action == "replace" else None}


def after_run(store: JobStore, settings: ServiceSettings, run: dict) -> dict | None:
    """After a completed monitoring run of an endpoint's primary: start the automatic
    retraining its settings ask for (``retrain``: a retrain request with ``on`` and
    ``min_interval_s``) if the run found what it follows, none is under way and the last
    automatic one is at least ``min_interval_s`` old. The run's summary records what happened
    (``retrain``); None when the run called for nothing."""
    if run["status"] != "completed" or run.get("variant", DEFAULT_VARIANT) != DEFAULT_VARIANT:
        return None
    monitoring = MonitoringStore(store.engine)
    auto = (monitoring.settings(run["endpoint"]) or {}).get("retrain")
    found = set((run.get("summary") or {}).get("violated_checks") or [])
    reasons = [on for on in (auto or {}).get("on", []) if found & TRIGGERS.get(on, set())]
    if not reasons:
        return None
    note = _not_now(settings.data_dir, run["endpoint"], auto)
    if note is None:
        try:
            meta = start(store, settings, run["endpoint"], auto,
                         trigger={"run_id": run["id"], "reasons": reasons})
            note = {"started": True, "id": meta["id"], "message": "retraining "
                    f"{meta['id']} started on {' and '.join(reasons)}"}
        except AutoMLError as exc:
            note = {"started": False, "message": "the automatic retraining could not start: "
                    + exc.message}
    monitoring.annotate_run(run["id"], retrain=note)
    return note


def _not_now(data_dir, endpoint: str, auto: dict) -> dict | None:
    """Why no automatic retraining starts now, or None."""
    recent = list_meta(data_dir, endpoint, limit=50)
    running = [m["id"] for m in recent if m.get("state") not in (DONE, FAILED)]
    if running:
        return {"started": False, "message": f"retraining {running[0]} is under way"}
    last = max((m.get("created_at") or 0 for m in recent if m.get("trigger")), default=0)
    wait = last + auto.get("min_interval_s", 86400) - time.time()
    if wait > 0:
        return {"started": False, "message": "the last automatic retraining started less than "
                f"min_interval_s ago (next one possible in {wait / 3600:.1f} h)"}
    return None


def retrain_dir(data_dir: str | Path, endpoint: str, retrain_id: str) -> Path:
    return Path(data_dir) / "retrain" / endpoint / retrain_id


def new_id() -> str:
    return f"rt_{uuid.uuid4().hex[:12]}"


def prepare(data_dir: str | Path, endpoint: str, bundle: ModelBundle, original: str | Path,
            holdout_share: float = HOLDOUT_SHARE,
            retrain_id: str | None = None) -> tuple[str, RetrainData, Path]:
    """(retrain id, the material, the challenger's training CSV)."""
    labelled = _labelled(data_dir, endpoint, bundle)
    data = retraining_data(read_table(original), labelled, bundle.schema.target, holdout_share)
    retrain_id = retrain_id or new_id()
    directory = retrain_dir(data_dir, endpoint, retrain_id)
    directory.mkdir(parents=True)
    train = directory / "train.csv"
    data.train.to_csv(train, index=False)
    data.holdout.to_csv(directory / "holdout.csv", index=False)
    return retrain_id, data, train


def _labelled(data_dir, endpoint: str, bundle: ModelBundle) -> pd.DataFrame:
    """Labelled captures of every variant of the endpoint, oldest first."""
    truth = GroundTruthStore(Path(data_dir) / "ground-truth" / endpoint).load()
    root = capture_root(data_dir) / endpoint
    variants = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    windows = first_copies([read_window(v, bundle.schema.names,
                                        bundle.metadata.get("input_columns"))
                            for v in sorted(variants, key=lambda p: p.name != DEFAULT_VARIANT)])
    parts = [labelled_captures(w, truth, bundle.schema.target, bundle.task, bundle.classes)
             for w in windows]
    if not parts:
        return labelled_captures_empty(bundle)
    rows = pd.concat(parts, ignore_index=True)
    return rows.sort_values("_inference_time", kind="stable").reset_index(drop=True)


def labelled_captures_empty(bundle: ModelBundle) -> pd.DataFrame:
    return pd.DataFrame(columns=[*bundle.schema.names, bundle.schema.target, "_inference_time"])


def record(data_dir, endpoint: str, retrain_id: str, meta: dict) -> None:
    """Keep a new retraining's record, pending until the runner finishes it."""
    save_meta(data_dir, endpoint, retrain_id, meta)
    (retrain_dir(data_dir, endpoint, retrain_id) / PENDING).touch()


def save_meta(data_dir, endpoint: str, retrain_id: str, meta: dict) -> None:
    _write_json(retrain_dir(data_dir, endpoint, retrain_id) / "retrain.json", meta)


def _write_json(path: Path, value: dict) -> None:
    """Write whole or not at all (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}")
    tmp.write_text(json.dumps(value, indent=2, default=str))
    os.replace(tmp, path)


def load_meta(data_dir, endpoint: str, retrain_id: str) -> dict:
    """The record of one retraining; :class:`NotFound` when there is none by that id."""
    if not isinstance(retrain_id, str) or not retrain_id.startswith("rt_") or "/" in retrain_id:
        raise NotFound(f"endpoint '{endpoint}' has no retraining '{retrain_id}'")
    path = retrain_dir(data_dir, endpoint, retrain_id) / "retrain.json"
    if not path.is_file():
        raise NotFound(f"endpoint '{endpoint}' has no retraining '{retrain_id}'",
                       {"endpoint": endpoint, "retrain_id": retrain_id})
    return json.loads(path.read_text())


def list_meta(data_dir, endpoint: str, limit: int = 20) -> list[dict]:
    """The endpoint's newest ``limit`` retraining records, newest first."""
    root = Path(data_dir) / "retrain" / endpoint
    paths = sorted(root.glob("rt_*/retrain.json"), key=lambda p: p.stat().st_mtime,
                   reverse=True) if root.is_dir() else []
    found = [json.loads(p.read_text()) for p in paths[:limit]]
    return sorted(found, key=lambda m: m.get("created_at") or 0, reverse=True)


def comparison(data_dir, endpoint: str, retrain_id: str) -> dict | None:
    """The champion-challenger comparison, once the runner computed it."""
    path = retrain_dir(data_dir, endpoint, retrain_id) / "comparison.json"
    return json.loads(path.read_text()) if path.is_file() else None


def compare(data_dir, endpoint: str, retrain_id: str, champion: ModelBundle,
            challenger: ModelBundle, metric: str) -> dict:
    """Champion against challenger on the held-out rows; computed once and kept."""
    done = comparison(data_dir, endpoint, retrain_id)
    if done is not None:
        return done
    directory = retrain_dir(data_dir, endpoint, retrain_id)
    holdout = read_table(directory / "holdout.csv")
    result = compare_on_holdout(champion, challenger, holdout, metric)
    _write_json(directory / "comparison.json", result)
    return result


# what follows the challenger's job (the runner) ---------------------------------------------

def check_then(engine: Engine, endpoint: str, then: dict | None) -> None:
    """Refuse at once what would fail when the challenger goes in: a variant name taken or
    invalid, or a second shadow (checked again then: the variants may change meanwhile); the
    earlier automatic challenger it replaces (``replaces``) is no obstacle."""
    if then and then["action"] != "replace":
        role = SHADOW if then["action"] == "shadow" else PRODUCTION
        VariantStore(engine).check_free(endpoint, then["variant"], role, then.get("replaces"))


def earlier_automatic(data_dir, endpoint: str, engine: Engine) -> str | None:
    """The variant an earlier automatic retraining put in that still serves beside the primary
    (never promoted, never removed): the next automatic challenger takes its place, so automatic
    retrainings neither pile up variants nor find the shadow's place or their name taken."""
    serving = {v["variant"] for v in VariantStore(engine).list(endpoint) if not v["primary"]}
    for meta in list_meta(data_dir, endpoint, limit=50):
        outcome = meta.get("outcome") or {}
        if meta.get("trigger") and outcome.get("done") and outcome.get("variant") in serving:
            return outcome["variant"]
    return None


def mark_unfinished(data_dir) -> int:
    """Mark pending the retrainings recorded before the runner finished them (their records
    have no ``state`` and no marker: the comparison was made on the first GET then); the runner
    calls it as it starts. Returns how many."""
    marked = 0
    for path in (Path(data_dir) / "retrain").glob("*/rt_*/retrain.json"):
        marker = path.parent / PENDING
        if not marker.exists() and "state" not in json.loads(path.read_text()):
            marker.touch()
            marked += 1
    return marked


def follow_up_all(store: JobStore, data_dir) -> list[dict]:
    """Finish every pending retraining whose challenger's job has ended; returns their final
    records. A retraining that cannot be finished is recorded as failed, never retried forever."""
    finished = []
    for marker in sorted((Path(data_dir) / "retrain").glob(f"*/rt_*/{PENDING}")):
        endpoint, retrain_id = marker.parent.parent.name, marker.parent.name
        try:
            meta = follow_up(store, data_dir, endpoint, retrain_id)
        except Exception as exc:  # noqa: BLE001 - one broken retraining must not stop others
            log.exception("retraining %s of endpoint %s could not be finished", retrain_id,
                          endpoint)
            meta = _give_up(data_dir, endpoint, retrain_id, exc)
        if meta is not None:
            finished.append(meta)
    return finished


def follow_up(store: JobStore, data_dir, endpoint: str, retrain_id: str) -> dict | None:
    """Finish one retraining if its job has ended and no other runner is at it: compare, put
    the challenger in as asked, record the result. None while there is nothing to do."""
    directory = retrain_dir(data_dir, endpoint, retrain_id)
    with _claimed(directory / PENDING) as claimed:
        if not claimed:
            return None
        meta = load_meta(data_dir, endpoint, retrain_id)
        if meta.get("state") not in (DONE, FAILED):
            job = _job(store, meta["job_id"])
            if job is not None and job["status"] not in FINISHED:
                return None
            meta = {**meta, **_finish(store.engine, data_dir, meta, job),
                    "finished_at": time.time()}
            save_meta(data_dir, endpoint, retrain_id, meta)
        (directory / PENDING).unlink(missing_ok=True)
        return meta


@contextlib.contextmanager
def _claimed(marker: Path):
    """True inside while this process holds the marker's lock; False when it is gone or
    another process holds it (the lock goes with the process, so a killed runner frees it)."""
    try:
        handle = open(marker)  # noqa: SIM115 - held for the whole block
    except FileNotFoundError:
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def _job(store: JobStore, job_id: str) -> dict | None:
    try:
        return store.get_job(job_id)
    except NotFound:
        return None


def _give_up(data_dir, endpoint: str, retrain_id: str, exc: Exception) -> dict | None:
    try:
        meta = load_meta(data_dir, endpoint, retrain_id)
        meta.update(state=FAILED, finished_at=time.time(), error={
            "code": "internal_error", "message": f"finishing the retraining failed "
            f"({type(exc).__name__}); the runner's log says why; start another retraining"})
        save_meta(data_dir, endpoint, retrain_id, meta)
        (retrain_dir(data_dir, endpoint, retrain_id) / PENDING).unlink(missing_ok=True)
        return meta
    except Exception:  # noqa: BLE001 - the record itself is unreadable: leave it
        log.exception("cannot record the failure of retraining %s", retrain_id)
        return None


def _finish(engine: Engine, data_dir, meta: dict, job: dict | None) -> dict:
    """The record's final fields: state, challenger, outcome (of ``then``) or error."""
    if job is None or job["status"] != COMPLETED:
        status = job["status"] if job else "deleted"
        reason = ((job or {}).get("error") or {}).get("message")
        return _failed("challenger_failed", f"the challenger's job '{meta['job_id']}' was "
                       f"{status}{': ' + reason if reason else ''}; nothing to compare; start "
                       "another retraining")
    directory = job_dir(data_dir, job["id"])
    cid = winner_id(directory)
    if cid is None:
        return _failed("challenger_failed", f"the challenger's job '{job['id']}' completed "
                       "without a model; start another retraining")
    champion, path = meta["champion"], bundle_dir(directory, cid)
    try:
        old = load_bundle(bundle_dir(job_dir(data_dir, champion["job_id"]),
                                     champion["candidate_id"]))
        new = load_bundle(path)
    except AutoMLError:
        return _failed("model_unavailable", "the champion's or the challenger's model cannot "
                       "be loaded (the runner's log says why); start another retraining")
    result = compare(data_dir, meta["endpoint"], meta["id"], old, new, meta["metric"])
    ref = {"job_id": job["id"], "candidate_id": cid}
    then = meta.get("then")
    outcome = (put_in(engine, meta["endpoint"], then, champion, ref, new, path, result)
               if then else None)
    return {"state": DONE, "challenger": ref, "outcome": outcome}


def _failed(code: str, message: str) -> dict:
    return {"state": FAILED, "error": {"code": code, "message": message}}


def put_in(engine: Engine, endpoint: str, then: dict, champion: dict, challenger: dict,
           bundle: ModelBundle, path: Path, result: dict) -> dict:
    """Put the compared challenger in as ``then`` asks; the outcome says what happened and,
    when nothing did, why (a variant name taken meanwhile, other input columns not accepted,
    an improvement below the margin, the endpoint changed or deleted)."""
    action = then["action"]
    try:
        if action == "replace":
            return _replace(engine, endpoint, then, champion, challenger, bundle, path, result)
        return _add_variant(engine, endpoint, then, champion, challenger, bundle, path)
    except AutoMLError as exc:
        return {"action": action, "done": False,
                "message": f"the challenger was not put in: {exc.message}"}


def _add_variant(engine: Engine, endpoint: str, then: dict, champion: dict, challenger: dict,
                 bundle: ModelBundle, path: Path) -> dict:
    """Add the challenger as the shadow or a production variant, if the endpoint still serves
    the champion it was compared with (the comparison says nothing of another model)."""
    variants = VariantStore(engine)
    name, shadow = then["variant"], then["action"] == "shadow"
    there = {v["variant"]: v for v in variants.list(endpoint)}.get(name)
    if there is None or there["bundle_path"] != str(path):  # else: added before a crash
        row = EndpointStore(engine).get(endpoint)
        _refuse_another(endpoint, row, champion)  # before any removal; again as it is added
        served = load_bundle(row["bundle_path"])
        check_schema(endpoint, facts(served)["input_schema"], facts(bundle)["input_schema"],
                     then["accept_schema_change"])
        _remove_replaced(variants, endpoint, then.get("replaces"))
        variants.add(endpoint, name, SHADOW if shadow else PRODUCTION,
                     then["share"] if shadow else then["weight"], challenger["job_id"],
                     challenger["candidate_id"], str(path),
                     also=_still_serving(endpoint, champion))
    what = (f"the shadow variant '{name}' (a copy of {then['share']:.0%} of the requests)"
            if shadow else f"the production variant '{name}' (weight {then['weight']:g})")
    if then.get("replaces"):
        what += f", in place of the earlier automatic challenger '{then['replaces']}'"
    return {"action": then["action"], "done": True, "variant": name,
            "message": f"the challenger serves as {what}"}


def _remove_replaced(variants: VariantStore, endpoint: str, replaced: str | None) -> None:
    """Remove the earlier automatic challenger unless it has become the primary since."""
    current = {v["variant"]: v for v in variants.list(endpoint)}
    if replaced in current and not current[replaced]["primary"]:
        variants.remove(endpoint, replaced)


def _replace(engine: Engine, endpoint: str, then: dict, champion: dict, challenger: dict,
             bundle: ModelBundle, path: Path, result: dict) -> dict:
    """Repoint the endpoint to the challenger (a new version, action ``retrain``) if it beats
    the champion by more than the margin and the endpoint still serves that champion."""
    gain, margin = result["improvement"]["value"], then["min_improvement"]
    if gain is None or not gain > margin:
        shown = "undefined" if gain is None else f"{gain:+.4g}"
        return {"action": "replace", "done": False, "message": (
            f"the champion stays: the challenger's {result['metric']} improvement on the "
            f"held-out requests is {shown}, not above the margin {margin:g}")}
    store = EndpointStore(engine)
    row = store.get(endpoint)
    if not _serves(row, challenger):  # else: repointed before a crash
        served = facts(load_bundle(row["bundle_path"]))
        new = facts(bundle)
        check_schema(endpoint, served["input_schema"], new["input_schema"],
                     then["accept_schema_change"])
        store.repoint(endpoint, challenger["job_id"], challenger["candidate_id"], str(path),
                      new, action="retrain", current_facts=served,
                      also=_still_serving(endpoint, champion))
    version = store.versions(endpoint)[0]["version"]
    return {"action": "replace", "done": True, "version": version, "message": (
        f"the challenger replaced the champion as version {version} ({result['metric']} "
        f"improvement {gain:+.4g} on the held-out requests, margin {margin:g})")}


def _still_serving(endpoint: str, champion: dict):
    """What refuses, inside the transaction that puts the challenger in, when the endpoint
    serves another model than the champion the challenger was compared with."""
    return lambda conn: _refuse_another(endpoint, lock(conn, endpoint), champion)


def _refuse_another(endpoint: str, row: dict, champion: dict) -> None:
    if not _serves(row, champion):
        raise Conflict(f"endpoint '{endpoint}' serves another model than the champion the "
                       "challenger was compared with; retrain again", {"name": endpoint})


def _serves(row: dict, model: dict) -> bool:
    return (row["job_id"], row["candidate_id"]) == (model["job_id"], model["candidate_id"])
