"""The job's time budget, in one place: when the search stops, how long a trial may run, and
what the work after the search (ensemble, refit, bagging, artifacts) is expected to cost.

The budget is wall-clock for the whole job (DESIGN section 3): the search keeps a reserve for
the end of the job that grows with the fit times of its best trials, and the end of the job
spends only what is left. Estimates assume at most two fits side by side at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from automl.metrics import Metric
from automl.search.records import TrialResult

MIN_TRIAL_LIMIT_S = 10.0
SIMILAR_FACTOR = 4.0  # a family's trials may take this many times its slowest completed one
UNSEEN_SHARE = 0.4  # a family with nothing completed yet may take this share of the time left
BAG_SHARE = 0.10  # bagging is planned for only when it costs at most this share of the budget
MAX_SLOWDOWN = 6.0
RESERVE_SHARE = 0.5  # the end of the job never takes more than this share of the budget
FALLBACK_SHARE = 0.15  # kept for the fallback model while no trial has completed (at most 10 s)
MAX_FALLBACK_S = 10.0


def fallback_s(time_budget: float | None) -> float:
    """Seconds the end of a job keeps while no trial has completed: for the trials still
    running to finish in (:attr:`Budget.grace`), else for the fallback model."""
    return min(MAX_FALLBACK_S, FALLBACK_SHARE * (time_budget or 0.0))


def slowdown(results: list[TrialResult]) -> float:
    """How contended the machine is: the median, over completed trials, of the seconds each ran
    over the CPU seconds its worker got (1 when it had a core to itself, 3 beside two busy
    processes per core), at most ``MAX_SLOWDOWN``; 1 before any trial completed. The fixed
    costs of the end of the job (ensemble, baseline, notebooks, explanations) stretch as much.
    """
    ratios = [r.run_s / r.cpu_s for r in results if r.ok and r.cpu_s > 0.05]
    return float(np.clip(np.median(ratios), 1.0, MAX_SLOWDOWN)) if ratios else 1.0


@dataclass
class Budget:
    """When the search must stop: a wall-clock deadline and/or a number of trials.

    ``trial_timeout`` is the user's per-trial limit; ``None`` means the adaptive default of
    :meth:`trial_limit`. ``reserve`` gives the seconds kept for the end of the job, at the
    moment it is called (:meth:`EndCosts.reserve`). ``grace`` is how long past the search's
    deadline the trials running when none has completed yet may go on: the reserve keeps that
    time for a fallback model (:func:`fallback_s`), and a trial that holds its data and is part
    way through its folds is a better use of it than a fresh fit after it is killed.
    """

    deadline: float | None
    max_trials: int | None
    trial_timeout: float | None
    reserve: Callable[[], float] = field(default=lambda: 0.0)
    grace: float = 0.0

    def trial_limit(self, first: bool, similar_run_s: list[float]) -> float | None:
        """A new trial's own limit in seconds of its running (``None``: none).

        The job's first trial has none, so that a loaded machine still gets a model (the
        search's deadline holds all the same). The default follows what completed trials of the
        same family took (``SIMILAR_FACTOR`` times the slowest), or, for a family not seen yet,
        a share of the time left; never under ``MIN_TRIAL_LIMIT_S``.
        """
        if first:
            return None
        if self.trial_timeout is not None:
            return self.trial_timeout
        if self.deadline is None:
            return None
        if similar_run_s:
            return max(MIN_TRIAL_LIMIT_S, SIMILAR_FACTOR * max(similar_run_s))
        return max(MIN_TRIAL_LIMIT_S, UNSEEN_SHARE * max(0.0, self.time_left()))

    def search_deadline(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.reserve()

    def trial_deadline(self, completed: bool) -> float | None:
        """When a trial submitted now stops itself between folds: the search's deadline, plus
        the :attr:`grace` while no trial has ``completed``."""
        end = self.search_deadline()
        return end if end is None or completed else end + self.grace

    def time_left(self) -> float:
        end = self.search_deadline()
        return float("inf") if end is None else end - time.time()


@dataclass(frozen=True)
class EndCosts:
    """Seconds the end of a job costs, estimated from the trials' fit times on the folds.

    ``n_rows`` is the training rows, ``n_train`` the mean rows a fold trains on; ``baggable``
    says whether the winner may be bagged over the folds (:func:`automl.finalize.baggable`);
    ``artifacts`` whether notebooks, explanations and reports are written after the model.
    """

    time_budget: float | None
    n_jobs: int
    n_rows: int
    n_train: float
    n_folds: int
    baggable: bool
    artifacts: bool

    @classmethod
    def of(cls, y: np.ndarray, folds: list, time_budget: float | None, n_jobs: int,
           baggable: bool, artifacts: bool) -> EndCosts:
        """The costs of a job on target ``y`` with ``folds``."""
        n_train = np.mean([len(tr) for tr, _ in folds])
        return cls(time_budget, n_jobs, len(y), n_train, len(folds), baggable, artifacts)

    def reserve(self, results: list[TrialResult], metric: Metric) -> float:
        """Seconds the search keeps for ensembling, bagging (when it costs at most
        ``BAG_SHARE`` of the budget), refit and artifacts, after ``results`` so far: the fixed
        parts stretched by the machine's :func:`slowdown`, a fallback model's time while no
        trial has completed; never more than ``RESERVE_SHARE`` of the budget."""
        ok = [r for r in results if r.ok]
        top = sorted(ok, key=lambda r: metric.loss(r.score))[:3]
        parallel = self.parallel()
        refit_s = sum(r.fit_s for r in top) * self.n_rows / self.n_train / parallel
        budget = self.time_budget or 0
        bag_s = self.bagging_s(sum(r.fit_s for r in top) / parallel) if self.baggable else 0.0
        if bag_s > BAG_SHARE * budget:
            bag_s = 0.0  # bagging would starve the search: keep nothing for it
        slow = slowdown(ok)  # the in-process steps stretch less than kernels and workers do
        fixed = (1.0 + 0.03 * budget) * (1.0 + slow) / 2 + self.artifacts_s(slow)
        fallback = 0.0 if ok else fallback_s(budget)
        return min(RESERVE_SHARE * budget, fixed + fallback + 1.5 * refit_s + bag_s)

    def time_left(self, search_s: float) -> float:
        """Seconds left after a search of ``search_s`` (infinite without a time budget)."""
        return float("inf") if self.time_budget is None else self.time_budget - search_s

    def refit_s(self, members: list[TrialResult]) -> float:
        """Seconds to refit ``members`` on all rows, side by side on the workers."""
        scale = self.n_rows / self.n_train
        return sum(m.fit_s for m in members) * scale / max(1, min(self.n_jobs, len(members)))

    def bagging_s(self, fold_fit_s: float) -> float:
        """Seconds to check bagging and fit the bag, from the seconds of one fold's fit: the
        check's n(n-1)/2 fits on (n-2)/(n-1) of a fold's rows, then n fold fits."""
        n = self.n_folds
        return fold_fit_s * (n * (n - 2) / 2 + n)

    def artifacts_s(self, slow: float = 1.0) -> float:
        """Seconds kept for notebooks, explanations and reports after the model is final, on
        a machine ``slow`` times slower than an idle one."""
        return (2.0 + 0.03 * (self.time_budget or 0)) * slow if self.artifacts else 0.0

    def parallel(self) -> int:
        """Fits side by side at the end of a job (the estimates assume at most two workers)."""
        return max(1, min(self.n_jobs, 2))

    def bag_check_end(self, members: list[TrialResult], search_s: float) -> float | None | bool:
        """When the bagging check of ``members`` must end (``None``: no time budget), or
        ``False`` to skip it: the folds cannot be bagged, or the check, the bag and a refit
        do not fit in the time left."""
        if not self.baggable:
            return False
        if self.time_budget is None:
            return None
        fold_fits = sum(m.fit_s for m in members) / self.parallel()
        spare = self.time_left(search_s) - self.artifacts_s(slowdown(members)) \
            - self.refit_s(members)
        if self.bagging_s(fold_fits) > spare:
            return False
        return time.time() + spare - self.n_folds * fold_fits
