"""What a job leaves behind: the bundle's metadata and the output directory's files."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from automl.jsonable import dumps
from automl.layout import JobLayout
from automl.leaderboard import leaderboard_json
from automl.model.bundle import provenance
from automl.search.budget import slowdown
from automl.search.records import CandidateResult, bundle_fields

if TYPE_CHECKING:
    from automl.engine.context import JobContext, JobResult

log = logging.getLogger(__name__)


def bundle_metadata(ctx: JobContext, winner: CandidateResult, finalized: dict,
                    notes: list[dict]) -> dict:
    """The bundle's ``metadata.json``: what the winner is, how it was made, on what data."""
    profile, metric, settings = ctx.profile, ctx.metric, ctx.settings
    return {"target": profile.target, "metric": metric.name,
            "input_columns": [c.name for c in profile.columns if c.name != profile.target],
            "greater_is_better": metric.greater_is_better, **bundle_fields(winner),
            "finalized": finalized, "seed": settings.seed,
            "data_hash": profile.data_hash, "n_rows": profile.n_rows,
            **provenance(settings.families), "warnings": notes}


EXPLAIN_S = 2.0  # an idle machine's seconds for the winner's explanations and reports


def write_artifacts(result: JobResult, output: Path, exploration: bool = True,
                    until: float | None = None) -> None:
    """The output directory: model/, leaderboard.csv/.json, profile.json, settings.json, trials/,
    and (when the data is a file) notebooks/, explanations/ and quality/. The explanations are
    left out, and the job says so, when they would not end by ``until`` (the budget's end) on
    a machine as contended as the trials found it (:func:`automl.search.budget.slowdown`)."""
    layout = JobLayout(output)
    output.mkdir(parents=True, exist_ok=True)
    explain = until is None or time.time() + EXPLAIN_S * slowdown(result.results) < until
    if not explain and result.data_path is not None:
        result.warnings.append({"code": "explanations_skipped", "message": (
            "the winner's explanations were not computed: the time budget was spent; compute "
            "them from the candidate's page (or POST .../explanation), or give a larger budget")})
    result.bundle.save(layout.model)
    board = result.leaderboard.copy()
    board["params"] = board["params"].map(lambda p: json.dumps(p, default=str))
    board.to_csv(layout.leaderboard_csv, index=False)
    write_leaderboard(result, output)
    _dump(layout.profile, result.profile.to_dict())
    _dump(layout.settings, result.settings.to_dict())
    layout.trials.mkdir(exist_ok=True)
    for r in result.results:
        _dump(layout.manifest(r.candidate_id), r.manifest(result.trials.get(r.candidate_id)))
    if result.data_path is not None:
        _write_transparency(result, output, exploration, explain)
    if result.baseline is not None:
        result.baseline.with_importance_file(
            layout.importance(result.winner.candidate_id)).save(layout.monitoring)


def write_leaderboard(result: JobResult, output: Path) -> None:
    """``leaderboard.json``: the ranked rows and the job's warnings (as they stand now)."""
    _dump(JobLayout(output).leaderboard_json,
          {**leaderboard_json(result.results, result.metric), "warnings": result.warnings})


def _write_transparency(result: JobResult, output: Path, exploration: bool,
                        explain: bool) -> None:
    from automl.explain.transparency import write_transparency

    try:
        quality_for = [r.candidate_id for r in result.results if r.members]
        timings = write_transparency(result, output, result.data_path, exploration=exploration,
                                     quality_for=None if exploration else quality_for,
                                     data_name=result.data_name, explain=explain)
        result.timings["transparency_s"] = timings.get("total_s")
    except Exception:  # noqa: BLE001 - reports must never lose a finished job
        log.exception("notebooks or explanations could not be written")


def _dump(path: Path, obj) -> None:
    path.write_text(dumps(obj, indent=2))

