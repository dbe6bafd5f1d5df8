"""What a resumed job starts from: the trials it recorded before a restart interrupted it.

The job store holds every finished trial's record, and the job directory the out-of-fold
predictions its quality reports kept; from them the search rebuilds its studies
(:class:`automl.search.study.Search` with ``prior``) and goes on where it stopped.
"""

from __future__ import annotations

from pathlib import Path

from automl.data.intake import file_hash
from automl.exceptions import DatasetError
from automl.explain.quality import load_oof
from automl.search.records import TrialResult
from automl.store import JobStore


def recorded_trials(store: JobStore, job: dict, dataset: dict, out: Path) -> list[TrialResult]:
    """The trials ``job`` recorded before it was interrupted, each with its out-of-fold
    predictions when they were kept (a trial without them is ranked but not ensembled).

    A :class:`DatasetError` says why the job cannot go on when the data it was searched on is
    no longer on disk or has changed since (its folds and scores would not hold)."""
    path, name = Path(dataset["path"]), f"'{dataset['name']}' ({dataset['id']})"
    details = {"dataset_id": dataset["id"]}
    if not path.is_file():
        raise DatasetError(f"the job cannot resume after a restart: the dataset {name} is no "
                           "longer on disk; upload it again and start a new job", details)
    profile = job.get("profile") or {}
    if profile.get("data_hash") and file_hash(path) != profile["data_hash"]:
        raise DatasetError(f"the job cannot resume after a restart: the dataset {name} changed "
                           "since the job started; start a new job on it", details)
    return [TrialResult.from_dict(t["result"], load_oof(out, t["candidate_id"]))
            for t in store.list_trials(job["id"])]
