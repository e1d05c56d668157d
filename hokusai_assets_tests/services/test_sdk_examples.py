"""The integration guide's SDK examples (examples/*.py) run as written against the real MLflow server."""

import contextlib
import io
import json
import runpy

import pytest

from hokusai.settings import REPO_ROOT

pytest_plugins = ["hokusai_assets_tests.sdk_fixtures"]

EXAMPLES = ("quick_example", "register_models", "contributor_impact")


@pytest.fixture(scope="module")
def example_outputs(mlflow_server):
    """Each example run as ``python examples/X.py`` would run it (as ``__main__``, with
    ``MLFLOW_TRACKING_URI`` set and its folder on ``sys.path``), in this process to save
    the ~6 s of imports a fresh interpreter costs; what it prints is its result."""
    outputs = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        patch.syspath_prepend(str(REPO_ROOT / "examples"))
        for name in EXAMPLES:
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                runpy.run_path(str(REPO_ROOT / "examples" / f"{name}.py"), run_name="__main__")
            outputs[name] = json.loads(printed.getvalue())
    return outputs


def test_quick_example(example_outputs):
    quick = example_outputs["quick_example"]
    assert quick["baseline"] == "hokusai-example-quick/1" and quick["improved"] == "hokusai-example-quick/2"
    assert quick["delta_one_bps"] >= 100 and quick["eligible"] is True and quick["alias"] == "champion"
    assert quick["attestation_hash"].startswith("0x")


def test_baseline_improved_tokenized_example(example_outputs, server_registry):
    result = example_outputs["register_models"]
    assert result["baseline"] == "hokusai-example-digits/1" and result["improved"] == "hokusai-example-digits/2"
    assert result["delta_one_bps"] > 0 and result["alias"] == "champion"
    assert result["tokenized"] == "example-digits-release/1" and result["tokenized_created"] is True
    assert result["registered_again"] == {"model_id": "example-digits-release/1", "created": False}
    assert [step["role"] for step in result["lineage"]] == ["baseline", "improvement"]
    assert result["lineage"][1]["contributor"] == "0x1f9090aae28b8a3dceadf281b0f12828e676c326"
    assert server_registry.get_tokenized_model("example-digits-release", 1)["token_id"] == "example-digits"


def test_contributor_impact_example(example_outputs):
    impact = example_outputs["contributor_impact"]
    assert impact["checksum_address"] == "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
    assert impact["tokens"] == ["example-even", "example-odd"]
    assert impact["total_contributions"] == 2 and impact["total_models_improved"] == 2
    assert impact["total_delta_one_bps"] == sum(model["delta_one_bps"] for model in impact["models"]) > 0
