"""What the endpoint views do: deploy, repoint and remove endpoints; find an endpoint's bundle.

The store row is the only state; each web worker keeps a :class:`BundleCache` keyed by
``(name, updated_at)``, so a PUT answered by one worker is seen by every other on its next
request. A PUT loads the new bundle completely before it changes the row, and each request
uses one bundle object from start to end, so no request fails or mixes models during a swap.
"""

from __future__ import annotations

import json
import logging
import pprint
import shlex
import threading
from collections.abc import Callable
from pathlib import Path

from automl import endpoint_metrics
from automl.deploy import ensure_bundle, winner_id
from automl.endpoint_monitor import capture_dir
from automl.endpoint_retrain import check_then, new_id, then_record
from automl.exceptions import AutoMLError, DatasetError, NotFound, NotReady
from automl.model.bundle import METADATA_FILE, ModelBundle
from automl.monitoring.alerts import check_webhook_url
from automl.serving.compat import check_schema, facts
from automl.serving.server import load_bundle
from automl.store import COMPLETED
from automl.store.endpoints import EndpointExists, EndpointNotFound, EndpointStore, check_name
from automl.store.files import job_dir
from automl.store.monitoring import ENDPOINT_DELETED, MonitoringStore
from web.core import Service, _check_id, iso
from web.endpoint_schemas import (
    EndpointCreate,
    EndpointRollback,
    EndpointUpdate,
    MonitoringUpdate,
)
from web.endpoint_versions import VersionUnavailable, version_view
from web.observe import Observer

log = logging.getLogger("automl.web")


class ModelUnavailable(AutoMLError):
    """The endpoint exists but its bundle cannot be loaded (its job was deleted, say)."""

    code = "model_unavailable"


class BundleCache:
    """Loaded bundles of one worker, by endpoint ``(name, updated_at)`` and by bundle path.

    Reads take no lock; loads are serialised so one bundle is read from disk once.
    """

    def __init__(self, loader: Callable[[str], ModelBundle] = load_bundle):
        self._loader = loader
        self._entries: dict[str, tuple[float, str, ModelBundle]] = {}
        self._paths: dict[str, ModelBundle] = {}
        self._lock = threading.Lock()

    def get(self, row: dict) -> ModelBundle:
        """The bundle of an endpoint row, loaded on first use after each change."""
        entry = self._entries.get(row["name"])
        if entry is not None and entry[0] == row["updated_at"]:
            return entry[2]
        bundle = self.load(row["bundle_path"])
        if entry is None or entry[0] < row["updated_at"]:
            self._remember(row, bundle)
        return bundle

    def load(self, path: str) -> ModelBundle:
        """The bundle at ``path``, read from disk only if no endpoint of this worker uses it."""
        with self._lock:
            bundle = self._paths.get(path)
            if bundle is None:
                try:
                    bundle = self._loader(path)
                except AutoMLError as exc:
                    log.error("cannot load the bundle at %s: %s", path, exc.message)
                    raise ModelUnavailable("the endpoint's model cannot be loaded (its files are "
                                           "missing or unreadable; the server log says why); "
                                           "point the endpoint at another model (PUT)") from exc
                self._paths[path] = bundle
            return bundle

    def forget(self, name: str) -> None:
        with self._lock:
            self._entries.pop(name, None)
            self._prune()

    def _remember(self, row: dict, bundle: ModelBundle) -> None:
        with self._lock:
            self._entries[row["name"]] = (row["updated_at"], row["bundle_path"], bundle)
            self._prune()

    def _prune(self) -> None:
        used = {path for _, path, _ in self._entries.values()}
        for path in [p for p in self._paths if p not in used]:
            del self._paths[path]


class Endpoints:
    """Endpoint operations over the store, the job artifacts and this worker's bundle cache."""

    def __init__(self, service: Service, cache: BundleCache | None = None):
        self.service = service
        self.store = EndpointStore(service.store.engine)
        self.monitoring_store = MonitoringStore(service.store.engine)
        self.observer = Observer(self.monitoring_store, service.settings)
        self.cache = cache or BundleCache()

    def create(self, body: EndpointCreate) -> dict:
        """Deploy a job's winner (or another completed candidate) under a new name, capturing
        and monitoring it (settings from ``body``, else the service's defaults)."""
        name = check_name(body.name)
        self._free(name)
        webhook = self._webhook(body.webhook_url)
        job_id, cid, path = self._bundle_path(body.job_id, body.candidate_id)
        bundle = self.cache.load(str(path))
        settings = self.service.settings
        row = self.store.add(name, job_id, cid, str(path), facts(bundle))
        self.monitoring_store.start(
            name, settings.capture_percent if body.capture_percent is None
            else body.capture_percent, body.monitoring_interval_s or settings.monitor_interval_s,
            webhook)
        self.observer.changed(name)
        self.cache.get(row)
        return self.view(row)

    def update(self, name: str, body: EndpointUpdate) -> dict:
        """Point an endpoint at another model as a new version: load it fully, refuse a change
        of input columns not accepted, then swap the row in one transaction."""
        self.store.get(name)
        job_id, cid, path = self._bundle_path(body.job_id, body.candidate_id)
        view = self._swap(name, job_id, cid, str(path), body.accept_schema_change, "repoint")
        if body.capture_percent is not None:
            self.change_monitoring(name, MonitoringUpdate(capture_percent=body.capture_percent))
            view["monitoring"] = self.monitoring(name)
        return view

    def rollback(self, name: str, body: EndpointRollback) -> dict:
        """Serve an earlier version's model again, as a new version (atomic like :meth:`update`)."""
        old = self.store.version(name, body.version)
        try:
            self.service.store.get_job(old["job_id"])
            if not (Path(old["bundle_path"]) / METADATA_FILE).is_file():
                raise ModelUnavailable("the version's bundle is gone")
            self.cache.load(old["bundle_path"])
        except (NotFound, ModelUnavailable):
            raise VersionUnavailable(
                f"version {body.version} of endpoint '{name}' cannot be served again: the model "
                f"files of job '{old['job_id']}' (candidate '{old['candidate_id']}') are gone; "
                f"roll back to another version (GET /api/v1/endpoints/{name}/versions) or "
                "point the endpoint at another model (PUT)",
                {"name": name, "version": body.version, "job_id": old["job_id"]}) from None
        return self._swap(name, old["job_id"], old["candidate_id"], old["bundle_path"],
                          body.accept_schema_change, "rollback", body.version)

    def versions(self, name: str) -> list[dict]:
        """The endpoint's versions, newest (the one served) first."""
        rows = self.store.versions(self._row(name)["name"])
        return [version_view(r, rows[0]) for r in rows]

    def remove_version(self, name: str, version: int) -> None:
        self.store.remove_version(self._row(name)["name"], version)

    def _swap(self, name: str, job_id: str, cid: str, path: str, accept: bool, action: str,
              source: int | None = None) -> dict:
        bundle = self.cache.load(path)
        try:
            current = facts(self.bundle(name))
        except ModelUnavailable:  # a broken endpoint has no clients to protect
            current = None
        new = facts(bundle)
        check_schema(name, current and current["input_schema"], new["input_schema"], accept)
        row = self.store.repoint(name, job_id, cid, path, new, action=action,
                                 source_version=source, current_facts=current)
        self.cache.get(row)
        return self.view(row)

    def delete(self, name: str) -> None:
        """Remove an endpoint; its scheduled monitoring stops with the reason (its captured
        data, labels and runs stay on disk)."""
        self.store.remove(name)
        self.monitoring_store.stop(name, ENDPOINT_DELETED)
        self.observer.forget(name)
        self.cache.forget(name)

    def monitoring(self, name: str) -> dict:
        """An endpoint's monitoring settings and capture counts (an endpoint made before
        monitoring existed gets the defaults); a deleted one's, with why it stopped."""
        row = self.monitoring_store.settings(name)
        if row is None:
            self._row(name)
            settings = self.service.settings
            row = self.monitoring_store.start(name, settings.capture_percent,
                                              settings.monitor_interval_s)
        counts = endpoint_metrics.read_totals().get(name, {}).get("capture", {})
        counts = {k: counts.get(k, 0.0) for k in ("captured", "sampled_out",
                                                  "dropped_queue_full", "dropped_write_error")}
        counts["dropped"] = counts["dropped_queue_full"] + counts["dropped_write_error"]
        return {"endpoint": name, "capture_percent": row["capture_percent"],
                "capture_directory": f"capture/{name}/", "interval_s": row["interval_s"],
                "next_run_at": iso(row["next_run_at"]), "stopped_reason": row["stopped_reason"],
                "webhook_url": row["webhook_url"], "capture": counts,
                "retrain": row.get("retrain")}

    def change_monitoring(self, name: str, body: MonitoringUpdate) -> dict:
        """Change capture percentage, schedule interval, webhook or automatic retraining of a
        live endpoint."""
        self.monitoring(name)
        values = body.model_dump(exclude_unset=True)
        if "webhook_url" in values:
            values["webhook_url"] = self._webhook(values["webhook_url"])
        if body.retrain is not None:  # whole, defaults too; refused now if it would be later
            values["retrain"] = body.retrain.model_dump()
            check_then(self.store.engine, name, then_record(values["retrain"], new_id()))
        self.monitoring_store.change(name, **values)
        self.observer.changed(name)
        return self.monitoring(name)

    def _webhook(self, url: str | None) -> str | None:
        if not url:
            return None
        return check_webhook_url(url, self.service.settings.webhook_allow_private)

    def capture_dir(self, name: str) -> str:
        return str(capture_dir(self.service.settings.data_dir, name))

    def get(self, name: str) -> dict:
        return self.view(self._row(name))

    def list(self, job_id: str | None = None) -> list[dict]:
        return [self.view(r) for r in self.store.list(job_id)]

    def bundle(self, name: str) -> ModelBundle:
        """The loaded bundle an endpoint serves now (404 for an unknown name)."""
        try:
            return self.cache.get(self._row(name))
        except EndpointNotFound:
            self.cache.forget(name)
            raise

    def view(self, row: dict) -> dict:
        name = row["name"]
        return {"name": name, "job_id": row["job_id"], "candidate_id": row["candidate_id"],
                "version": self.store.versions(name)[0]["version"],
                "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"]),
                "links": {"self": f"/api/v1/endpoints/{name}",
                          "invocations": f"/endpoints/{name}/invocations",
                          "batch": f"/api/v1/endpoints/{name}/batch",
                          "page": f"/endpoints/{name}", "versions": f"/api/v1/endpoints/{name}/versions",
                          "job": f"/api/v1/jobs/{row['job_id']}",
                          "monitoring": f"/api/v1/endpoints/{name}/monitoring",
                          "monitoring_runs": f"/api/v1/endpoints/{name}/monitoring-runs",
                          "ground_truth": f"/api/v1/endpoints/{name}/ground-truth"},
                "monitoring": self.monitoring(name)}

    def _row(self, name: str) -> dict:
        if not isinstance(name, str) or len(name) > 63:
            raise EndpointNotFound(f"endpoint '{name}' not found", {"name": name})
        return self.store.get(name)

    def _free(self, name: str) -> None:
        try:
            row = self.store.get(name)
        except EndpointNotFound:
            return
        raise EndpointExists(f"an endpoint named '{name}' already exists; choose another name, "
                             f"or PUT /api/v1/endpoints/{name} to point it at another model",
                             {"name": name, "job_id": row["job_id"],
                              "candidate_id": row["candidate_id"]})

    def _bundle_path(self, job_id: str, candidate_id: str | None) -> tuple[str, str, Path]:
        """The job, candidate and bundle directory to serve, refitting a non-winner once."""
        job = self.service.store.get_job(_check_id(job_id, "job"))
        directory = job_dir(self.service.settings.data_dir, job["id"])
        winner = winner_id(directory)
        if job["status"] != COMPLETED or winner is None:
            raise NotReady(f"job '{job['id']}' is {job['status']} and has no model to deploy; "
                           "deploy a completed job", {"job_id": job["id"], "status": job["status"]})
        cid = _check_id(candidate_id, "candidate") if candidate_id else winner
        dataset = self.service.store.get_dataset(job["dataset_id"])
        try:
            path = ensure_bundle(directory, cid, dataset["path"], job["target"], job["settings"])
        except DatasetError:  # a refit that cannot read the stored data is the server's fault
            self.service.dataset_file(dataset["id"])
            raise
        return job["id"], cid, path


def examples(base_url: str, name: str, record: dict, token: bool) -> dict[str, str]:
    """Ready-to-paste curl and Python (boto3 ``sagemaker-runtime``) calls of an endpoint."""
    url = f"{base_url.rstrip('/')}/endpoints/{name}/invocations"
    body = json.dumps({"instances": [record]})
    auth = ' -H "Authorization: Bearer $AUTOML_API_TOKEN"' if token else ""
    curl = (f"curl -sS -X POST {shlex.quote(url)}{auth} \\\n"
            f"  -H 'Content-Type: application/json' -H 'Accept: application/json' \\\n"
            f"  --data {shlex.quote(body)}")
    return {"url": url, "curl": curl,
            "python": _python_example(base_url.rstrip("/"), name, record, token)}


def _python_example(base_url: str, name: str, record: dict, token: bool) -> str:
    lines = ["import json"] + (["import os"] if token else []) + ["", "import boto3"]
    if token:
        lines += ["from botocore import UNSIGNED", "from botocore.config import Config"]
    lines += ["", 'runtime = boto3.client(', '    "sagemaker-runtime",',
              f"    endpoint_url={json.dumps(base_url)},", '    region_name="us-east-1",',
              '    aws_access_key_id="unused", aws_secret_access_key="unused",']
    if token:
        lines += ["    config=Config(signature_version=UNSIGNED),"]
    lines += [")"]
    if token:
        lines += ["runtime.meta.events.register(",
                  '    "before-send.sagemaker-runtime.InvokeEndpoint",',
                  '    lambda request, **_: request.headers.__setitem__(',
                  '        "Authorization", "Bearer " + os.environ["AUTOML_API_TOKEN"]),', ")"]
    lines += ["rows = [", _indent(pprint.pformat(record, sort_dicts=False, width=90)) + ",", "]",
              "response = runtime.invoke_endpoint(",
              f"    EndpointName={json.dumps(name)},",
              '    ContentType="application/json",', '    Accept="application/json",',
              '    Body=json.dumps({"instances": rows}),', ")",
              'print(json.loads(response["Body"].read()))']
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
