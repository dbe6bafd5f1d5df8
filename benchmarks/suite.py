"""What the accuracy scripts share without importing any system under test (standard library only,
so that the tables load fast): the systems, the datasets folder and its manifest, metrics and edges.

Edge of ours against a peer (positive = ours better): for binary tasks the AUC difference
(ours - peer, in AUC points); otherwise the relative reduction of log loss or RMSE,
(peer - ours) / peer. The relative edge is relative for every task (for AUC (ours - peer) / peer).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SYSTEMS = ("automl", "automl+xgb+cb", "flaml", "autogluon", "lgbm")
OURS = "automl"
METRIC_LABEL = {"binary": "AUC", "multiclass": "log loss", "regression": "RMSE"}
METRIC_KEY = {"binary": "auc", "multiclass": "logloss", "regression": "rmse"}

Line = dict[str, Any]


def data_dir(arg: str | None = None) -> Path:
    """The datasets folder: --data-dir, else $AUTOML_DATASETS, else ../shared/datasets."""
    chosen = arg or os.environ.get("AUTOML_DATASETS") or REPO.parent / "shared" / "datasets"
    return Path(chosen).resolve()


def read_manifest(folder: Path) -> dict[str, dict[str, str]]:
    """MANIFEST.tsv rows keyed by dataset name, in file order."""
    with open(folder / "MANIFEST.tsv", newline="", encoding="utf-8") as fh:
        rows = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {row["name"]: row for row in rows}


def metric(line: Line) -> float:
    """The line's metric in the table's units: AUC, log loss or RMSE."""
    return float(line[METRIC_KEY[line["task"]]])


def edge(task: str, ours: float, peer: float) -> float:
    """AUC difference for binary; relative reduction of log loss / RMSE otherwise."""
    return ours - peer if task == "binary" else (peer - ours) / peer


def rel_edge(task: str, ours: float, peer: float) -> float:
    """Relative edge for every task: for AUC (ours - peer) / peer."""
    return (ours - peer) / peer if task == "binary" else (peer - ours) / peer


def fmt_edge(task: str, value: float) -> str:
    """An edge in its units: '+0.0030 AUC' or '+1.25 %'."""
    return f"{value:+.4f} AUC" if task == "binary" else f"{value * 100:+.2f} %"


def ok(line: Line | None) -> bool:
    """A line that exists and did not fail."""
    return line is not None and not line.get("failed")


def fnum(value: Any, digits: int = 4) -> str:
    """A table cell: floats to `digits` places, None as empty."""
    if value is None:
        return ""
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)
