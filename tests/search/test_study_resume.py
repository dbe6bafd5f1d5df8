"""A search resumed from the trials recorded before a restart: none repeated, none lost."""

from __future__ import annotations

import zlib
from concurrent.futures import Future

from automl.candidates.base import DataShape
from automl.candidates.generator import generate_candidates
from automl.metrics import get_metric
from automl.search.records import TrialResult, TrialState
from automl.search.study import Budget, Search
from tests.search.stubs import StubExecutor


class _ScoringExecutor(StubExecutor):
    """Runs no model: a trial's score is a fixed function of its family and params."""

    def submit(self, fn, spec, data_ref, timeout=None):
        future = Future()
        score = zlib.crc32(repr((spec.spec.name, sorted(spec.params.items()))).encode()) / 2**32
        future.set_result(TrialResult(spec.candidate_id, spec.number, spec.spec.family,
                                      spec.spec.recipe, spec.params, TrialState.COMPLETE,
                                      score=0.5 + score / 2, fit_s=0.1))
        return future


def _search(n_trials: int, prior=()) -> Search:
    specs = generate_candidates(DataShape(500, 5, "binary", 2))
    return Search(specs, "unused", get_metric("auc", "binary"), _ScoringExecutor(),
                  Budget(None, n_trials, None), seed=0, n_parallel=2, prior=prior)


def test_a_resumed_search_runs_what_was_lost_and_repeats_nothing():
    whole = _search(8).run()
    # Killed with trials 0-2 and 4 recorded; trial 3 was on a worker and is lost.
    recorded = [TrialResult.from_dict(r.to_dict()) for r in whole if r.number != 3]
    resumed = _search(12, prior=recorded[:4])
    results = resumed.run()
    assert len(results) == 12
    assert [r.candidate_id for r in results[:4]] == [r.candidate_id for r in recorded[:4]]
    new = results[4:]
    assert all(r.number > 4 for r in new)
    assert len({r.candidate_id for r in results}) == 12
    lost = next(r for r in whole if r.number == 3)
    assert (new[0].family, new[0].params) == (lost.family, lost.params)
    ran = [(r.family, sorted(r.params.items())) for r in results]
    assert len(set(map(repr, ran))) == len(ran)  # no configuration twice
    assert set(resumed.trials) == {r.candidate_id for r in results}
