"""Monitoring of the service's endpoints: where their capture lives, ground truth uploads,
monitoring runs (on demand or scheduled by the runner) with their webhook, traffic snapshots.

Used by the web workers (capture, uploads, on-demand runs) and by the job runner (scheduled
runs, traffic snapshots), so it sits below both. Paths under the data directory::

    capture/<endpoint>/<variant>/YYYY/MM/DD/HH/*.jsonl     data capture (SageMaker's layout)
    ground-truth/<endpoint>/*.csv                          labels sent back (GroundTruthStore)
    monitoring/<endpoint>/<run id>/constraint_violations.json, report.json

Every run is executed by the runner (web workers only queue on-demand runs), so a long run
never holds a web request. A run's window is whole UTC hours: a scheduled run checks the hours
its interval covers up to the current one; an on-demand run the last ``hours`` (24 by default)
before it was asked for.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from automl.exceptions import AutoMLError, InvalidRequest, NotFound
from automl.layout import JobLayout
from automl.model.bundle import ModelBundle
from automl.monitoring.alerts import alert_payload, deliver_async
from automl.monitoring.baseline import Baseline
from automl.monitoring.capture import DEFAULT_VARIANT, Retention, enforce_retention, hour_path
from automl.monitoring.quality import GroundTruthStore, encode_labels, parse_ground_truth
from automl.monitoring.reader import read_window
from automl.monitoring.run import MonitoringRun, run_monitoring, write_run
from automl.service_config import ServiceSettings
from automl.serving.server import load_bundle
from automl.store.files import job_dir
from automl.store.monitoring import DONE, ENDPOINT_DELETED, FAILED, QUEUED, MonitoringStore
from automl.store.variants import VariantStore

log = logging.getLogger("automl.monitoring")
ON_DEMAND_HOURS = 24


def capture_root(data_dir: str | Path) -> Path:
    return Path(data_dir) / "capture"


def capture_dir(data_dir: str | Path, endpoint: str, variant: str = DEFAULT_VARIANT) -> Path:
    return capture_root(data_dir) / endpoint / variant


def run_dir(data_dir: str | Path, endpoint: str, run_id: str) -> Path:
    return Path(data_dir) / "monitoring" / endpoint / run_id


def retention(settings: ServiceSettings) -> Retention:
    """The capture retention of the service's settings (0 means no limit)."""
    return Retention(days=settings.capture_retention_days or None,
                     max_bytes=settings.capture_retention_bytes or None)


def model_outputs(bundle: ModelBundle) -> Callable:
    """Raw rows -> the model's probabilities or values; None when the rows cannot be read."""
    def predict(frame):
        try:
            return bundle.matrix(bundle.schema.coerce(frame, strict=False))
        except AutoMLError:
            return None
    return predict


def global_importance(bundle: ModelBundle) -> Callable:
    """Raw rows -> global SHAP importance, computed as the job computed its baseline
    (:func:`automl.explain.global_importance`: same explainers, same sampling rule); None
    when it cannot be computed."""
    def importance(frame):
        from automl.explain import global_importance as importance_of_rows

        try:
            return importance_of_rows(bundle, frame)["importance"]
        except Exception:  # noqa: BLE001 - attribution drift is optional in a run
            return None
    return importance


def bundle_metadata(bundle: ModelBundle) -> dict:
    return {**bundle.metadata, "task": bundle.task, "classes": bundle.classes}


# ground truth -----------------------------------------------------------------------------

def add_ground_truth(data_dir: str | Path, endpoint: str, bundle: ModelBundle, content: bytes,
                     content_type: str | None) -> dict:
    """Validate an upload whole (format, duplicates, labels within the model's classes, ids the
    endpoint captured) and store it, or raise :class:`InvalidRequest` and store nothing."""
    try:
        truth = parse_ground_truth(content, content_type)
    except UnicodeDecodeError:
        raise InvalidRequest("the ground truth is not UTF-8 text") from None
    encode_labels(truth["label"], bundle.task, bundle.classes)
    store = GroundTruthStore(Path(data_dir) / "ground-truth" / endpoint)
    with _locked(store.directory):
        _known_ids(data_dir, endpoint, bundle, truth)
        count = store.add(truth)
    return {"endpoint": endpoint, "labels": count, "total_labels": len(store.load())}


def _known_ids(data_dir, endpoint: str, bundle: ModelBundle, truth) -> None:
    window = read_window(capture_dir(data_dir, endpoint), bundle.schema.names,
                         bundle.metadata.get("input_columns"))
    unknown = truth["inference_id"][~truth["inference_id"].isin(set(window.inference_ids))]
    if len(unknown):
        shown = ", ".join(repr(v) for v in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise InvalidRequest(
            f"{len(unknown)} inference ids have no captured request ({shown}); send the "
            "inferenceId the endpoint returned (':<row>' for rows of a batch request); nothing "
            "from this upload was stored", {"unknown": [str(u) for u in unknown[:100]]})


@contextlib.contextmanager
def _locked(directory: Path):
    """An exclusive lock across processes (web workers) on one endpoint's labels."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# runs -------------------------------------------------------------------------------------

def window_hours(hours: float, now: float | None = None) -> tuple[str, str]:
    """``since``/``until`` hour folders covering the last ``hours`` up to the current hour."""
    now = time.time() if now is None else now
    return hour_path(now - max(hours - 1, 0) * 3600), hour_path(now)


class EndpointMonitor:
    """Monitoring runs of the service's endpoints over one store and data directory."""

    def __init__(self, store: MonitoringStore, settings: ServiceSettings):
        self.store, self.settings = store, settings

    def request(self, endpoint: str, hours: float = ON_DEMAND_HOURS,
                variant: str = DEFAULT_VARIANT) -> dict:
        """Queue an on-demand run over the last ``hours`` of one variant's capture; the runner
        runs it."""
        since, until = window_hours(hours)
        return self.store.add_run(endpoint, "on_demand", since, until, status=QUEUED,
                                  variant=variant)

    def execute(self, run: dict, endpoint: dict | None, webhook_url: str | None = None) -> dict:
        """Run a claimed (running) run over the capture of its variant of ``endpoint`` (an
        endpoints row): stored with its files, its webhook called when it found violations. A
        run that could not check anything (no capture, no baseline, a deleted endpoint or
        variant) fails with the reason."""
        try:
            if endpoint is None:
                raise NotFound(f"endpoint '{run['endpoint']}' was deleted")
            model = self._model(endpoint, run["variant"])
            result = self._check(model, run["variant"], run["since"], run["until"])
        except AutoMLError as exc:
            self.store.finish_run(run["id"], FAILED, error={"code": exc.code,
                                                            "message": exc.message})
            return self.store.run(run["endpoint"], run["id"])
        write_run(result, run_dir(self.settings.data_dir, run["endpoint"], run["id"]))
        self.store.finish_run(run["id"], DONE, summary=run_summary(result))
        if webhook_url and result.violations:
            deliver_async(webhook_url, alert_payload(run["endpoint"], result.violations,
                                                     result.report, run["variant"]),
                          lambda d: self.store.record_webhook(run["id"], d.to_dict()),
                          allow_private=self.settings.webhook_allow_private)
        return self.store.run(run["endpoint"], run["id"])

    def _model(self, endpoint: dict, variant: str) -> dict:
        """``{name, job_id, bundle_path}`` of the model ``variant`` serves: the endpoint row's
        for the primary, else the variant's own."""
        if variant == DEFAULT_VARIANT:
            return endpoint
        try:
            found = VariantStore(self.store.engine).get(endpoint["name"], variant)
        except NotFound:
            raise NotFound(f"variant '{variant}' of endpoint '{endpoint['name']}' was removed "
                           "(or promoted) before the run") from None
        return {**found, "name": endpoint["name"]}

    def _check(self, endpoint: dict, variant: str, since: str, until: str) -> MonitoringRun:
        """A run over ``variant``'s capture, with the labels sent for the endpoint (a shadow's
        requests carry production's inference ids, so they get the same labels)."""
        bundle = load_bundle(endpoint["bundle_path"])
        baseline = self._baseline(endpoint, bundle)
        truth = GroundTruthStore(Path(self.settings.data_dir) / "ground-truth" /
                                 endpoint["name"]).load()
        return run_monitoring(capture_dir(self.settings.data_dir, endpoint["name"], variant),
                              baseline,
                              bundle.schema.to_dict(), bundle_metadata(bundle),
                              predict=model_outputs(bundle),
                              ground_truth=truth if len(truth) else None,
                              importance=global_importance(bundle)
                              if baseline.importance and self.settings.monitor_attribution
                              else None, since=since, until=until)

    def _baseline(self, endpoint: dict, bundle: ModelBundle) -> Baseline:
        """The job's training baseline; its prediction and attribution parts describe the
        job's winner, so they are left out for an endpoint serving another candidate."""
        from dataclasses import replace

        layout = JobLayout(job_dir(self.settings.data_dir, endpoint["job_id"]))
        baseline = Baseline.load(layout.monitoring)
        winner = layout.model.resolve()
        if Path(endpoint["bundle_path"]).resolve() != winner:
            baseline = replace(baseline, predictions=None, importance=None)
        return baseline

    def run_due(self, endpoints: Callable[[str], dict | None]) -> list[dict]:
        """The queued runs, then every scheduled run that is due now (``endpoints(name)`` gives
        the endpoint row, None when it was deleted: its schedule stops with the reason)."""
        done = []
        for run in self.store.queued():
            if self.store.claim_run(run["id"]):
                settings = self.store.settings(run["endpoint"]) or {}
                done.append(self.execute(run, endpoints(run["endpoint"]),
                                         settings.get("webhook_url")))
        for schedule in self.store.due():
            endpoint = endpoints(schedule["name"])
            if endpoint is None:
                self.store.stop(schedule["name"], ENDPOINT_DELETED)
                continue
            if not self.store.claim(schedule):
                continue
            since, until = window_hours(max(1.0, schedule["interval_s"] / 3600.0))
            for variant in self.monitored_variants(endpoint["name"]):
                run = self.store.add_run(schedule["name"], "schedule", since, until,
                                         variant=variant)
                done.append(self.execute(run, endpoint, schedule["webhook_url"]))
        return done

    def monitored_variants(self, name: str) -> list[str]:
        """The variants a scheduled run checks: the primary, and every other that has captured
        anything (a variant that never got a request has nothing to check)."""
        others = [v["variant"] for v in VariantStore(self.store.engine).list(name)
                  if v["variant"] != DEFAULT_VARIANT]
        return [DEFAULT_VARIANT] + [v for v in others
                                    if capture_dir(self.settings.data_dir, name, v).is_dir()]


def run_summary(run: MonitoringRun) -> dict:
    """What the runs table keeps of a run: verdict, counts, drift scores, quality."""
    report, dataset = run.report, run.report["dataset"]
    scores = {n: c["drift_score"] for n, c in report["columns"].items()
              if c.get("drift_score") is not None}
    summary = {"verdict": dataset["verdict"], "violations": dataset["violations"],
               "item_count": dataset["item_count"],
               "drifted_columns": dataset.get("drifted_columns", []),
               "drift_scores": scores,
               "max_drift_score": max(scores.values()) if scores else None,
               "malformed_lines": report.get("capture", {}).get("malformed_lines", 0),
               "violated_checks": sorted({v["constraint_check_type"] for v in run.violations})}
    for key in ("quality", "estimated_quality"):
        quality = report.get(key)
        if quality:
            summary[key] = {k: quality.get(k) for k in ("metric", "value", "rows", "estimated")}
    return summary


class Scheduler:
    """The runner's side: scheduled runs (each followed by ``after_run(run)``, such as an
    automatic retraining), traffic snapshots and ``chores`` (callables run every round, such as
    finishing retrainings), on a thread of their own so that a long run never delays claiming
    jobs."""

    SNAPSHOT_S = 60.0

    def __init__(self, monitor: EndpointMonitor, endpoints: Callable[[str], dict | None],
                 every_s: float = 2.0, chores: tuple[Callable[[], object], ...] = (),
                 after_run: Callable[[dict], object] | None = None):
        self.monitor, self.endpoints, self.every_s = monitor, endpoints, every_s
        self.chores, self.after_run = chores, after_run
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="automl-monitor", daemon=True)
        self._snapped = 0.0

    def start(self) -> Scheduler:
        """Fail the runs a previous runner left running, then start the thread."""
        self.monitor.store.fail_running("interrupted by a restart")
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()

    def _loop(self) -> None:
        while not self.stopping.wait(self.every_s):
            try:
                for run in self.monitor.run_due(self.endpoints):
                    self._after(run)
                for chore in self.chores:
                    chore()
                if time.time() - self._snapped >= self.SNAPSHOT_S:
                    self._snapped = time.time()
                    settings = self.monitor.settings
                    snapshot_traffic(self.monitor.store, settings.capture_retention_days)
                    enforce_all(settings.data_dir, retention(settings))
            except Exception:  # noqa: BLE001 - the scheduler must outlive one bad run
                log.exception("scheduled monitoring failed; trying again")


    def _after(self, run: dict) -> None:
        if self.after_run is None:
            return
        try:
            self.after_run(run)
        except Exception:  # noqa: BLE001 - what follows one run must not stop the others
            log.exception("after monitoring run %s", run["id"])


def enforce_all(data_dir: str | Path, limits: Retention) -> int:
    """Capture retention over every endpoint variant, idle or deleted ones too (the writers
    enforce it only as they open a new hour's file); returns how many files went."""
    root = capture_root(data_dir)
    variants = [v for e in root.iterdir() if e.is_dir() for v in e.iterdir() if v.is_dir()] \
        if root.is_dir() else []
    return sum(enforce_retention(v, limits) for v in variants)


def snapshot_traffic(store: MonitoringStore, keep_days: float) -> int:
    """Store every endpoint's cumulative counters now (when the web workers write Prometheus
    files); drop snapshots older than ``keep_days``."""
    from automl.endpoint_metrics import multiprocess_dir, read_totals

    if multiprocess_dir() is None:
        return 0
    now = time.time()
    rows = [{"endpoint": name, "at": now, "requests": t["requests"], "errors": t["errors"],
             "latency_buckets": t["latency_buckets"]} for name, t in read_totals().items()]
    store.add_traffic(rows)
    store.prune_traffic(now - (keep_days or 30.0) * 86400)
    return len(rows)
