"""Monitoring thresholds: every default in one place, with where it comes from.

| threshold | default | source of the default |
|---|---|---|
| ``psi`` | 0.1 | Evidently's PSI test flags drift at PSI >= 0.1; the credit-scoring rule of thumb reads < 0.1 as stable, 0.1-0.25 as a moderate and > 0.25 as a major shift (``psi_major``) |
| ``js_distance`` | 0.1 | Evidently's default for categorical columns on more than 1,000 rows (Jensen-Shannon distance >= 0.1) |
| ``datatype_check_threshold`` | 0.1 | SageMaker Model Monitor's ``monitoring_config`` default |
| ``domain_content_threshold`` | 0.1 | SageMaker Model Monitor's ``monitoring_config`` default (share of values outside the baseline's domain) |
| ``ndcg`` | 0.9 | SageMaker Clarify's feature-attribution drift alarm (nDCG < 0.9) |
| ``dataset_drift_share`` | 0.5 | Evidently's dataset-drift rule (drift in at least half the columns) |
| ``completeness_tolerance`` | 0.05 | ours: completeness more than 5 points below the baseline's |
| ``range_tolerance`` | 0.01 | ours: more than 1 % of a numeric column outside the training range |
| ``quality_tolerance`` | 0.05 | ours: the measured metric more than 5 % worse than the cross-validated score |
| ``min_level_share`` | 0.01 | ours: rarer levels are pooled into "other" for the distance |
| ``confidence`` | 0.99 | ours: on a small window the drift threshold rises to the 99th percentile of the score under no drift (chi-square approximation), so that small windows do not raise false alarms |

The thresholds live in ``constraints.json``'s ``monitoring_config`` (Model Monitor's keys where
it has one), so a user edits them there; :meth:`Thresholds.from_constraints` reads them back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.1
    psi_major: float = 0.25
    js_distance: float = 0.1
    datatype_check_threshold: float = 0.1
    domain_content_threshold: float = 0.1
    ndcg: float = 0.9
    dataset_drift_share: float = 0.5
    completeness_tolerance: float = 0.05
    range_tolerance: float = 0.01
    quality_tolerance: float = 0.05
    min_level_share: float = 0.01
    confidence: float = 0.99
    min_rows: int = 30

    def monitoring_config(self) -> dict:
        """``constraints.json``'s ``monitoring_config``: Model Monitor's keys, then ours."""
        ours = {k: v for k, v in asdict(self).items()
                if k not in ("psi", "js_distance", "datatype_check_threshold",
                             "domain_content_threshold")}
        return {"evaluate_constraints": "Enabled", "emit_metrics": "Enabled",
                "datatype_check_threshold": self.datatype_check_threshold,
                "domain_content_threshold": self.domain_content_threshold,
                "distribution_constraints": {
                    "perform_comparison": "Enabled", "comparison_threshold": self.psi,
                    "comparison_method": "psi",
                    "categorical_comparison_threshold": self.js_distance,
                    "categorical_drift_method": "jensen_shannon"},
                **ours}

    @classmethod
    def from_constraints(cls, constraints: dict, **overrides) -> Thresholds:
        """The thresholds stored in a ``constraints.json`` dict, then ``overrides``."""
        config = constraints.get("monitoring_config", {})
        dist = config.get("distribution_constraints", {})
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in config.items() if k in names}
        if "comparison_threshold" in dist:
            values["psi"] = dist["comparison_threshold"]
        if "categorical_comparison_threshold" in dist:
            values["js_distance"] = dist["categorical_comparison_threshold"]
        return replace(cls(**values), **{k: v for k, v in overrides.items() if v is not None})
