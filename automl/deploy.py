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
import uuid
from pathlib import Path

from automl.config import resolve_settings
from automl.engine import prepare_data
from automl.exceptions import NotFound, NotReady
from automl.finalize import assemble_ensemble, fit_member
from automl.layout import JobLayout
from automl.model.bundle import METADATA_FILE, ModelBundle, provenance
from automl.search.records import CandidateResult, TrialSpec, bundle_fields, result_from_dict

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
    result = result_from_dict(record)
    if not result.ok:
        raise NotReady(f"candidate '{candidate_id}' did not complete ({result.state}: "
                       f"{result.reason or 'no reason recorded'}); deploy a completed one",
                       {"candidate_id": candidate_id, "state": result.state.value})
    settings = resolve_settings(**{k: job_settings.get(k) for k in _SETTINGS}, n_jobs=1)
    data, _, metric = prepare_data(str(dataset), target, settings)

    def trial(m: dict) -> TrialSpec:
        return TrialSpec.from_manifest(m, settings.seed, metric.name)

    if result.members:
        fitted = {cid: fit_member(trial(manifest(job_dir, cid)), data) for cid in result.members}
        model = assemble_ensemble(fitted, result.members, data)
    else:
        model = fit_member(trial(record), data)
    bundle = ModelBundle(model, data.schema, data.task, data.classes,
                         _metadata(job_dir, result, job_settings.get("families")),
                         ModelBundle.background_of(data.X, settings.seed))
    return _write_once(bundle, target_dir)


def _metadata(job_dir: Path, record: CandidateResult, families=None) -> dict:
    """The winner's metadata (target, metric, data hash...) with this candidate's own fields."""
    winner = JobLayout(job_dir).model / METADATA_FILE
    base = json.loads(winner.read_text()) if winner.is_file() else {}
    base.pop("task", None), base.pop("classes", None)
    return {**base, **bundle_fields(record), "members": record.members, **provenance(families)}


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
