"""An executor for search tests that run no model: subclasses say what a submitted task gives."""

from __future__ import annotations

from automl.search.executor_base import TrialExecutor


class StubExecutor(TrialExecutor):
    """Data needs no shipping, stopping and shutting down do nothing; ``submit`` is the test's."""

    n_workers = 1

    def prepare_data(self, data_ref):
        return data_ref

    def submit(self, fn, *args, timeout=None, **kwargs):
        raise NotImplementedError

    def stop(self, future, reason):
        pass

    def shutdown(self, wait=True, *, cancel_futures=False):
        pass
