"""What the pages and the API do, as plain functions over the store and the data dir.

Views stay thin: they parse the request, call one of these, and render or serialise the result.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from automl.candidates.registry import check_families
from automl.config import job_fields, resolve_settings
from automl.data.profile import target_not_found
from automl.exceptions import ConfigError, DatasetError, NotFound, NotReady, ServerFault
from automl.layout import JobLayout
from automl.leaderboard import leaderboard_rows
from automl.metrics import METRICS, get_metric
from automl.model.bundle import METADATA_FILE
from automl.search.records import result_from_dict
from automl.service_config import ServiceSettings
from automl.store import COMPLETED, FINISHED, QUEUED, RUNNING, JobStore
from automl.store.datasets import register_dataset
from automl.store.endpoints import EndpointStore
from automl.store.files import (
    dataset_path,
    job_dir,
    remove_tree,
)
from web.errors import Conflict, InvalidRequest
from web.schemas import JobCreate

SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
FIGURE_NAME = re.compile(r"^[a-z_]{1,40}\.svg$")
EXPLANATION_FIGURE = re.compile(r"^(importance|dependence_[0-9])\.svg$")

log = logging.getLogger("automl.web")
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20


def gunzipped(stream: BinaryIO) -> Iterator[bytes]:
    """An upload's bytes, decompressed when it is gzip (``.csv.gz``); the upload limit then
    counts the decompressed bytes, so a small bomb stops at the limit too."""
    head = stream.read(CHUNK)
    if not head.startswith(GZIP_MAGIC):
        yield head
        yield from iter(lambda: stream.read(CHUNK), b"")
        return
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = head
    while data:
        try:
            while data:
                yield inflate.decompress(data, CHUNK)
                data = inflate.unconsumed_tail
        except zlib.error as exc:
            raise DatasetError(f"the file looks gzip-compressed but cannot be decompressed "
                               f"({exc}); upload the CSV itself or a complete .csv.gz") from None
        data = stream.read(CHUNK)
    yield inflate.flush()
    if not inflate.eof:
        raise DatasetError("the gzip file is cut short; upload the complete .csv.gz")


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class Service:
    """The service's operations; one per app, shared by every view."""

    def __init__(self, store: JobStore, settings: ServiceSettings):
        self.store, self.settings = store, settings

    # datasets -------------------------------------------------------------------------------
    def upload_dataset(self, stream: BinaryIO, filename: str | None) -> dict:
        """Stream an upload to disk, read its header and types, record it; returns its view."""
        row = register_dataset(self.store, self.settings.data_dir, gunzipped(stream), filename,
                               self.settings.max_upload_bytes, self.settings.max_columns)
        return dataset_view(row)

    def dataset(self, dataset_id: str) -> dict:
        return dataset_view(self.store.get_dataset(_check_id(dataset_id, "dataset")))

    def datasets(self, limit: int = 100, offset: int = 0) -> list[dict]:
        return [dataset_view(r) for r in self.store.list_datasets(limit, offset)]

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset and its file; refused while a job uses it (the job is named)."""
        row = self.store.delete_dataset(_check_id(dataset_id, "dataset"))
        dataset_path(self.settings.data_dir, row["id"]).unlink(missing_ok=True)

    # jobs -----------------------------------------------------------------------------------
    def create_job(self, body: JobCreate) -> dict:
        """Validate the settings against the engine's rules and the dataset, then queue."""
        dataset = self.store.get_dataset(_check_id(body.dataset_id, "dataset"))
        columns = [c["name"] for c in dataset["columns"]]
        if body.target not in columns:
            raise InvalidRequest(target_not_found(body.target, columns),
                                 {"target": body.target, "columns": columns})
        task = None if body.task in (None, "auto") else body.task
        _check_metric(body.metric, task or _target_task(dataset, body.target))
        if body.time_budget is None and body.max_candidates is None:
            raise ConfigError("give a time budget, a maximum number of candidates, or both")
        settings = resolve_settings(task=task, metric=body.metric, time_budget=body.time_budget,
                                    max_candidates=body.max_candidates, seed=body.seed, n_jobs=1,
                                    trial_timeout=body.trial_timeout,
                                    max_latency_ms=body.max_latency_ms,
                                    families=body.families)
        if settings.families is not None:
            check_families(settings.families)
        return self.job_view(self.store.create_job(dataset["id"], body.target,
                                                   job_fields(settings)))

    def job(self, job_id: str) -> dict:
        return self.job_view(self._job(job_id))

    def jobs(self, dataset_id: str | None = None) -> list[dict]:
        return [self.job_view(r) for r in self.store.list_jobs(dataset_id=dataset_id)]

    def _job(self, job_id: str) -> dict:
        return self.store.get_job(_check_id(job_id, "job"))

    def job_view(self, row: dict) -> dict:
        """A job row as the API shows it, with live elapsed and remaining time."""
        progress = dict(row["progress"] or {})
        progress["running"] = progress.get("running", []) if row["status"] == RUNNING else []
        if row["status"] == RUNNING and row["started_at"]:
            elapsed = time.time() - row["started_at"]
            budget = row["settings"].get("time_budget")
            progress["elapsed_s"] = round(elapsed, 2)
            progress["remaining_s"] = None if budget is None else round(max(0.0, budget - elapsed), 2)
        elif row["status"] in FINISHED and row["started_at"] and row["finished_at"]:
            progress["elapsed_s"] = round(max(0.0, row["finished_at"] - row["started_at"]), 2)
            progress["remaining_s"] = 0.0
        base = f"/api/v1/jobs/{row['id']}"
        links = {"self": base, "leaderboard": f"{base}/leaderboard", "page": f"/jobs/{row['id']}"}
        if self._layout(row).model.is_dir():
            links["model"] = f"{base}/model"
        links.update({name: f"{base}/notebooks/{name}" for name in JobLayout.NOTEBOOKS
                      if self._layout(row).job_notebook(name).is_file()})
        return {**{k: row[k] for k in ("id", "dataset_id", "target", "status", "stage", "settings",
                                       "metric", "greater_is_better", "error", "cancel_requested")},
                "progress": progress, "created_at": iso(row["created_at"]),
                "started_at": iso(row["started_at"]), "finished_at": iso(row["finished_at"]),
                "warnings": self._warnings(row), "links": links}

    def _warnings(self, row: dict) -> list[dict]:
        """A finished job's warnings, as its engine wrote them into ``leaderboard.json``."""
        if row["status"] not in FINISHED:
            return []
        board = _read_json(self._layout(row).leaderboard_json) or {}
        return [{"code": str(w.get("code", "")), "message": str(w.get("message", ""))}
                for w in board.get("warnings", []) if isinstance(w, dict)]

    def cancel(self, job_id: str) -> dict:
        return self.job_view(self.store.request_cancel(_check_id(job_id, "job")))

    def delete(self, job_id: str) -> None:
        row = self._job(job_id)
        if row["status"] in (RUNNING,):
            raise Conflict(f"job '{job_id}' is running; cancel it first and delete it once stopped",
                           {"status": row["status"]})
        users = EndpointStore(self.store.engine).users_of_job(row["id"])
        if users:
            raise Conflict(_endpoint_users_message(job_id, users), {"endpoints": list(users)})
        self.store.delete_job(row["id"])
        remove_tree(self._artifacts(row))

    # results --------------------------------------------------------------------------------
    def leaderboard(self, job_id: str) -> dict:
        """The final leaderboard once written, else the live one from the trials so far."""
        row = self._job(job_id)
        final = self._layout(row).leaderboard_json
        if row["status"] in FINISHED and final.is_file():
            board = json.loads(final.read_text())
            return {**board, "final": True, "note": _close_call(board["rows"])}
        trials = [result_from_dict(t["result"]) for t in self.store.list_trials(row["id"])]
        return {"metric": row["metric"], "greater_is_better": row["greater_is_better"],
                "final": False, "rows": leaderboard_rows(trials, row["greater_is_better"])}

    def trials(self, job_id: str) -> list[dict]:
        row = self._job(job_id)
        return [{k: t[k] for k in ("candidate_id", "number", "state", "score", "elapsed_s")}
                for t in self.store.list_trials(row["id"])]

    def candidate(self, job_id: str, candidate_id: str) -> dict:
        """One candidate: its trial record, spec (once written), and notebook link."""
        row = self._job(job_id)
        cid = _check_id(candidate_id, "candidate")
        layout = self._layout(row)
        written = (_read_json(layout.manifest(cid))  # the trial's manifest, once the job ends
                   or self.store.get_trial(row["id"], cid)["result"])
        data = {**result_from_dict(written).to_dict(), "spec": written.get("spec")}
        links = {"page": f"/jobs/{row['id']}/candidates/{cid}"}
        if layout.notebook(cid).is_file():
            links["notebook"] = f"/api/v1/jobs/{row['id']}/candidates/{cid}/notebook"
        base = f"/api/v1/jobs/{row['id']}/candidates/{cid}"
        quality_dir = layout.quality_of(cid)
        if layout.oof(cid).is_file():
            links["oof"] = f"{base}/oof.csv"
        figures = {p.stem: f"{base}/figures/{p.name}" for p in sorted(quality_dir.glob("*.svg"))}
        return {**data, "job_id": row["id"], "candidate_id": cid, "links": links,
                "explanation": _read_json(layout.importance(cid)),
                "quality": _read_json(layout.quality_report(cid)), "figures": figures}

    def candidate_oof(self, job_id: str, candidate_id: str) -> str:
        """A candidate's out-of-fold predictions as CSV (see :func:`automl.explain.quality.oof_frame`)."""
        from automl.explain.quality import oof_frame

        row = self._job(job_id)
        cid = _check_id(candidate_id, "candidate")
        layout = self._layout(row)
        if not layout.manifest(cid).is_file():
            self.store.get_trial(row["id"], cid)  # 404 for a candidate the job does not have
        if not layout.oof(cid).is_file() or not layout.quality_rows.is_file():
            raise NotReady(f"no out-of-fold predictions of '{cid}' yet: they are kept for "
                           "completed candidates as the job reports on them",
                           {"status": row["status"]})
        return oof_frame(layout.root, cid).to_csv(index=False)

    def candidate_figure(self, job_id: str, candidate_id: str, name: str) -> Path:
        """One quality figure (SVG) of a candidate."""
        row = self._job(job_id)
        cid = _check_id(candidate_id, "candidate")
        if not FIGURE_NAME.match(name):
            raise NotFound(f"no figure named '{name}'; figure names look like roc.svg")
        path = self._layout(row).quality_of(cid) / name
        if not path.is_file():
            raise NotFound(f"candidate '{cid}' has no figure '{name}'",
                           {"figures": sorted(p.name for p in path.parent.glob("*.svg"))})
        return path

    def explain_candidate(self, job_id: str, candidate_id: str) -> dict:
        """SHAP importance of any completed candidate of a completed job, computed once."""
        row = self._job(job_id)
        cid = _check_id(candidate_id, "candidate")
        done = _read_json(self._layout(row).importance(cid))
        if done is not None:
            return done
        from automl.explain import write_candidate_explanation

        path, data = self._candidate_bundle(row, cid, "explanation")
        return write_candidate_explanation(path, cid, data, self._artifacts(row))

    def dependence(self, job_id: str, candidate_id: str) -> dict:
        """Dependence data (value, contribution) of a candidate's top columns, computed once."""
        row = self._job(job_id)
        cid = _check_id(candidate_id, "candidate")
        done = _read_json(self._layout(row).dependence(cid))
        if done is not None:
            return _with_figure_links(done, row["id"], cid)
        from automl.explain.dependence import write_dependence

        path, data = self._candidate_bundle(row, cid, "dependence plots")
        doc = write_dependence(path, cid, data, self._artifacts(row))
        return _with_figure_links(doc, row["id"], cid)

    def explain_rows(self, job_id: str, candidate_id: str, body: dict) -> dict:
        """Per-row SHAP contributions of a candidate, for rows given or rows of the training
        file picked by number (see :func:`web.insight.rows_to_explain`)."""
        from automl.explain import explain_rows
        from automl.model.bundle import ModelBundle
        from web.insight import rows_to_explain

        row = self._job(job_id)
        cid = _check_id(candidate_id, "candidate")
        path, data = self._candidate_bundle(row, cid, "explanation")
        frame = rows_to_explain(body, data, self.settings.max_explain_rows)
        bundle = ModelBundle.load(path)
        explained = _explained(bundle, frame, explain_rows)
        return {"candidate_id": cid, "rows": explained}

    def predictions_bundle(self, job_id: str, candidate_id: str | None):
        """The bundle that predicts for a job: its winner's, or a candidate's (refitted once)."""
        from automl.model.bundle import ModelBundle

        row = self._job(job_id)
        if candidate_id is None:
            if not (self._layout(row).model / METADATA_FILE).is_file():
                raise NotReady(_not_ready(row, "model"), {"status": row["status"]})
            return ModelBundle.load(self._layout(row).model)
        cid = _check_id(candidate_id, "candidate")
        return ModelBundle.load(self._candidate_bundle(row, cid, "predictions")[0])

    def explanation_figure(self, job_id: str, candidate_id: str, name: str) -> Path:
        """An explanation figure (SVG) of a candidate: importance.svg or dependence_<n>.svg."""
        row = self._job(job_id)
        cid = _check_id(candidate_id, "candidate")
        path = self._explanations(row, cid) / name
        if not EXPLANATION_FIGURE.match(name) or not path.is_file():
            raise NotFound(f"candidate '{cid}' has no explanation figure '{name}'",
                           {"figures": sorted(p.name for p in path.parent.glob("*.svg"))})
        return path

    def _candidate_bundle(self, row: dict, cid: str, what: str) -> tuple[Path, str]:
        """(bundle directory, training file) of a completed job's candidate."""
        if row["status"] != COMPLETED:
            raise NotReady(_not_ready(row, f"{what} of '{cid}'"), {"status": row["status"]})
        from automl.deploy import ensure_bundle

        data = self.dataset_file(row["dataset_id"])
        return ensure_bundle(self._artifacts(row), cid, data, row["target"], row["settings"]), data

    def dataset_file(self, dataset_id: str) -> str:
        """Where a stored dataset's file is; a missing file is the server's fault (500-class),
        reported without its path."""
        path = self.store.get_dataset(dataset_id)["path"]
        if not Path(path).is_file():
            log.error("the stored file of dataset %s is missing: %s", dataset_id, path)
            raise ServerFault(f"the stored file of dataset '{dataset_id}' is missing on the "
                              "server; an operator must restore it, or upload the data again",
                              {"dataset_id": dataset_id})
        return path

    def model_zip(self, job_id: str) -> Path:
        """The winner's bundle as a zip (made once, then cached next to it)."""
        row = self._job(job_id)
        layout = self._layout(row)
        model = layout.model
        if not model.is_dir():
            raise NotReady(_not_ready(row, "model"), {"status": row["status"]})
        target = layout.model_zip
        if not target.is_file():
            tmp = shutil.make_archive(str(target.with_suffix(f".{os.getpid()}.tmp")), "zip", model)
            os.replace(tmp, target)
        return target

    def candidate_notebook(self, job_id: str, candidate_id: str) -> Path:
        row = self._job(job_id)
        cid = _check_id(candidate_id, "candidate")
        layout = self._layout(row)
        path = layout.notebook(cid)
        if not layout.manifest(cid).is_file():
            self.store.get_trial(row["id"], cid)
        if not path.is_file():
            raise NotReady(_not_ready(row, f"notebook of candidate '{cid}'"), {"status": row["status"]})
        return path

    def job_notebook(self, job_id: str, name: str) -> Path:
        row = self._job(job_id)
        if name not in JobLayout.NOTEBOOKS:
            raise NotFound(f"no job notebook named '{name}'; there are: "
                           f"{', '.join(JobLayout.NOTEBOOKS)}; each candidate's own notebook "
                           f"(the ensemble's too) is at /api/v1/jobs/{row['id']}/candidates/"
                           "<candidate_id>/notebook (candidate ids: the leaderboard)")
        path = self._layout(row).job_notebook(name)
        if not path.is_file():
            raise NotReady(_not_ready(row, f"notebook '{name}'"), {"status": row["status"]})
        return path

    def _artifacts(self, row: dict) -> Path:
        return job_dir(self.settings.data_dir, row["id"])

    def _layout(self, row: dict) -> JobLayout:
        return JobLayout(self._artifacts(row))

    def _explanations(self, row: dict, cid: str) -> Path:
        return self._layout(row).explanations(cid)


def _with_figure_links(doc: dict, job_id: str, cid: str) -> dict:
    base = f"/api/v1/jobs/{job_id}/candidates/{cid}/explanation/figures"
    columns = [{**c, "figure": f"{base}/{c['figure']}"} for c in doc["columns"]]
    return {**doc, "columns": columns}


def _explained(bundle, frame, explain_rows) -> list[dict]:
    """``explain_rows`` with each row's own values (JSON-ready) beside its contributions."""
    values = json.loads(frame.to_json(orient="records", date_format="iso"))
    return [{**e, "values": {k: v for k, v in vals.items() if k in e["contributions"]}}
            for e, vals in zip(explain_rows(bundle, frame), values, strict=True)]


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _close_call(rows: list[dict]) -> str | None:
    import pandas as pd

    from automl.explain.honesty import close_call

    return close_call(pd.DataFrame(rows)) if rows else None


def dataset_view(row: dict) -> dict:
    return {"id": row["id"], "name": row["name"], "size_bytes": row["size_bytes"],
            "n_rows": row["n_rows"], "n_columns": len(row["columns"]), "columns": row["columns"],
            "warnings": row["warnings"], "created_at": iso(row["created_at"])}


def _target_task(dataset: dict, target: str) -> str | None:
    """The task the target column makes, as profiled at upload (``None`` for datasets uploaded
    before uploads were profiled whole; their job checks the metric when it starts); a column
    with a single value is refused."""
    column = next(c for c in dataset["columns"] if c["name"] == target)
    if "as_target" in column and column["as_target"] is None:
        raise DatasetError(f"target column '{target}' has fewer than two distinct values; there "
                           "is nothing to predict: choose a column that varies",
                           {"target": target, "n_unique": column["n_unique"]})
    return column.get("as_target")


def _check_metric(metric: str | None, task: str | None) -> None:
    """An unknown metric, or one that does not fit the task, is refused at submission."""
    if metric is None:
        return
    if metric.lower() not in METRICS:
        raise InvalidRequest(f"unknown metric '{metric}'; choose one of: {', '.join(METRICS)}",
                             {"metric": metric, "allowed": list(METRICS)})
    if task is not None:
        get_metric(metric, task)


def _check_id(value: str, kind: str) -> str:
    if not SAFE_ID.match(value or "") or value in (".", ".."):
        raise NotFound(f"{kind} '{value}' not found", {f"{kind}_id": value})
    return value


def _not_ready(row: dict, what: str) -> str:
    status = row["status"]
    if status in (QUEUED, RUNNING):
        return f"the {what} is not ready: the job is {status}; try again when it has completed"
    if status == COMPLETED:
        return f"the {what} was not written for this job"
    return f"there is no {what}: the job {status}"


def _endpoint_users_message(job_id: str, users: dict[str, list[int]]) -> str:
    """Why a job cannot be deleted: the endpoints serving it or keeping it as a version."""
    named = ", ".join(f"'{n}'" + (f" (version {', '.join(map(str, v))})" if v else "")
                      for n, v in users.items())
    return (f"job '{job_id}' is used by the endpoint(s) {named}, as the model served or one "
            "they can roll back to; point them at another model (PUT), forget old versions "
            "(DELETE /api/v1/endpoints/<name>/versions/<n>) or delete the endpoints first")
