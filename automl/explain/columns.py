"""Which original column each output feature of a fitted ``ColumnTransformer`` comes from."""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer


def column_of_features(ct: ColumnTransformer, n_features: int) -> list[str]:
    """The original column of every transformed feature, in output order.

    A transformer on one column owns all its outputs (text, one column's dates). On several
    columns, an output belongs to the longest input name it equals or starts with followed by
    ``_`` (one-hot ``col_value``, dates ``col__year``), or ``missingindicator_<col>``.
    """
    owners: list[str] = []
    for _, transformer, cols in ct.transformers_:
        if transformer == "drop":
            continue
        cols = [cols] if isinstance(cols, str) else [str(c) for c in _names(ct, cols)]
        if len(cols) == 0:
            continue
        if transformer == "passthrough" or len(cols) == 1 and transformer != "passthrough":
            n = len(cols) if transformer == "passthrough" else _n_out(transformer, cols)
            owners += cols if transformer == "passthrough" else cols * n
            continue
        owners += [_owner(str(name), cols) for name in transformer.get_feature_names_out(cols)]
    if len(owners) != n_features:
        raise ValueError(f"mapped {len(owners)} features back to columns, the model has {n_features}")
    return owners


def _names(ct: ColumnTransformer, cols) -> list:
    if len(cols) and isinstance(cols[0], int | np.integer) and hasattr(ct, "feature_names_in_"):
        return [ct.feature_names_in_[i] for i in cols]
    return list(cols)


def _n_out(transformer, cols: list[str]) -> int:
    return len(transformer.get_feature_names_out(cols))


def _owner(feature: str, cols: list[str]) -> str:
    matches = [c for c in cols
               if feature in (c, f"missingindicator_{c}") or feature.startswith(f"{c}_")]
    best = max(matches, key=len, default=None)
    if best is None:
        raise ValueError(f"cannot tell which column feature {feature!r} comes from")
    return best
