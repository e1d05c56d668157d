"""DSPy programs as tokens: the spec, compile on examples, dev scores, state, the quality gate (offline)."""

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hokusai.settings import REPO_ROOT
from hokusai.tokens.spec import TokenSpecError, load_token_spec, read_token_table

pytest.importorskip("dspy")
from hokusai.dspy.token_model import DSPyEvaluationError, DSPyTokenModel  # noqa: E402
from hokusai.evaluation.metrics import benchmark_rows, bootstrap_primary_metric, evaluate_model  # noqa: E402
from hokusai.models.training import merge_training_data, train_model  # noqa: E402

TOKEN = "topics-dspy-demo"
SPEC_PATH = REPO_ROOT / "tokens" / f"{TOKEN}.yaml"
SAMPLES = REPO_ROOT / "tokens" / TOKEN / "samples"


@pytest.fixture(scope="module")
def spec():
    return load_token_spec(SPEC_PATH)


@pytest.fixture(scope="module")
def data(spec):
    return {"base": read_token_table(spec.base_data_path),
            "dev": benchmark_rows(read_token_table(spec.benchmark_path), spec),
            "improving": pd.read_csv(SAMPLES / "improving.csv"),
            "mislabelled": pd.read_json(SAMPLES / "mislabelled.jsonl", lines=True)}


@pytest.fixture(scope="module")
def champion(spec, data):
    model = train_model(data["base"], spec)
    return model, evaluate_model(model, data["dev"], spec)


def test_demo_spec_names_program_optimizer_metric_and_lm(spec):
    assert spec.dspy.signature == "ClassifyTopic" and spec.dspy.optimizer == "LabeledFewShot"
    assert spec.dspy.optimizer_params == {"k": "all"} and spec.dspy.metric == "exact_match"
    assert spec.dspy.lm_model == "hokusai-local/nearest-demo"
    assert spec.estimator_class == "dspy:signature:ClassifyTopic"


def write_spec(tmp_path: Path, replace: dict[str, str]) -> Path:
    text = SPEC_PATH.read_text().replace("topics-dspy-demo/", str(REPO_ROOT / "tokens" / TOKEN) + "/")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{TOKEN}.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("replace, problem", [
    ({"{name: text, dtype: string}": "{name: text, dtype: float}"}, "inputs must be string features"),
    ({"[business, politics, science, sports]": "[sports, business, science, politics]"}, "list them sorted"),
    ({"name: LabeledFewShot": "name: MIPROv2"}, "dspy.optimizer.name: must be one of"),
    ({"params: {k: all}": "params: {k: -1}"}, "expected a count or 'all'"),
    ({"params: {k: all}": "params: {max_rounds: 2}"}, "LabeledFewShot takes k"),
    ({"program: {signature: ClassifyTopic}": "program: {source: nowhere.py, class_name: X}"}, "file not found"),
    ({"program: {signature: ClassifyTopic}": "program: {}"}, "dspy.program"),
    ({"metric: exact_match": "metric: bleu"}, "dspy.metric"),
    ({"program: {signature: ClassifyTopic}": "program: {source: ../../etc/x.py, class_name: X}"},
     "must be inside the tokens folder"),
])
def test_bad_dspy_sections_are_refused_with_their_path(tmp_path, replace, problem):
    with pytest.raises(TokenSpecError, match=problem):
        load_token_spec(write_spec(tmp_path, replace))


def test_better_examples_raise_the_dev_score_and_mislabelled_lower_it(spec, data, champion):
    _, baseline = champion
    scores = {}
    for name in ("improving", "mislabelled"):
        model = train_model(merge_training_data(data["base"], data[name], spec), spec)
        new = evaluate_model(model, data["dev"], spec)
        scores[name] = (new["metrics"]["accuracy"], bootstrap_primary_metric(baseline, new, spec))
    base_accuracy = baseline["metrics"]["accuracy"]
    assert scores["improving"][0] - base_accuracy >= 0.2 and scores["improving"][1]["ci_low_bps"] > 0
    assert scores["mislabelled"][0] - base_accuracy <= -0.1 and scores["mislabelled"][1]["ci_high_bps"] < 0
    assert len(baseline["predicted"]) == len(data["dev"]) == 100  # per-example scores of the same dev set


def test_k_below_the_examples_is_refused(spec, data):
    small_k = dataclasses.replace(spec, dspy=dataclasses.replace(spec.dspy, optimizer_params={"k": 16}))
    with pytest.raises(ValueError, match="k=16 is below the 48 training examples"):
        train_model(merge_training_data(data["base"], data["improving"], small_k), small_k)


def test_empty_outputs_are_refused(spec, data):
    broken = data["base"].copy()
    broken.loc[0, "text"] = "  "
    with pytest.raises(ValueError, match="empty 'text'"):
        train_model(broken, spec)


def test_seeds_change_demo_order_only(spec, data, champion):
    model, baseline = champion
    other = train_model(data["base"], spec, seed=spec.seed + 1)
    demos = lambda m: [dict(d.items()) for d in m.program.predictors()[0].demos]  # noqa: E731
    assert demos(model) != demos(other)
    assert sorted(map(str, demos(model))) == sorted(map(str, demos(other)))
    assert list(evaluate_model(other, data["dev"], spec)["predicted"]) == list(baseline["predicted"])


def test_the_same_rows_in_another_order_give_the_same_state(spec, data, champion):
    model, _ = champion
    shuffled = data["base"].sample(frac=1, random_state=3).reset_index(drop=True)
    assert train_model(shuffled, spec).state_commitment() == model.state_commitment()


def test_saved_state_is_json_and_source_and_round_trips(tmp_path, spec, data, champion):
    model, baseline = champion
    folder = model.save(tmp_path / "saved")
    assert sorted(p.name for p in folder.iterdir()) == ["hokusai_dspy.json", "program.json"]
    import json

    state = json.loads((folder / "program.json").read_text())  # DSPy's JSON state, not a pickle
    assert len(state["demos"]) == len(data["base"]) and state["signature"]["instructions"]
    loaded = DSPyTokenModel.load(folder)
    assert loaded.state_commitment() == model.state_commitment()
    again = pickle.loads(pickle.dumps(model))
    assert list(again.predict(data["dev"][["text"]].to_numpy(dtype=object))) == list(baseline["predicted"])


def test_a_program_from_a_source_file_commits_to_its_source(tmp_path, spec, data):
    source = tmp_path / "topics.py"
    source.write_text("import dspy\n\nclass Topics(dspy.Module):\n    def __init__(self):\n        super().__init__()\n"
                      "        self.classify = dspy.Predict('text -> topic')\n\n"
                      "    def forward(self, text):\n        return self.classify(text=text)\n")
    program = dataclasses.replace(spec.dspy, signature=None, source_path=source, class_name="Topics")
    custom = dataclasses.replace(spec, dspy=program)
    model = train_model(data["base"], custom)
    folder = model.save(tmp_path / "saved")
    assert (folder / "program_source.py").read_text() == source.read_text()
    before = model.state_commitment()
    source.write_text(source.read_text() + "# changed\n")
    assert DSPyTokenModel.load(folder).state_commitment() == before  # the saved copy, not the file now
    assert train_model(data["base"], custom).state_commitment() != before


def test_failed_calls_fail_the_evaluation_loudly(spec, data, champion):
    model, _ = champion
    import dspy

    class RateLimited(dspy.Module):
        def forward(self, text):
            raise RuntimeError("rate limited")

    broken = pickle.loads(pickle.dumps(model))
    broken.program = RateLimited()
    with pytest.raises(DSPyEvaluationError, match="5 of 5 program calls failed"):
        broken.predict(np.array([["a"], ["b"], ["c"], ["d"], ["e"]], dtype=object))


def test_usage_is_counted_per_pass_and_the_same_warm_or_cold(spec, data, champion):
    model, _ = champion
    cold = model.last_usage["hokusai-local/nearest-demo"]["total_tokens"]
    warm = pickle.loads(pickle.dumps(model))
    warm.predict(data["dev"][["text"]].to_numpy(dtype=object))
    assert warm.memo_hits >= 100 and warm.last_usage["hokusai-local/nearest-demo"]["total_tokens"] == cold > 0


def test_quality_gate_scrubs_text_and_drops_copies(spec, data):
    from hokusai.intake.read import ContributedDataset, clean
    from hokusai.pii.scrub import scrub_frame

    rows = pd.concat([data["improving"].iloc[:4], data["improving"].iloc[:2], data["dev"].iloc[:0],
                      data["base"].iloc[:3]], ignore_index=True)
    scrubbed = scrub_frame(rows, b"k" * 32, protected_columns={spec.label_column}).frame
    assert not scrubbed["text"].str.contains("jane.doe@example.com").any()
    contributed = ContributedDataset("p", TOKEN, "0x" + "1" * 40, "c.csv", scrubbed, {"sha256": "0" * 64})
    cleaned = clean(contributed, spec, read_token_table(spec.benchmark_path), training=data["base"])
    assert len(cleaned.frame) == 4
    assert cleaned.stats["duplicates_removed"] == 2 and cleaned.stats["known_rows_removed"] == 3


def test_bootstrap_few_shot_compiles_with_its_labelled_demos_covering_the_examples(spec, data):
    program = dataclasses.replace(spec.dspy, optimizer="BootstrapFewShot",
                                  optimizer_params={"max_labeled_demos": "all", "max_bootstrapped_demos": 0})
    bootstrap = dataclasses.replace(spec, dspy=program)
    training = merge_training_data(data["base"], data["improving"], spec)
    model = train_model(training, bootstrap)
    assert len(model.program.predictors()[0].demos) == len(training)
    assert evaluate_model(model, data["dev"], bootstrap)["metrics"]["accuracy"] >= 0.8


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"text": ["a goal", None, "  "], "topic": ["sports"] * 3}), "2 example(s) have an empty 'text'"),
    (pd.DataFrame({"text": ["a goal", ["a", "list"]], "topic": ["sports"] * 2}), "are lists or objects, not text"),
    (pd.DataFrame({"text": ["a goal", "stocks"], "topic": ["sports", None]}), "have no label in 'topic'"),
    (pd.DataFrame({"text": ["a goal"], "topic": ["weather"]}), "not one of"),
    (pd.DataFrame({"topic": ["sports"]}), "'text' is missing"),
])
def test_bad_examples_are_rejected_with_a_reason(spec, frame, message):
    from hokusai.intake.validation import validate_contribution

    report = validate_contribution(frame, spec)
    assert not report.passed and message in report.summary()


@pytest.fixture()
def openai_compatible_server():
    """A local OpenAI-compatible chat server (loopback, no network) that answers 'sports' and counts tokens."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    requests = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            requests.append({"path": self.path, "body": body, "authorization": self.headers.get("Authorization")})
            answer = {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                      "choices": [{"index": 0, "finish_reason": "stop", "message": {
                          "role": "assistant", "content": "[[ ## topic ## ]]\nsports\n\n[[ ## completed ## ]]"}}],
                      "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1", requests
    server.shutdown()


def test_a_real_lm_by_api_base_from_the_environment(spec, data, openai_compatible_server, monkeypatch):
    import json

    from hokusai.dspy.token_model import evaluation_record

    api_base, requests = openai_compatible_server
    monkeypatch.setenv("HOKUSAI_DSPY_MODEL", "openai/local-model")
    monkeypatch.setenv("HOKUSAI_DSPY_API_BASE", api_base)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-provider-key")
    model = train_model(data["base"], spec)
    predicted = model.predict(data["dev"][["text"]].iloc[:3].to_numpy(dtype=object))
    assert list(predicted) == ["sports"] * 3 and len(requests) == 3
    assert requests[0]["path"] == "/v1/chat/completions" and requests[0]["body"]["temperature"] == 0.0
    assert requests[0]["authorization"] == "Bearer sk-provider-key"  # LiteLLM read the key itself
    record = evaluation_record(model, model)
    assert record["lm"] == {"model": "openai/local-model", "api_base": api_base, "temperature": 0.0,
                            "max_tokens": 1000}
    assert record["usage"]["candidate"]["openai/local-model"]["total_tokens"] == 30
    assert "sk-provider-key" not in json.dumps(record)
