"""Reading an uploaded contribution into a frame, with the manifest that describes it.

The manifest is what a verifier needs to know which bytes were evaluated: the
SHA-256 of the raw upload, its size and format, and a per-column profile.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from dataclasses import dataclass
from typing import Any

import pandas as pd

TEXT_FORMATS = {"csv": "csv", "tsv": "tsv", "json": "json", "jsonl": "jsonl", "ndjson": "jsonl"}


class ContributionFormatError(ValueError):
    """The upload cannot be read as a table; the message says what to fix."""


@dataclass(frozen=True)
class LoadedContribution:
    frame: pd.DataFrame
    manifest: dict[str, Any]


def detect_format(filename: str) -> tuple[str, bool]:
    """(format, gzipped) from the file name's extension."""
    name = filename.lower()
    gzipped = name.endswith(".gz")
    if gzipped:
        name = name[: -len(".gz")]
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    if extension == "parquet" and not gzipped:
        return "parquet", False
    if extension in TEXT_FORMATS:
        return TEXT_FORMATS[extension], gzipped
    raise ContributionFormatError(
        f"unsupported file type '{filename}': use .csv, .tsv, .json, .jsonl or .parquet "
        "(text formats may be gzipped)"
    )


def load_contribution(raw: bytes, filename: str, source_uri: str, etag: str) -> LoadedContribution:
    """Parse ``raw`` by its file name into a frame and build the manifest."""
    file_format, gzipped = detect_format(filename)
    payload = _gunzip(raw) if gzipped else raw
    frame = _parse(payload, file_format)
    if frame.shape[1] == 0:
        raise ContributionFormatError("the file has no columns")
    if frame.empty:
        raise ContributionFormatError("the file has a header but no data rows")
    manifest = {
        "source_uri": source_uri,
        "etag": etag,
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "format": file_format,
        "gzip": gzipped,
        "encoding": "utf-8" if file_format != "parquet" else "binary",
        **profile_frame(frame),
    }
    return LoadedContribution(frame=frame, manifest=manifest)


def profile_frame(frame: pd.DataFrame) -> dict[str, Any]:
    """Rows, columns, dtypes, null and distinct counts per column."""
    return {
        "rows": int(len(frame)),
        "columns": [str(c) for c in frame.columns],
        "dtypes": {str(c): str(t) for c, t in frame.dtypes.items()},
        "nulls": {str(c): int(n) for c, n in frame.isna().sum().items()},
        "distinct": {str(c): int(n) for c, n in frame.nunique(dropna=True).items()},
    }


def _gunzip(raw: bytes) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise ContributionFormatError(f"the file is named .gz but is not valid gzip: {error}") from None


def _parse(payload: bytes, file_format: str) -> pd.DataFrame:
    try:
        if file_format == "parquet":
            return pd.read_parquet(io.BytesIO(payload))
        text = payload.decode("utf-8-sig")
        if file_format == "csv":
            return pd.read_csv(io.StringIO(text), float_precision="round_trip")
        if file_format == "tsv":
            return pd.read_csv(io.StringIO(text), sep="\t", float_precision="round_trip")
        # precise_float: the same number must load the same whatever the upload format.
        if file_format == "json":
            return pd.read_json(io.StringIO(text), orient="records", precise_float=True)
        return pd.read_json(io.StringIO(text), lines=True, precise_float=True)
    except UnicodeDecodeError as error:
        raise ContributionFormatError(f"the file is not UTF-8 text: {error}") from None
    except pd.errors.EmptyDataError:
        raise ContributionFormatError("the file is empty") from None
    except (ValueError, pd.errors.ParserError, OSError) as error:
        raise ContributionFormatError(f"could not read the file as {file_format}: {error}") from None
