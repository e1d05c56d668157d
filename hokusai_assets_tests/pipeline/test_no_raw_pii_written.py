"""After a PII-laden contribution is evaluated end to end, no raw personal value is
anywhere the platform wrote: Dagster storage and event logs, MLflow's database and
artifacts, the outputs, the keys folder — every file under the state folder."""

import dataclasses

from hokusai_assets_tests.churn_token import TOKEN_ID, churn_rows, write_churn_token
from hokusai_assets_tests.conftest import isolated_settings
from hokusai.harness.pii_corpus import faker_pool

WALLET = "0x00000000000000000000000000000000000d0a7a"
KINDS = ("email", "phone", "ssn", "card", "ipv4", "iban", "ethkey")


def test_no_raw_pii_in_any_file_the_platform_wrote(tmp_path):
    from hokusai_assets.runner import DagsterRunner

    tokens = tmp_path / "tokens"
    write_churn_token(tokens)
    settings = dataclasses.replace(isolated_settings(tmp_path / "state", tmp_path / "cache"), tokens_dir=tokens)
    frame = churn_rows(300, seed=5)
    secrets = []
    for index, kind in enumerate(KINDS):
        for row, value in enumerate(faker_pool(kind, 6, seed=40 + index)):
            frame.loc[index * 6 + row, "comment"] = f"please contact me at {value} thanks"
            secrets.append(value)
    upload = tmp_path / "pii-laden.csv"
    frame.to_csv(upload, index=False)
    outcome = DagsterRunner(settings).evaluate(upload, TOKEN_ID, WALLET)
    assert outcome.status == "evaluated", outcome.reason

    written = [p for p in settings.home.rglob("*") if p.is_file() and "drop-zone" not in p.parts]
    assert len(written) > 20  # storage, event logs, MLflow db and artifacts, outputs
    leaks = []
    for path in written:
        data = path.read_bytes()
        leaks += [(str(path.relative_to(settings.home)), value) for value in secrets
                  if value.encode() in data or value.encode("utf-16-le") in data]
    assert not leaks, leaks[:10]
    # the upload itself is kept as it was, in the drop zone
    assert secrets[0].encode() in next((settings.home / "drop-zone").rglob("*.csv")).read_bytes()
