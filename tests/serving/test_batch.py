"""Batch prediction: chunked CSV in, CSV out, rows in order, the same answers as the bundle."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from automl.exceptions import DatasetError, SchemaError
from automl.serving.batch import predict_csv, prediction_frame, stream_predictions


def _csv_bytes(frame: pd.DataFrame, **kwargs) -> bytes:
    return frame.to_csv(index=False, **kwargs).encode()


def test_stream_predictions_in_chunks_equals_one_shot(titanic, titanic_rows):
    pieces = list(stream_predictions(titanic, io.BytesIO(_csv_bytes(titanic_rows)), chunk_rows=7))
    assert len(pieces) == 6
    assert pieces[0].startswith(b"prediction,probability_0,probability_1\n")
    assert all(not p.startswith(b"prediction") for p in pieces[1:])
    out = pd.read_csv(io.BytesIO(b"".join(pieces)))
    expected = prediction_frame(titanic, titanic_rows)
    assert out["prediction"].tolist() == expected["prediction"].tolist()
    assert np.allclose(out[["probability_0", "probability_1"]], expected.iloc[:, 1:])


def test_stream_sniffs_delimiter_and_reads_text_files(abalone, abalone_rows):
    text = abalone_rows.to_csv(index=False, sep=";")
    out = pd.read_csv(io.BytesIO(b"".join(stream_predictions(abalone, io.StringIO(text)))))
    assert np.allclose(out["prediction"], abalone.predict(abalone_rows))


def test_stream_accepts_a_utf8_bom(abalone, abalone_rows):
    body = b"\xef\xbb\xbf" + _csv_bytes(abalone_rows.head(3))
    assert len(b"".join(stream_predictions(abalone, io.BytesIO(body))).splitlines()) == 4


def test_stream_errors(abalone, abalone_rows):
    with pytest.raises(DatasetError):
        list(stream_predictions(abalone, io.BytesIO(b"  \n")))
    with pytest.raises(SchemaError, match="Length"):
        list(stream_predictions(abalone, io.BytesIO(_csv_bytes(abalone_rows.drop(columns="Length")))))


def test_predict_csv_writes_every_row_in_order(tmp_path, abalone_dir, abalone, abalone_rows):
    big = pd.concat([abalone_rows] * 30, ignore_index=True)
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    big.to_csv(source, index=False)
    assert predict_csv(abalone_dir, source, output, chunk_rows=100) == len(big)
    out = pd.read_csv(output)
    assert list(out.columns) == ["prediction"] and len(out) == len(big)
    assert np.allclose(out["prediction"], abalone.predict(big))


def test_prediction_csv_is_what_pandas_writes(titanic, titanic_rows, abalone, abalone_rows):
    """The fast CSV writer gives the text of prediction_frame(...).to_csv, header or not."""
    from automl.serving.batch import prediction_csv

    for bundle, rows in ((titanic, titanic_rows), (abalone, abalone_rows)):
        expected = prediction_frame(bundle, rows).to_csv(index=False)
        assert prediction_csv(bundle, rows, header=True) == expected
        assert prediction_csv(bundle, rows, header=False) == expected.split("\n", 1)[1]


def test_batch_output_escapes_formula_labels(tmp_path):
    import automl

    rows = 40
    labels = ["=cmd|' /C calc'!A0" if i % 2 else "@SUM(1)" for i in range(rows)]
    frame = pd.DataFrame({"x": np.arange(rows) % 2 * 1.0 - 3, "label": labels})
    bundle = automl.fit(frame, "label", time_budget=None, max_candidates=1, seed=0).model
    text = b"".join(stream_predictions(bundle, io.BytesIO(frame.to_csv(index=False).encode())))
    header, *lines = text.decode().splitlines()
    assert header == "prediction,probability_=cmd|' /C calc'!A0,probability_@SUM(1)"  # inert
    assert {line.split(",")[0] for line in lines} == {"'=cmd|' /C calc'!A0", "'@SUM(1)"}
    assert all(float(v) >= 0 for line in lines for v in line.split(",")[1:])


def test_predict_csv_with_the_input_keeps_every_value_as_written(tmp_path, titanic_dir, titanic,
                                                                 sample_data):
    source = tmp_path / "new rows.csv"
    lines = (sample_data / "titanic.csv").read_text().splitlines(keepends=True)
    source.write_text("".join(lines[:41]))
    plain, joined = tmp_path / "plain.csv", tmp_path / "joined.csv"
    assert predict_csv(titanic_dir, source, plain, chunk_rows=15) == 40
    assert predict_csv(titanic_dir, source, joined, chunk_rows=15, include_input=True) == 40
    text = pd.read_csv(source, dtype=str, keep_default_na=False)
    out = pd.read_csv(joined, dtype=str, keep_default_na=False)
    assert list(out.columns) == list(text.columns) + ["prediction", "probability_0",
                                                      "probability_1"]
    pd.testing.assert_frame_equal(out[text.columns], text)
    pd.testing.assert_frame_equal(out.drop(columns=text.columns),
                                  pd.read_csv(plain, dtype=str, keep_default_na=False))


def test_batch_gives_the_pipelines_numbers_on_missing_and_unseen_values(titanic, titanic_rows):
    """CSV in, CSV out through the compiled frame path: blanks, a category never seen in
    training and words never seen give exactly what the fitted pipeline gives."""
    from automl.model.pipeline import predict_matrix

    rows = titanic_rows.copy()
    rows.loc[rows.index[:6], "Age"] = ""
    rows.loc[rows.index[3:9], "Embarked"] = "Atlantis"
    rows.loc[rows.index[5:12], "Name"] = "Zebra, Sir Unicorn Quux"
    rows.loc[rows.index[12], "Name"] = ""
    out = pd.read_csv(io.BytesIO(b"".join(stream_predictions(titanic, io.BytesIO(_csv_bytes(rows)),
                                                             chunk_rows=16))))
    parsed = pd.read_csv(io.BytesIO(_csv_bytes(rows)), keep_default_na=False, na_values=[""])
    expected = predict_matrix(titanic.model, titanic.prepare(parsed), "binary", 2)
    np.testing.assert_allclose(out[["probability_0", "probability_1"]], expected, rtol=1e-9, atol=1e-12)
