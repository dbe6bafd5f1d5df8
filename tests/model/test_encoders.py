"""The compiled encoders' pieces give the fitted transformers' own output."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from automl.model.encoders import tfidf

DOCS = ["Braund, Mr. Owen Harris", "Cumings, Mrs. John Bradley (Florence Briggs Thayer)",
        "Heikkinen, Miss. Laina", "Futrelle, Mrs. Jacques Heath (Lily May Peel)",
        "Allen, Mr. William Henry", "Moran, Mr. James", "McCarthy, Mr. Timothy J"] * 3


def test_tfidf_is_the_vectorizers_own_matrix():
    """Unseen words, upper case, accents, one-letter words and empty text: the same matrix
    as ``transform``, for the recipes' vectorizer and for another configuration."""
    new = ["", "  ", "MR. OWEN owen Owen", "Émile Zola ß straße", "a b c", "Zebra, Sir Unicorn"]
    for vectorizer in (TfidfVectorizer(min_df=2, sublinear_tf=True, ngram_range=(1, 2)),
                       TfidfVectorizer(ngram_range=(1, 3), stop_words=["mr"])):
        vectorizer.fit(DOCS)
        expected, actual = vectorizer.transform(DOCS + new), tfidf(vectorizer, DOCS + new)
        assert type(actual) is type(expected)
        np.testing.assert_array_equal(actual.indptr, expected.indptr)
        np.testing.assert_array_equal(actual.indices, expected.indices)
        np.testing.assert_array_equal(actual.data, expected.data)


def test_lean_terms_are_the_analyzers_terms():
    """One row's text takes the lean terms: the analyzer's own terms, in order."""
    from automl.model.encoders import lean_terms

    texts = DOCS + ["", "  ", "MR. OWEN owen Owen", "Émile Zola ß straße", "a b c", "İ x_y 12 3"]
    for ngrams in ((1, 1), (1, 2)):
        vectorizer = TfidfVectorizer(ngram_range=ngrams).fit(DOCS)
        analyze, terms = vectorizer.build_analyzer(), lean_terms(vectorizer)
        assert [terms(t) for t in texts] == [analyze(t) for t in texts]
    assert lean_terms(TfidfVectorizer(ngram_range=(1, 3)).fit(DOCS)) is None


def test_tfidf_vectorizes_each_distinct_text_once(monkeypatch):
    """A batch repeating texts analyses each distinct text once, and gives every row its own
    text's weights, in order."""
    from automl.model import encoders

    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)).fit(DOCS)
    analysed = []
    lean = encoders.lean_terms(vectorizer)
    monkeypatch.setattr(encoders, "lean_terms",
                        lambda v: lambda doc: analysed.append(doc) or lean(doc))
    docs = DOCS[::-1] + ["Moran, Mr. James", ""]
    actual = tfidf(vectorizer, docs)
    assert sorted(analysed) == sorted(set(docs))
    expected = vectorizer.transform(docs)
    np.testing.assert_array_equal(actual.indptr, expected.indptr)
    np.testing.assert_array_equal(actual.indices, expected.indices)
    np.testing.assert_array_equal(actual.data, expected.data)
