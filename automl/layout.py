"""Where every file of a job's output directory lives: the one place that spells the layout.

``automl run --output DIR`` and the service's ``<data_dir>/jobs/<job_id>`` share it::

    model/                      the winner's bundle (its own files: automl.model.bundle)
    model.zip                   that bundle zipped for download (the service makes it once)
    candidates/<cid>/model/     another candidate's bundle, refitted when first deployed
    leaderboard.json, .csv      the ranked rows (and the job's warnings, in the JSON)
    profile.json, settings.json the data's profile and the job's resolved settings
    data.csv                    the data the notebooks read when the job was given a frame
    trials/<cid>.json           each trial's (and the ensemble's) manifest, written once
    quality/rows.npz            each row's target and validation fold
    quality/<cid>/              oof.npy, report.json and the figures of a candidate
    explanations/<cid>/         importance.json (.svg) and dependence.json (+ figures)
    notebooks/                  data-exploration, candidate-definitions and <cid>.ipynb
    monitoring/                 the training baseline endpoints are monitored against
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class JobLayout:
    """The paths of one job's output directory ``root`` (nothing is created or read here)."""

    root: Path

    NOTEBOOKS = {"data-exploration": "data-exploration.ipynb",
                 "candidate-definitions": "candidate-definitions.ipynb"}

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def model(self) -> Path:
        """The winner's bundle directory."""
        return self.root / "model"

    @property
    def model_zip(self) -> Path:
        return self.root / "model.zip"

    def candidate_model(self, candidate_id: str) -> Path:
        """The bundle directory of a candidate other than the winner, once refitted."""
        return self.root / "candidates" / candidate_id / "model"

    @property
    def leaderboard_json(self) -> Path:
        return self.root / "leaderboard.json"

    @property
    def leaderboard_csv(self) -> Path:
        return self.root / "leaderboard.csv"

    @property
    def profile(self) -> Path:
        return self.root / "profile.json"

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"

    @property
    def data_csv(self) -> Path:
        return self.root / "data.csv"

    @property
    def trials(self) -> Path:
        return self.root / "trials"

    def manifest(self, candidate_id: str) -> Path:
        """The trial manifest of a candidate (a trial or the ensemble)."""
        return self.trials / f"{candidate_id}.json"

    @property
    def quality(self) -> Path:
        return self.root / "quality"

    @property
    def quality_rows(self) -> Path:
        """Each row's target and validation fold, shared by every candidate's ``oof.npy``."""
        return self.quality / "rows.npz"

    def quality_of(self, candidate_id: str) -> Path:
        """A candidate's quality directory: ``oof.npy``, ``report.json`` and figures."""
        return self.quality / candidate_id

    def oof(self, candidate_id: str) -> Path:
        return self.quality_of(candidate_id) / "oof.npy"

    def quality_report(self, candidate_id: str) -> Path:
        return self.quality_of(candidate_id) / "report.json"

    def explanations(self, candidate_id: str) -> Path:
        """A candidate's explanation directory: importance and dependence, with figures."""
        return self.root / "explanations" / candidate_id

    def importance(self, candidate_id: str) -> Path:
        return self.explanations(candidate_id) / "importance.json"

    def dependence(self, candidate_id: str) -> Path:
        return self.explanations(candidate_id) / "dependence.json"

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    def notebook(self, candidate_id: str) -> Path:
        """A candidate's notebook."""
        return self.notebooks / f"{candidate_id}.ipynb"

    def job_notebook(self, name: str) -> Path:
        """One of the job's own notebooks, by its name in :attr:`NOTEBOOKS`."""
        return self.notebooks / self.NOTEBOOKS[name]

    @property
    def monitoring(self) -> Path:
        """The training baseline (``automl.monitoring.baseline``)."""
        return self.root / "monitoring"
