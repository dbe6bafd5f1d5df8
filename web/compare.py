"""Jobs side by side: their settings and outcome, the best score of each model family, and
the top of each leaderboard (H2O Flow's and AutoGluon's leaderboard comparison)."""

from __future__ import annotations

from web.errors import InvalidRequest

MAX_JOBS = 10
TOP_ROWS = 10


def job_ids(values: list[str]) -> list[str]:
    """Job ids from ``?jobs=a,b`` or ``?jobs=a&jobs=b``, in order, each once; 2 to 10."""
    ids = list(dict.fromkeys(i.strip() for v in values for i in v.split(",") if i.strip()))
    if not 2 <= len(ids) <= MAX_JOBS:
        raise InvalidRequest(f"name 2 to {MAX_JOBS} jobs to compare, e.g. ?jobs=job_a,job_b; "
                             f"got {len(ids)}", {"jobs": ids})
    return ids


def compare(service, ids: list[str]) -> dict:
    """The comparison document of jobs ``ids`` (each must exist: 404 otherwise)."""
    jobs = [service.job(i) for i in ids]
    boards = [service.leaderboard(i) for i in ids]
    metrics = sorted({j["metric"] for j in jobs if j["metric"]})
    return {"jobs": [_summary(j, b) for j, b in zip(jobs, boards, strict=True)],
            "same_metric": len(metrics) <= 1,
            "same_dataset": len({j["dataset_id"] for j in jobs}) == 1,
            "families": _best_by_family(jobs, boards),
            "leaderboards": {j["id"]: b["rows"][:TOP_ROWS] for j, b in zip(jobs, boards, strict=True)}}


def _summary(job: dict, board: dict) -> dict:
    rows = board["rows"]
    winner = next((r for r in rows if r.get("rank") == 1), None)
    return {"id": job["id"], "dataset_id": job["dataset_id"], "target": job["target"],
            "metric": job["metric"], "greater_is_better": job["greater_is_better"],
            "status": job["status"], "time_budget": job["settings"].get("time_budget"),
            "elapsed_s": job["progress"].get("elapsed_s"),
            "winner": winner["candidate_id"] if winner else None,
            "score": winner["score"] if winner else None,
            "trials_completed": sum(r["state"] == "complete" for r in rows),
            "trials_other": sum(r["state"] != "complete" for r in rows)}


def _best_by_family(jobs: list[dict], boards: list[dict]) -> list[dict]:
    """Per family: its best completed score in each job (``None`` where it did not complete)."""
    table: dict[str, dict[str, float | None]] = {}
    for job, board in zip(jobs, boards, strict=True):
        better = max if job["greater_is_better"] else min
        for row in board["rows"]:
            if row["state"] != "complete" or row["score"] is None:
                continue
            cell = table.setdefault(row["family"], {}).get(job["id"])
            table[row["family"]][job["id"]] = (row["score"] if cell is None
                                               else better(cell, row["score"]))
    return [{"family": family, "scores": {j["id"]: scores.get(j["id"]) for j in jobs}}
            for family, scores in sorted(table.items())]
