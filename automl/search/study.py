"""The search loop: Optuna ask/tell in this process, trials evaluated on an executor.

Each candidate (family) has its own Optuna study whose first trials are the family's default
portfolio; the portfolio runs first (cheapest families first), then the next trial's family is
drawn with weight 2^-rank of the family's best score, so good families get most of the budget.
With a time budget the loop keeps every worker busy and tells results as they arrive; without
one (the reproducible mode) it asks and tells in fixed batches, so the outcome depends only on
the seed.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field

import numpy as np
import optuna

from automl.candidates.base import CandidateSpec, to_distributions
from automl.metrics import Metric
from automl.search.budget import Budget
from automl.search.evaluate import evaluate
from automl.search.executor_base import TaskTimeout, TrialExecutor
from automl.search.records import (
    STOPPED_AT_BUDGET,
    TrialResult,
    TrialSpec,
    TrialState,
    over_limit,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)
STOP_GRACE_S = 0.5
KILL_GRACE_S = 1.0  # past its limit, a trial in a long fold is killed this much later
ABANDON_S = 3.0  # past the search deadline, trials not stopped yet are given up


@dataclass
class _Family:
    spec: CandidateSpec
    study: optuna.Study
    distributions: dict
    losses: list[float] = field(default_factory=list)
    failures: int = 0


class Search:
    """Run trials for ``specs`` until the budget is spent; see the module doc."""

    def __init__(self, specs: list[CandidateSpec], data_ref, metric: Metric,
                 executor: TrialExecutor,
                 budget: Budget, seed: int, n_parallel: int,
                 on_result: Callable[[TrialResult], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 on_submit: Callable[[TrialSpec], None] | None = None,
                 prior: Iterable[TrialResult] = ()):
        self.metric, self.executor, self.budget, self.seed = metric, executor, budget, seed
        self.data_ref, self.n_parallel = data_ref, n_parallel
        self.on_result = on_result or (lambda r: None)
        self.on_submit = on_submit or (lambda spec: None)
        self.should_stop = should_stop or (lambda: False)
        self.families = {s.name: self._family(i, s) for i, s in enumerate(specs)}
        self.results: list[TrialResult] = []
        self.trials: dict[str, TrialSpec] = {}
        self._pending: dict[Future, tuple[TrialSpec, optuna.trial.Trial]] = {}
        self._asked = 0  # trials asked for, a resumed job's recorded ones included
        self._number = 0  # the next trial's number
        self._submitted = 0  # trials this process sent to the executor
        self.portfolio = self._resume(specs, sorted(prior, key=lambda r: r.number))

    def _family(self, index: int, spec: CandidateSpec) -> _Family:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(seed=self.seed + index, multivariate=True,
                                                 n_startup_trials=5, constant_liar=True)
        study = optuna.create_study(direction="minimize", sampler=sampler, study_name=spec.name)
        return _Family(spec, study, to_distributions(spec.space))

    def _resume(self, specs: list[CandidateSpec], prior: list[TrialResult]) -> list[str]:
        """Tell each family's study the trials recorded before a restart (``prior``; none for
        a new job), then queue the portfolio's defaults that none of them ran; returns the
        portfolio left, in its order (cheapest families first, then round by round)."""
        tried: dict[str, list[TrialResult]] = {name: [] for name in self.families}
        for result in prior:
            name = spec_name(result.candidate_id)
            if name in self.families:
                self._replay(self.families[name], result)
                tried[name].append(result)
        portfolio = []
        for i in range(max(len(s.defaults) for s in specs)):
            for spec in (s for s in specs if i < len(s.defaults)):
                params = spec.defaults[i]
                done = next((r for r in tried[spec.name] if _same(r.params, params)), None)
                if done is not None:
                    tried[spec.name].remove(done)
                    continue
                self.families[spec.name].study.enqueue_trial(params)
                portfolio.append(spec.name)
        return portfolio

    def _replay(self, family: _Family, result: TrialResult) -> None:
        """Count one recorded trial as if this search had run it (its study learns from it)."""
        self.trials[result.candidate_id] = TrialSpec(
            candidate_id=result.candidate_id, number=result.number, spec=family.spec,
            params=dict(result.params), seed=self.seed, metric=self.metric.name)
        ok = result.ok and result.score is not None and bool(np.isfinite(result.score))
        loss = self.metric.loss(result.score) if ok else None
        if ok:
            family.losses.append(loss)
        else:
            family.failures += 1
        names = [k for k in family.distributions if k in result.params]
        with contextlib.suppress(ValueError):  # a default outside the space: the family's
            family.study.add_trial(optuna.trial.create_trial(  # ranking still counts it
                params={k: result.params[k] for k in names},
                distributions={k: family.distributions[k] for k in names}, value=loss,
                state=optuna.trial.TrialState.COMPLETE if ok else optuna.trial.TrialState.FAIL))
        self.results.append(result)
        self._asked += 1
        self._number = max(self._number, result.number + 1)

    def run(self) -> list[TrialResult]:
        """Run the search; returns every trial's result in the order they were asked."""
        batch_mode = self.budget.deadline is None
        while not self._finished_asking():
            while len(self._pending) < self.n_parallel and not self._finished_asking():
                self._submit()
            self._collect(wait_all=batch_mode)
        while self._pending:
            self._collect(wait_all=True)
        return sorted(self.results, key=lambda r: r.number)

    def _finished_asking(self) -> bool:
        if self.should_stop() or self.executor.broken:
            return True
        if self.budget.max_trials is not None and self._asked >= self.budget.max_trials:
            return True
        if not any(f.failures < 3 or f.losses for f in self.families.values()):
            return True
        return self.budget.time_left() <= 0

    def _submit(self) -> None:
        family = self.families[self._next_family()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = family.study.ask(family.distributions)
        completed = self._completed()
        number, first = self._number, self._submitted == 0 and not completed
        self._number, self._asked, self._submitted = number + 1, self._asked + 1, self._submitted + 1
        similar = [r.run_s for r in self.results if r.ok and r.family == family.spec.family]
        limit = self.budget.trial_limit(first, similar)
        spec = TrialSpec(
            candidate_id=f"{family.spec.name}_{number:03d}", number=number, spec=family.spec,
            params=dict(trial.params), seed=self.seed, metric=self.metric.name,
            deadline=self.budget.trial_deadline(completed), time_limit=limit,
        )
        self.trials[spec.candidate_id] = spec
        timeout = None if limit is None else limit + KILL_GRACE_S
        future = self.executor.submit(evaluate, spec, self.data_ref, timeout=timeout)
        self._pending[future] = (spec, trial)
        self.on_submit(spec)

    def _next_family(self) -> str:
        if self.portfolio:
            return self.portfolio.pop(0)
        ranked = sorted((f for f in self.families.values() if f.losses),
                        key=lambda f: min(f.losses))
        if not ranked:
            ranked = [f for f in self.families.values() if f.failures < 3]
        weights = np.array([2.0 ** -i for i in range(len(ranked))])
        rng = np.random.default_rng([self.seed, self._asked])
        return ranked[rng.choice(len(ranked), p=weights / weights.sum())].spec.name

    def _collect(self, wait_all: bool) -> None:
        if not self._pending:
            return
        timeout = None if wait_all and self.budget.deadline is None else 0.5
        done, _ = wait_futures(list(self._pending), timeout=timeout,
                               return_when="ALL_COMPLETED" if wait_all else FIRST_COMPLETED)
        self._stop_overdue(done)
        for future in sorted(done, key=lambda f: self._pending[f][0].number):
            spec, trial = self._pending.pop(future)
            self._record(spec, trial, self._result(future, spec))
        if self.budget.time_left() < -ABANDON_S - self._grace():
            self._abandon()

    def _completed(self) -> bool:
        return any(r.ok for r in self.results)

    def _grace(self) -> float:
        """Seconds the trials running may go on past the search's deadline: the budget's
        grace while no trial has completed (a job must end with a model), else none."""
        return 0.0 if self._completed() else self.budget.grace

    def _abandon(self) -> None:
        """Give up on trials still pending well past the search deadline: on a machine so
        busy that their workers have not even started (or stopped), the job must not wait for
        them. The executor stops them when it shuts down."""
        for future, (spec, trial) in sorted(self._pending.items(), key=lambda kv: kv[1][0].number):
            self.executor.stop(future, STOPPED_AT_BUDGET)
            self._record(spec, trial, _lost(spec, TrialState.TIMED_OUT, STOPPED_AT_BUDGET))
        self._pending.clear()

    def _stop_overdue(self, done: set) -> None:
        """Stop running trials once the search deadline has passed. A trial's own deadline was
        set when it started; the deadline moves earlier as results show what the refit will
        cost, and the job must still end within its budget. While none has completed, they
        run on for the budget's grace (the time kept for a fallback model)."""
        if self.budget.time_left() > -STOP_GRACE_S - self._grace():
            return
        for future in self._pending:
            if future not in done:
                self.executor.stop(future, STOPPED_AT_BUDGET)

    def _result(self, future: Future, spec: TrialSpec) -> TrialResult:
        try:
            return future.result()
        except TaskTimeout as exc:
            return _timed_out(spec, exc)
        except CancelledError:
            return _lost(spec, TrialState.TIMED_OUT, STOPPED_AT_BUDGET)
        except Exception as exc:
            return _lost(spec, TrialState.FAILED, str(exc).splitlines()[0][:300])

    def _record(self, spec: TrialSpec, trial, result: TrialResult) -> None:
        family = self.families[spec.spec.name]
        if result.ok and np.isfinite(result.score):
            loss = self.metric.loss(result.score)
            family.losses.append(loss)
            family.study.tell(trial, loss)
        else:
            if result.ok:
                result.state, result.reason = TrialState.FAILED, "score is not finite"
            family.failures += 1
            family.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        self.results.append(result)
        self.on_result(result)


def spec_name(candidate_id: str) -> str:
    """The candidate spec a trial's id names (ids are ``<spec name>_<number>``)."""
    return candidate_id.rsplit("_", 1)[0]


def _same(params: dict, default: dict) -> bool:
    """Whether a trial ran with a portfolio default: the default's values it was asked with."""
    return all(params.get(k) == v for k, v in default.items() if k in params)


def _timed_out(spec: TrialSpec, exc: TaskTimeout) -> TrialResult:
    """A trial its executor stopped: at its own limit, at the budget, or at shutdown."""
    if exc.limit_s is not None and spec.time_limit is not None:
        reason = over_limit(spec.time_limit)
    else:
        reason = str(exc) if str(exc).startswith("trial ") else f"trial {exc}"
    result = _lost(spec, TrialState.TIMED_OUT, reason)
    result.fit_s = result.run_s = exc.ran_s  # a timed-out row shows how long it ran
    return result


def _lost(spec: TrialSpec, state: TrialState, reason: str) -> TrialResult:
    return TrialResult.unfinished(spec, state, reason)
