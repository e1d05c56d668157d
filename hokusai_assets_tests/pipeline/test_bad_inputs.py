"""A corpus of bad and odd uploads: each ends in a clean acceptance or a clear rejection.

Every file goes through the real intake (drop zone, partition, load, PII scrub,
blocking GX checks, cleaning) on a Dagster instance; none may end in a traceback,
and every rejection leaves a record with its reason while the upload stays as it was.
"""

import dataclasses
import gzip
import io
import json
import os

from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey

from hokusai.drops.store import LocalFolderStore
from hokusai_assets_tests.churn_token import TOKEN_ID, churn_rows, write_churn_token
from hokusai_assets_tests.conftest import isolated_settings

WALLET = "0x00000000000000000000000000000000000c0ffe"


def good(rows=40, seed=11) -> pd.DataFrame:
    return churn_rows(rows, seed)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def with_comment(text: str) -> pd.DataFrame:
    frame = good()
    frame.loc[0, "comment"] = text
    return frame


def benchmark_copy(tokens_dir) -> bytes:
    return (tokens_dir / TOKEN_ID / "benchmark.csv").read_bytes()


def with_blanks(column: str, every: int = 7) -> bytes:
    frame = good().astype({column: object})
    frame.loc[frame.index % every == 0, column] = None
    return frame.to_csv(index=False).encode()


def benchmark_with_a_blank_column(tokens_dir) -> bytes:
    """The benchmark with one feature emptied: a blank cell matched no row, so this was paid as new data."""
    frame = pd.read_csv(tokens_dir / TOKEN_ID / "benchmark.csv")
    return frame.assign(monthly_spend="").to_csv(index=False).encode()


def benchmark_with_other_comments(tokens_dir) -> bytes:
    """The benchmark with its free text re-worded: the model never reads 'comment', so these are its rows."""
    frame = pd.read_csv(tokens_dir / TOKEN_ID / "benchmark.csv")
    return frame.assign(comment=[f"re-worded {i}" for i in range(len(frame))]).to_csv(index=False).encode()


def wide() -> bytes:
    frame = good(5)
    extra = pd.DataFrame({f"c{i}": [0] * 5 for i in range(5000)})
    return pd.concat([frame, extra], axis=1).to_csv(index=False).encode()


# (id, file name, bytes builder taking the tokens dir, expected: "accepted" or a fragment of the reason)
CORPUS = [
    ("empty_file", "f.csv", lambda t: b"", "the file is empty"),
    ("header_only", "f.csv", lambda t: b"age,plan,monthly_spend,comment,churned\n", "header but no data rows"),
    ("binary_junk", "f.csv", lambda t: os.urandom(2048).replace(b"\x00", b"\x01") + b"\x00\x00", "looks binary"),
    ("truncated_parquet", "f.parquet", lambda t: parquet_bytes(good())[:300], "could not read the file as parquet"),
    ("utf16_with_bom", "f.csv", lambda t: good().to_csv(index=False).encode("utf-16"), "accepted"),
    ("latin1_accents", "f.csv", lambda t: with_comment("très bien, señor, Müller").to_csv(index=False)
     .encode("latin-1"), "accepted"),
    ("cp1252_smart_quotes", "f.csv", lambda t: with_comment("\u201cgreat\u201d \u2013 fine").to_csv(index=False)
     .encode("cp1252"), "accepted"),
    ("semicolon_csv", "f.csv", lambda t: good().to_csv(index=False, sep=";").encode(), "accepted"),
    ("tsv", "f.tsv", lambda t: good().to_csv(index=False, sep="\t").encode(), "accepted"),
    ("quoted_newlines", "f.csv", lambda t: with_comment("line one\nline two, with comma").to_csv(index=False)
     .encode(), "accepted"),
    ("five_thousand_columns", "f.csv", lambda t: wide(), "5,005 columns; the limit is 1,000"),
    ("wrong_label_values", "f.csv", lambda t: good().assign(churned="maybe").to_csv(index=False).encode(),
     "are not one of [0, 1]"),
    ("nan_labels", "f.csv", lambda t: good().assign(churned=None).to_csv(index=False).encode(), "have no label"),
    ("all_duplicate_rows", "f.csv", lambda t: pd.concat([good(1)] * 50).to_csv(index=False).encode(), "accepted"),
    ("benchmark_copy", "f.csv", benchmark_copy, "benchmark-leakage attempt"),
    ("benchmark_with_other_comments", "f.csv", benchmark_with_other_comments, "benchmark-leakage attempt"),
    ("benchmark_with_a_blank_column", "f.csv", benchmark_with_a_blank_column, "1000 empty value(s)"),
    ("blank_numeric_cells", "f.csv", lambda t: with_blanks("monthly_spend"), "'monthly_spend' has 6 empty value(s)"),
    ("nan_words_in_numbers", "f.csv", lambda t: good().assign(age=["NaN", "nan", *range(20, 58)])
     .to_csv(index=False).encode(), "'age' has 2 empty value(s)"),
    ("blank_category_cells", "f.csv", lambda t: with_blanks("plan", every=10), "'plan' has 4 empty value(s)"),
    ("infinite_numbers", "f.csv", lambda t: good().astype({"monthly_spend": object}).assign(
        monthly_spend=["inf", "-inf", *[1.0] * 38]).to_csv(index=False).encode(), "2 infinite value(s)"),
    ("formula_strings", "f.csv", lambda t: with_comment('=HYPERLINK("http://x.example","click")')
     .to_csv(index=False).encode(), "accepted"),
    ("int64_overflow", "f.csv", lambda t: good().astype({"age": object}).assign(age="99999999999999999999999")
     .to_csv(index=False).encode(), "outside [18, 100]"),
    ("mixed_types", "f.csv", lambda t: good().astype({"age": object}).assign(age=["thirty", *range(20, 59)])
     .to_csv(index=False).encode(), "are not numbers"),
    ("text_with_a_quoted_newline_in_a_number", "f.csv", lambda t: good().astype({"age": object}).assign(
        age=["4\n2", *range(20, 59)]).to_csv(index=False).encode(), "'age' has 1 value(s) that are not numbers"),
    ("nested_json", "f.json", lambda t: json.dumps([{**r, "plan": {"name": r["plan"]}}
                                                    for r in good().to_dict("records")]).encode(), "categories"),
    ("json_object_not_array", "f.json", lambda t: b'{"age": 30}', "must be an array of records"),
    ("jsonl", "f.jsonl", lambda t: good().to_json(orient="records", lines=True).encode(), "accepted"),
    ("gzip_csv", "f.csv.gz", lambda t: gzip.compress(good().to_csv(index=False).encode(), mtime=0), "accepted"),
    ("not_gzip", "f.csv.gz", lambda t: b"plain text", "not valid gzip"),
    ("parquet", "f.parquet", lambda t: parquet_bytes(good()), "accepted"),
    ("missing_label_column", "f.csv", lambda t: good().drop(columns="churned").to_csv(index=False).encode(),
     "label column 'churned' is missing"),
    ("unknown_column", "f.csv", lambda t: good().assign(secret_sauce=1).to_csv(index=False).encode(),
     "not in the token's schema"),
    ("out_of_range", "f.csv", lambda t: good().assign(monthly_spend=-5.0).to_csv(index=False).encode(),
     "outside [0, 10000]"),
    ("unknown_category", "f.csv", lambda t: good().assign(plan="platinum").to_csv(index=False).encode(),
     "outside its categories"),
    ("utf8_bom", "f.csv", lambda t: b"\xef\xbb\xbf" + good().to_csv(index=False).encode(), "accepted"),
    ("padded_header", "f.csv", lambda t: good().rename(columns=lambda c: f" {c} ").to_csv(index=False).encode(),
     "accepted"),
    ("ragged_rows", "f.csv", lambda t: good().to_csv(index=False).encode() + b"1,2,3,4,5,6,7\n",
     "could not read the file as csv"),
    ("duplicate_column_names", "f.csv", lambda t: b"age,age,plan,monthly_spend,comment,churned\n1,2,pro,3,x,0\n",
     "duplicate column names"),
    ("single_class", "f.csv", lambda t: good().assign(churned=1).to_csv(index=False).encode(), "accepted"),
    ("pii_in_free_text", "f.csv", lambda t: with_comment("mail me at jane.doe@example.com or +44 20 7946 0958")
     .to_csv(index=False).encode(), "accepted"),
]


@pytest.fixture(scope="module")
def intake_runner(tmp_path_factory):
    from hokusai_assets.runner import DagsterRunner

    root = tmp_path_factory.mktemp("bad-inputs")
    tokens = root / "tokens"
    write_churn_token(tokens)
    settings = isolated_settings(root / "state", root / "cache")
    settings = dataclasses.replace(settings, tokens_dir=tokens)
    return DagsterRunner(settings, ephemeral=True), tokens


@pytest.mark.parametrize("name, filename, build, expected", CORPUS, ids=[c[0] for c in CORPUS])
def test_each_upload_is_accepted_or_rejected_with_a_reason(intake_runner, tmp_path, name, filename, build, expected):
    runner, tokens = intake_runner
    path = tmp_path / f"{name}-{filename}"
    raw = build(tokens)
    path.write_bytes(raw)
    outcome = runner.check_intake(path, TOKEN_ID, WALLET)
    if expected == "accepted":
        assert outcome.status == "evaluated", f"{name}: {outcome.reason}"
        return
    assert outcome.status == "rejected", f"{name}: {outcome.status}: {outcome.reason}"
    assert expected in outcome.reason, outcome.reason
    if "column" not in name:  # a bad value is not blamed on the file's columns (GX's results out of order)
        assert "token's columns" not in outcome.reason, outcome.reason
    assert "Traceback" not in outcome.reason and "\n" not in outcome.reason
    record = json.loads(Path(outcome.files["rejection.json"]).read_text())
    assert record["reasons"] and record["partition_key"] == outcome.partition_key
    store = LocalFolderStore(runner.settings.drop_zone)
    assert store.read_bytes(outcome.partition_key.rsplit("@", 1)[0]) == raw  # the upload is untouched


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 25
    assert sum(1 for c in CORPUS if c[3] != "accepted") >= 15


def test_a_public_tx_hash_column_passes_the_clean_data_check_but_a_key_in_free_text_is_scrubbed(tmp_path):
    """64 hex digits are a private key in free text, but a transaction hash in a ``tx_hash`` column."""
    from hokusai_assets.runner import DagsterRunner
    from hokusai_assets_tests.churn_token import TX_TOKEN_ID, with_tx_hashes, write_churn_tx_token

    tokens = tmp_path / "tokens"
    write_churn_tx_token(tokens)
    settings = dataclasses.replace(isolated_settings(tmp_path / "state", tmp_path / "cache"), tokens_dir=tokens)
    runner = DagsterRunner(settings, ephemeral=True)
    upload = with_tx_hashes(churn_rows(60, seed=9), seed=9)
    key = upload.loc[0, "tx_hash"]
    upload.loc[1, "comment"] = f"my wallet key is {key[2:]}, please refund"
    path = tmp_path / "with-hashes.csv"
    upload.to_csv(path, index=False)
    outcome = runner.check_intake(path, TX_TOKEN_ID, WALLET)
    assert outcome.status == "evaluated", outcome.reason  # both blocking checks passed
    [record] = runner.instance.fetch_materializations(AssetKey("contributed_dataset"), limit=1).records
    manifest = record.asset_materialization.metadata["manifest"].value
    assert manifest["pii"]["counts"].get("ethkey") == 1  # the key in the comment, not the 60 hashes
    assert "tx_hash" not in manifest["pii"]["columns_hashed"]
