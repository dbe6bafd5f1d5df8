"""Reading CSV dialects and encodings the way users' files come."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.data.intake import read_table
from automl.exceptions import DatasetError


def write(tmp_path, name, content, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def test_utf8_bom_and_quoted_fields(tmp_path):
    path = write(tmp_path, "bom.csv", '\ufeffname,comment,y\n"Smith, J","said ""hi""",1\nLee,ok,0\n')
    df = read_table(path)
    assert list(df.columns) == ["name", "comment", "y"]
    assert df.loc[0, "name"] == "Smith, J"
    assert df.loc[0, "comment"] == 'said "hi"'


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path, sep):
    rows = [sep.join(["a", "b", "y"])] + [sep.join([str(i), f"{i / 3:.2f}", str(i % 2)]) for i in range(20)]
    df = read_table(write(tmp_path, "d.csv", "\n".join(rows) + "\n"))
    assert list(df.columns) == ["a", "b", "y"]
    assert df.shape == (20, 3)


def test_missing_markers(tmp_path):
    df = read_table(write(tmp_path, "na.csv", "a,b,y\n1,?,0\nNA,x,1\n,y,0\n4,N/A,1\n"))
    assert df["a"].isna().sum() == 2
    assert df["b"].isna().sum() == 2


def test_windows_1252_file_is_read(tmp_path):
    df = read_table(write(tmp_path, "w.csv", "city,y\nMünchen,1\nZürich,0\n", encoding="cp1252"))
    assert df["city"].tolist() == ["München", "Zürich"]


def test_utf16_with_bom(tmp_path):
    df = read_table(write(tmp_path, "u16.csv", "a,y\n1,0\n2,1\n", encoding="utf-16"))
    assert df.shape == (2, 2)


def _bad_byte_at(path, offset: int) -> tuple[int, int]:
    """The line and byte of ``path`` at ``offset``, as a user's editor would find them."""
    data = path.read_bytes()
    return data.count(b"\n", 0, offset) + 1, data[offset]


def test_a_byte_windows_1252_lacks_is_placed_by_its_line_in_the_file(tmp_path):
    """Past the first chunk a text reader decodes, the error still names the file's line."""
    rows = "city,y\n" + "".join(f"M\u00fcnchen {i},{i % 2}\n" for i in range(3000))
    data = rows.encode("cp1252")
    at = len(data) - 20
    path = write(tmp_path, "w.csv", data[:at] + b"\x81" + data[at:])
    with pytest.raises(DatasetError) as caught:
        read_table(path)
    line, byte = _bad_byte_at(path, at)
    assert caught.value.message.startswith(f"line {line}: byte 0x{byte:02x} is not valid Windows-1252")
    assert caught.value.details["byte_offset"] == at and line > 2900


def test_broken_utf8_right_after_a_character_split_between_reads(tmp_path):
    """The first MiB read ends inside a two-byte character; the next ends on a byte UTF-8
    never uses: a 400 naming that byte's line, not a server error."""
    mib = 1 << 20
    head = ("name,n\n" + "".join(f"caf\u00e9 {i},{i}\n" for i in range(100))).encode()
    data = head + b"a,1\n" * ((mib - 1 - len(head)) // 4)
    data += b"b" * (mib - 1 - len(data)) + "\u00e9".encode() + b",1\n" + b"a,1\n" * 10 + b"\xff"
    path = write(tmp_path, "split.csv", data)
    with pytest.raises(DatasetError) as caught:
        read_table(path)
    line, byte = _bad_byte_at(path, len(data) - 1)
    assert caught.value.message.startswith(f"line {line}: byte 0x{byte:02x} ")
    assert caught.value.details["byte_offset"] == len(data) - 1


def test_parquet(tmp_path):
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": ["x", "y", None], "y": [0, 1, 0]})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    df = read_table(path)
    assert df.shape == (3, 3) and df["a"].isna().sum() == 1


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="file not found"):
        read_table(tmp_path / "nope.csv")


def test_short_row_reported_with_line_number(tmp_path):
    with pytest.raises(DatasetError, match="line 3 has 2 fields but the header has 3"):
        read_table(write(tmp_path, "s.csv", "a,b,y\n1,2,0\n3,4\n"))


def test_blank_lines_are_skipped(tmp_path):
    assert read_table(write(tmp_path, "b.csv", "a,y\n1,0\n\n2,1\n\n")).shape == (2, 2)


def test_short_row_deep_in_a_large_file_is_reported_with_its_line(tmp_path):
    rows = ["a,b,y"] + [f"{i},{i % 7},{i % 2}" for i in range(3000)]
    rows[2500] = "5,0"
    with pytest.raises(DatasetError, match="line 2501 has 2 fields but the header has 3"):
        read_table(write(tmp_path, "deep.csv", "\n".join(rows) + "\n"))


def test_large_file_with_blank_lines_reads_every_row(tmp_path):
    rows = ["a,y"] + [f"{i},{i % 2}" + ("\n" if i % 500 == 0 else "") for i in range(3000)]
    assert read_table(write(tmp_path, "big.csv", "\n".join(rows) + "\n")).shape == (3000, 2)
