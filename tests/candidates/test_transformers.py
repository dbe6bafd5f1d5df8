"""The category encoders of the recipes: codes, rare and unseen categories, missing values."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.preprocessing import OrdinalEncoder

from automl.candidates.transformers import CategoryCodes, OneHotCategories


@pytest.fixture
def colours() -> pd.DataFrame:
    values = ["red"] * 50 + ["green"] * 30 + ["blue"] * 15 + ["teal"] * 3 + ["plum"] * 2
    frame = pd.DataFrame({"colour": values, "size": ["s", "m"] * 50}, dtype=object)
    frame.loc[[0, 1], "colour"] = np.nan
    return frame


def test_codes_match_scikit_learns_ordinal_encoder(colours):
    ours = CategoryCodes().fit(colours).transform(colours)
    theirs = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                            encoded_missing_value=np.nan).fit(colours).transform(colours)
    np.testing.assert_array_equal(ours, theirs)


def test_rare_categories_share_the_last_code(colours):
    enc = CategoryCodes(max_categories=4).fit(colours)
    assert list(enc.categories_[0]) == ["blue", "green", "red"]  # the three most frequent
    codes = enc.transform(pd.DataFrame({"colour": ["teal", "plum", "red"], "size": ["s"] * 3}))
    assert list(codes[:, 0]) == [3.0, 3.0, 2.0]


def test_unseen_category_takes_other_or_the_unknown_value(colours):
    new = pd.DataFrame({"colour": ["mauve"], "size": ["xl"]})
    codes = CategoryCodes(max_categories=4, unknown_value=-1, missing_value=-2).fit(colours).transform(new)
    assert list(codes[0]) == [3.0, -1.0]  # colour has an "other" code, size does not
    missing = pd.DataFrame({"colour": [np.nan], "size": [None]})
    assert list(CategoryCodes(missing_value=-2).fit(colours).transform(missing)[0]) == [-2.0, -2.0]


def test_lookup_gives_the_same_codes_as_transform(colours):
    enc = CategoryCodes(max_categories=4).fit(colours)
    table, missing, unseen = enc.lookup(0)
    rows = ["red", "blue", "plum", "mauve"]
    expected = enc.transform(pd.DataFrame({"colour": rows, "size": ["s"] * 4}))[:, 0]
    assert [table.get(v, unseen) for v in rows] == list(expected)
    assert np.isnan(missing)


def test_one_hot_has_a_column_per_kept_category_other_and_missing(colours):
    enc = OneHotCategories(max_categories=10, min_frequency=5).fit(colours)
    names = list(enc.get_feature_names_out())
    assert names == ["colour_blue", "colour_green", "colour_red", "colour_(other)",
                     "colour_(missing)", "size_m", "size_s"]
    matrix = enc.transform(colours).toarray()
    assert matrix.shape == (100, 7)
    assert (matrix.sum(axis=1) == 2).all()  # one hot column per input column
    assert matrix[0, names.index("colour_(missing)")] == 1
    unseen = enc.transform(pd.DataFrame({"colour": ["mauve"], "size": ["xl"]})).toarray()[0]
    assert unseen[names.index("colour_(other)")] == 1 and unseen.sum() == 1


def test_encoders_clone_and_pickle(colours):
    for enc in (CategoryCodes(max_categories=4), OneHotCategories(min_frequency=5)):
        fitted = clone(enc).fit(colours)
        again = pickle.loads(pickle.dumps(fitted))
        np.testing.assert_array_equal(_dense(again.transform(colours)),
                                      _dense(fitted.transform(colours)))


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if hasattr(matrix, "toarray") else matrix
