"""Monitoring of deployed models: data capture, training baselines, drift and quality checks.

A sibling of ``search`` and ``serving`` (DESIGN section 2): it works on frames, arrays, the
bundle's ``schema.json`` / ``metadata.json`` dicts and prediction callables, never on the
bundle class, so the service, the standalone server and the CLI each wire it in with a few
calls:

- :class:`automl.monitoring.capture.CaptureWriter`: one per endpoint variant, ``capture(...)``
  after every answered request (never blocks, never raises);
- :func:`automl.monitoring.baseline.build_baseline` / ``write_baseline``: at training time;
- :func:`automl.monitoring.run.run_monitoring` / ``write_run``: a monitoring run over a window
  of captured data, with ground truth when there is some
  (:func:`automl.monitoring.quality.parse_ground_truth` validates an upload whole first);
- :func:`automl.monitoring.alerts.deliver_async`: the run's violations to a webhook.

Files follow SageMaker Model Monitor's layouts (data capture, ``statistics.json``,
``constraints.json``, ``constraint_violations.json``) so that tools written for it read ours.
"""
