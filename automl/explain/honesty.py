"""Leaderboard honesty: say so when the winner is not clearly better than the runner-up."""

from __future__ import annotations

import pandas as pd


def close_call(leaderboard: pd.DataFrame) -> str | None:
    """A message when the top two completed rows differ by less than their spread, else None.

    The spread is the larger of the two rows' fold standard deviations (``score_std``).
    """
    done = leaderboard[leaderboard["state"].astype(str) == "complete"]
    done = done.sort_values("rank") if "rank" in done else done
    if len(done) < 2:
        return None
    first, second = done.iloc[0], done.iloc[1]
    gap = abs(float(first["score"]) - float(second["score"]))
    spread = max(float(first["score_std"] or 0.0), float(second["score_std"] or 0.0))
    if gap >= spread:
        return None
    return (f"close call: {first['candidate_id']} ({first['score']:.4g}) and "
            f"{second['candidate_id']} ({second['score']:.4g}) differ by {gap:.2g}, less than "
            f"the spread of their fold scores ({spread:.2g}); either may be best on new data")
