"""Bundles for deployment: the job's winner as it is, any other candidate refitted on demand.

A job writes one bundle, its winner's (``<job>/model``). Deploying another leaderboard row
refits that candidate (or, for an ensemble row, its members) on all of the job's rows from the
trial manifests in ``<job>/trials/<cid>.json`` and writes ``<job>/candidates/<cid>/model`` once;
later deploys reuse it. The write goes to a temporary directory renamed into place, so two
processes deploying the same candidate at once never see half a bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

from automl.candidates.base import CandidateSpec
from automl.config import resolve_settings
from automl.engine import prepare_data
from automl.exceptions import NotFound, NotReady
from automl.finalize import assemble_ensemble, fit_member
from automl.layout import JobLayout
from automl.model.bundle import METADATA_FILE, ModelBundle, library_versions
from automl.search.evaluate import TrainingData
from automl.search.records import TrialSpec

_SETTINGS = ("task", "metric", "seed")


def winner_id(job_dir: Path) -> str | None:
    """The candidate id of the job's bundle, or ``None`` when the job wrote none."""
    meta = JobLayout(job_dir).model / METADATA_FILE
    if not meta.is_file():
        return None
    return json.loads(meta.read_text()).get("candidate_id")


def bundle_dir(job_dir: Path, candidate_id: str) -> Path:
    """Where the bundle of ``candidate_id`` lives (or will, once refitted)."""
    if candidate_id == winner_id(job_dir):
        return JobLayout(job_dir).model
    return JobLayout(job_dir).candidate_model(candidate_id)


def manifest(job_dir: Path, candidate_id: str) -> dict:
    """The trial manifest of a candidate; :class:`NotFound` if the job has none by that id."""
    path = JobLayout(job_dir).manifest(candidate_id)
    if not path.is_file():
        raise NotFound(f"candidate '{candidate_id}' not found in job '{job_dir.name}'",
                       {"job_id": job_dir.name, "candidate_id": candidate_id})
    return json.loads(path.read_text())


def ensure_bundle(job_dir: Path, candidate_id: str, dataset: str | Path, target: str,
                  job_settings: dict) -> Path:
    """The bundle directory of ``candidate_id``, refitting it on the job's data if needed."""
    target_dir = bundle_dir(job_dir, candidate_id)
    if (target_dir / METADATA_FILE).is_file():
        return target_dir
    record = manifest(job_dir, candidate_id)
    if record.get("state") != "complete":
        raise NotReady(f"candidate '{candidate_id}' did not complete ({record.get('state')}: "
                       f"{record.get('reason') or 'no reason recorded'}); deploy a completed one",
                       {"candidate_id": candidate_id, "state": record.get("state")})
    settings = resolve_settings(**{k: job_settings.get(k) for k in _SETTINGS}, n_jobs=1)
    data, _, _ = prepare_data(str(dataset), target, settings)
    seed = settings.seed
    model = _fit(job_dir, record, data, seed)
    bundle = ModelBundle(model, data.schema, data.task, data.classes,
                         _metadata(job_dir, record), ModelBundle.background_of(data.X, seed))
    return _write_once(bundle, target_dir)


def _fit(job_dir: Path, record: dict, data: TrainingData, seed: int):
    if not record.get("members"):
        return fit_member(_trial(record, seed), data)
    fitted = {cid: fit_member(_trial(manifest(job_dir, cid), seed), data)
              for cid in record["members"]}
    return assemble_ensemble(fitted, record["members"], data)


def _trial(record: dict, seed: int) -> TrialSpec:
    if not record.get("spec"):
        raise NotReady(f"candidate '{record['candidate_id']}' has no pipeline spec to refit",
                       {"candidate_id": record["candidate_id"]})
    return TrialSpec(record["candidate_id"], int(record.get("number", -1)),
                     CandidateSpec.from_dict(record["spec"]), dict(record["params"]), seed,
                     record.get("metric", ""))


def _metadata(job_dir: Path, record: dict) -> dict:
    """The winner's metadata (target, metric, data hash...) with this candidate's own fields."""
    winner = JobLayout(job_dir).model / METADATA_FILE
    base = json.loads(winner.read_text()) if winner.is_file() else {}
    base.pop("task", None), base.pop("classes", None)
    own = {k: record.get(k) for k in ("candidate_id", "family", "params", "score", "score_std")}
    return {**base, **own, "members": record.get("members") or {},
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": library_versions()}


def _write_once(bundle: ModelBundle, target_dir: Path) -> Path:
    tmp = target_dir.with_name(f".{target_dir.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
    bundle.save(tmp)
    try:
        os.rename(tmp, target_dir)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target_dir / METADATA_FILE).is_file():
            raise
    return target_dir
