"""The runner's side of retraining that needs no service: one runner at a time finishes a
retraining (the marker's lock), and a finished one is never claimed again."""

from __future__ import annotations

from automl.endpoint_retrain import PENDING, _claimed


def test_one_process_at_a_time_holds_a_pending_retraining(tmp_path):
    marker = tmp_path / PENDING
    marker.touch()
    with _claimed(marker) as first, _claimed(marker) as second:
        assert first and not second, "a second runner finds it taken"
    with _claimed(marker) as again:
        assert again, "the lock went with the first holder"
    marker.unlink()
    with _claimed(marker) as gone:
        assert not gone, "finished: the marker is gone"
