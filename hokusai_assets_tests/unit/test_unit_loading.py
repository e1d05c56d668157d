"""Unit tests for ``hokusai.intake.loading``: every format parses to the same frame; bad files explain themselves."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zlib

import pandas as pd
import pytest

from hokusai.intake.loading import ContributionFormatError, detect_format, load_contribution, profile_frame

EXPECTED = pd.DataFrame({
    "a": [1, 2, 3, 2],
    "b": [0.5, 1.25, -2.0, 0.5],
    "label": ["x", "y", "z", "x"],
})
RECORDS = EXPECTED.to_dict(orient="records")


def encode(file_format: str) -> bytes:
    if file_format == "csv":
        return EXPECTED.to_csv(index=False).encode()
    if file_format == "tsv":
        return EXPECTED.to_csv(index=False, sep="\t").encode()
    if file_format == "json":
        return json.dumps(RECORDS).encode()
    if file_format == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in RECORDS).encode()
    if file_format == "parquet":
        buffer = io.BytesIO()
        EXPECTED.to_parquet(buffer, index=False)
        return buffer.getvalue()
    raise AssertionError(file_format)


CASES = [
    ("data.csv", "csv", False),
    ("data.tsv", "tsv", False),
    ("data.json", "json", False),
    ("data.jsonl", "jsonl", False),
    ("data.ndjson", "jsonl", False),
    ("data.parquet", "parquet", False),
    ("data.csv.gz", "csv", True),
    ("data.tsv.gz", "tsv", True),
    ("data.json.gz", "json", True),
    ("data.jsonl.gz", "jsonl", True),
    ("DATA.CSV", "csv", False),
]


@pytest.mark.parametrize("filename, file_format, gzipped", CASES, ids=[c[0] for c in CASES])
def test_every_format_loads_the_same_frame(filename, file_format, gzipped):
    raw = encode(file_format)
    if gzipped:
        raw = gzip.compress(raw, mtime=0)
    loaded = load_contribution(raw, filename, f"s3://bucket/{filename}", "etag-1")
    pd.testing.assert_frame_equal(loaded.frame, EXPECTED, check_dtype=False)
    assert loaded.frame["a"].dtype == "int64" and loaded.frame["b"].dtype == "float64"
    manifest = loaded.manifest
    assert manifest["format"] == file_format and manifest["gzip"] is gzipped
    assert manifest["sha256"] == hashlib.sha256(raw).hexdigest()  # of the raw (possibly gzipped) bytes
    assert manifest["bytes"] == len(raw)
    assert manifest["source_uri"] == f"s3://bucket/{filename}" and manifest["etag"] == "etag-1"
    assert manifest["encoding"] == ("binary" if file_format == "parquet" else "utf-8")
    assert manifest["rows"] == 4
    assert manifest["columns"] == ["a", "b", "label"]
    assert manifest["nulls"] == {"a": 0, "b": 0, "label": 0}
    assert manifest["distinct"] == {"a": 3, "b": 3, "label": 3}


def test_manifest_counts_nulls_and_distinct_values():
    raw = b"a,b,c\n1,,x\n1,2.5,\n,2.5,\n"
    manifest = load_contribution(raw, "f.csv", "uri", "etag").manifest
    assert manifest["rows"] == 3
    assert manifest["nulls"] == {"a": 1, "b": 1, "c": 2}
    assert manifest["distinct"] == {"a": 1, "b": 1, "c": 1}
    assert manifest["dtypes"] == {"a": "float64", "b": "float64", "c": "object"}
    assert manifest["sha256"] == hashlib.sha256(raw).hexdigest() and manifest["bytes"] == len(raw)


def test_profile_frame_stringifies_column_names():
    profile = profile_frame(pd.DataFrame({0: [1, None], "x": ["a", "a"]}))
    assert profile == {
        "rows": 2, "columns": ["0", "x"], "dtypes": {"0": "float64", "x": "object"},
        "nulls": {"0": 1, "x": 0}, "distinct": {"0": 1, "x": 1},
    }


def test_utf8_bom_is_stripped():
    loaded = load_contribution("\ufeffa,naïve\n1,é\n".encode(), "f.csv", "uri", "etag")
    assert list(loaded.frame.columns) == ["a", "naïve"]
    assert loaded.frame["naïve"].tolist() == ["é"]


def test_same_content_different_bytes_different_sha():
    first = load_contribution(b"a,b\n1,2\n", "f.csv", "u", "e").manifest
    second = load_contribution(b"a,b\r\n1,2\r\n", "f.csv", "u", "e").manifest
    assert first["rows"] == second["rows"] == 1
    assert first["sha256"] != second["sha256"]


@pytest.mark.parametrize(
    "filename, expected",
    [
        ("x.csv", ("csv", False)),
        ("x.TSV", ("tsv", False)),
        ("archive.v2.json", ("json", False)),
        ("x.ndjson.gz", ("jsonl", True)),
        ("x.parquet", ("parquet", False)),
    ],
)
def test_detect_format(filename, expected):
    assert detect_format(filename) == expected


@pytest.mark.parametrize("filename", ["x.xlsx", "x", "x.parquet.gz", "x.gz", "csv", "x.csv.zip"])
def test_unsupported_extension(filename):
    with pytest.raises(ContributionFormatError, match=f"unsupported file type '{filename}'"):
        detect_format(filename)


ERRORS = [
    ("empty_csv", b"", "f.csv", "the file is empty"),
    ("blank_lines_csv", b"\n\n", "f.csv", "the file is empty"),
    ("empty_tsv", b"", "f.tsv", "the file is empty"),
    ("header_only_csv", b"a,b,c\n", "f.csv", "the file has a header but no data rows"),
    ("empty_json_array", b"[]", "f.json", "the file has no columns"),
    ("empty_jsonl", b"", "f.jsonl", "the file is empty"),
    ("bad_json", b"{not json", "f.json", "could not read the file as json"),
    ("bad_gzip", b"this is not gzip", "f.csv.gz", "the file is named .gz but is not valid gzip"),
    ("truncated_gzip", gzip.compress(b"a,b\n1,2\n")[:-6], "f.csv.gz", "the file is named .gz but the gzip stream is truncated"),
    ("binary_junk", b"\x00\x01\x02binary\xff\xfe junk", "f.csv", "the file looks binary"),
    ("bad_parquet", b"PAR1 definitely not parquet", "f.parquet", "could not read the file as parquet"),
    ("empty_parquet", b"", "f.parquet", "the file is empty"),
    ("ragged_csv", b"a,b\n1,2\n1,2,3,4\n", "f.csv", "could not read the file as csv"),
    ("unsupported", b"a,b\n1,2\n", "f.xlsx", "unsupported file type 'f.xlsx'"),
]


@pytest.mark.parametrize("raw, filename, message", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_unreadable_files_raise_a_readable_error(raw, filename, message):
    with pytest.raises(ContributionFormatError) as caught:
        load_contribution(raw, filename, "uri", "etag")
    text = str(caught.value)
    assert text.startswith(message), text
    assert "Traceback" not in text and "\n" not in text.strip()


def test_format_error_is_a_value_error():
    assert issubclass(ContributionFormatError, ValueError)


def corrupt_gzip_body() -> bytes:
    """A valid gzip header followed by an invalid deflate block."""
    good = gzip.compress(b"a,b\n1,2\n", mtime=0)
    return good[:10] + b"\xff" * 8 + good[18:]


def test_corrupt_gzip_body_is_a_format_error():
    with pytest.raises(ContributionFormatError, match="not valid gzip"):
        load_contribution(corrupt_gzip_body(), "f.csv.gz", "uri", "etag")


@pytest.mark.parametrize(
    "raw, filename",
    [
        (b"a\n0.04097352393619469\n", "f.csv"),
        (b'[{"a": 0.04097352393619469}]', "f.json"),
        (b'{"a": 0.04097352393619469}\n', "f.jsonl"),
    ],
    ids=["csv", "json", "jsonl"],
)
def test_full_precision_floats_round_trip(raw, filename):
    loaded = load_contribution(raw, filename, "uri", "etag").frame
    assert loaded["a"].tolist() == [0.04097352393619469]


def test_parquet_floats_round_trip_exactly():
    buffer = io.BytesIO()
    pd.DataFrame({"a": [0.04097352393619469]}).to_parquet(buffer, index=False)
    loaded = load_contribution(buffer.getvalue(), "f.parquet", "uri", "etag").frame
    assert loaded["a"].tolist() == [0.04097352393619469]


@pytest.mark.parametrize("encoding, expected", [
    ("latin-1", {"cp1252", "latin_1", "iso8859_1", "iso8859_15", "cp1250"}),
    ("utf-16", {"utf-16"}),
    ("utf-8-sig", {"utf-8-sig"}),
])
def test_text_encodings_are_detected_and_recorded(encoding, expected):
    raw = "name,city\nRenée,Zürich\nJosé,São Paulo\nFrançois,Montréal\n".encode(encoding)
    loaded = load_contribution(raw, "f.csv", "uri", "etag")
    assert loaded.frame["name"].tolist() == ["Renée", "José", "François"]
    assert loaded.manifest["encoding"] in expected


@pytest.mark.parametrize("delimiter", [";", "|", ","])
def test_csv_delimiter_is_sniffed(delimiter):
    raw = f"a{delimiter}b\n1{delimiter}2\n3{delimiter}4\n".encode()
    loaded = load_contribution(raw, "f.csv", "uri", "etag")
    assert loaded.frame.to_dict("list") == {"a": [1, 3], "b": [2, 4]}
    assert loaded.manifest["delimiter"] == delimiter
