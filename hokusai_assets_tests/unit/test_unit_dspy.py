"""hokusai.dspy: the local LM, the signature library, the loader and the executor (offline)."""

import pickle
import time
from pathlib import Path

import pytest

from hokusai.settings import REPO_ROOT, SOURCE_PATH

dspy_pkg = pytest.importorskip("hokusai.dspy")
from hokusai.dspy import (DSPyLoadError, DSPyModelLoader, DSPyPipelineExecutor, EmailDraft,  # noqa: E402
                          NearestDemoLM, RespondToUser, SummarizeText, get_global_registry, import_dspy)
from hokusai.dspy.local_lm import nearest_demo_answer  # noqa: E402

dspy = import_dspy()
EXAMPLES = REPO_ROOT / "examples" / "dspy"


def demo(text, topic):
    return dspy.Example(text=text, topic=topic).with_inputs("text")


def topic_program(demos):
    program = dspy.Predict("text -> topic")
    program.demos = demos
    return program


def test_local_lm_answers_with_the_most_similar_demo():
    program = topic_program([demo("the striker scored a late goal", "sports"),
                             demo("stocks fell as the market closed", "business")])
    with dspy.context(lm=NearestDemoLM()):
        assert program(text="a goal by the striker").topic == "sports"
        assert program(text="the market and its stocks").topic == "business"


def test_local_lm_does_not_depend_on_demo_order():
    demos = [demo("rain and wind tonight", "weather"), demo("rain in the match", "sports"),
             demo("wind farms and rain", "science")]
    with dspy.context(lm=NearestDemoLM()):
        answers = {topic_program(order)(text="rain").topic for order in (demos, demos[::-1], demos[1:] + demos[:1])}
    assert len(answers) == 1


def test_local_lm_follows_a_mislabelled_demo():
    """What makes a mislabelled contribution cost score: the LM copies the label it is shown."""
    with dspy.context(lm=NearestDemoLM()):
        assert topic_program([demo("the striker scored a goal", "business"),
                              demo("stocks fell", "sports")])(text="striker goal").topic == "business"


def test_nearest_demo_without_demos_answers_unknown():
    system = "Your input fields are:\n1. `text` (str):\nYour output fields are:\n1. `topic` (str):\n\nrest"
    assert nearest_demo_answer([{"role": "system", "content": system},
                                {"role": "user", "content": "[[ ## text ## ]]\nhello"}]) == {"topic": "unknown"}


def test_signature_library_has_twenty_or_more():
    registry = get_global_registry()
    names = registry.list_signatures()
    assert len(names) >= 20
    assert {"EmailDraft", "SummarizeText", "RespondToUser"} <= set(names)
    assert registry.get("EmailDraft") is EmailDraft and registry.get("SummarizeText") is SummarizeText
    assert registry.info("SummarizeText").outputs == ("summary",)
    assert set(RespondToUser.input_fields) == {"message", "context"}
    assert registry.list_signatures("communication") == sorted(
        ["EmailDraft", "RespondToUser", "ReplyToEmail", "RewriteTone", "MeetingNotes"])
    with pytest.raises(KeyError, match="no signature named"):
        registry.get("NoSuchSignature")
    with pytest.raises(TypeError):
        registry.register(int)


def test_load_from_config_builds_signatures_and_the_class():
    loaded = DSPyModelLoader().load_from_config(EXAMPLES / "basic_config.yaml")
    assert loaded.model_id == "email-assistant-v1"
    assert loaded.source["class_name"] == "EmailAssistant"
    assert list(loaded.signatures["EmailDraft"].output_fields) == ["email"]
    assert loaded.input_fields() == ["recipient", "subject", "key_points"]


def write_config(folder: Path, text: str) -> Path:
    path = folder / "config.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("name: x\nsource: {type: local, path: missing.py, class_name: A}\n", "program source not found"),
    ("name: x\nsource: {type: local, path: prog.py, class_name: NoSuchClass}\n", "has no class 'NoSuchClass'"),
    ("name: x\nsource: {type: local, path: broken.py, class_name: A}\n", "failed to load: ZeroDivisionError"),
    ("name: x\nsource: {type: git, path: prog.py, class_name: A}\n", "source.type must be one of"),
    ("name: x\nsignatures: {S: {inputs: [], outputs: [y]}}\n", "signatures.S.inputs"),
    ("name: x\nsignatures: {S: {inputs: [a], outputs: [a]}}\n", "both inputs and outputs"),
    ("version: 1\n", "needs a 'name'"),
    ("name: [unclosed\n", "not valid YAML"),
    ("name: x\nsource: {type: local, path: prog.py, class_name: NotAModule}\n", "is not a dspy.Module"),
])
def test_bad_configs_are_refused_with_a_reason(tmp_path, text, message):
    (tmp_path / "prog.py").write_text("import dspy\nclass A(dspy.Module):\n    pass\nclass NotAModule:\n    pass\n")
    (tmp_path / "broken.py").write_text("1 / 0\n")
    with pytest.raises(DSPyLoadError, match=message):
        DSPyModelLoader().load_from_config(write_config(tmp_path, text))


def test_config_with_one_signature_and_no_source_is_a_predict(tmp_path):
    path = write_config(tmp_path, "name: topics\nsignatures:\n  TopicOf: {inputs: [text], outputs: [topic]}\n")
    loaded = DSPyModelLoader().load_from_config(path)
    assert isinstance(loaded.program, dspy.Predict) and loaded.input_fields() == ["text"]


def test_load_from_class_by_module_and_by_file(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    loader = DSPyModelLoader()
    by_module = loader.load_from_class("my_models.EmailAssistant", "EmailAssistant")
    by_file = loader.load_from_class(EXAMPLES / "my_models" / "EmailAssistant.py", "EmailAssistant", model_id="b")
    assert type(by_module.program).__name__ == type(by_file.program).__name__ == "EmailAssistant"
    with pytest.raises(DSPyLoadError, match="cannot import module"):
        loader.load_from_class("my_models.NoSuchModule", "EmailAssistant")


def hub_cache(root: Path, repo_id: str, files: dict[str, bytes]) -> Path:
    """A folder laid out as huggingface_hub's cache holds a downloaded repo (no download)."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 39 + "1"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, content in files.items():
        (snapshot / name).write_bytes(content)
    return root


def test_load_from_huggingface_from_the_hub_cache(tmp_path):
    import cloudpickle

    program = topic_program([demo("the striker scored", "sports")])
    cache = hub_cache(tmp_path, "hokusai/dspy-model", {"model.pkl": cloudpickle.dumps(program)})
    loader = DSPyModelLoader(cache_dir=cache)
    with pytest.raises(DSPyLoadError, match="pass allow_pickle=True"):
        loader.load_from_huggingface("hokusai/dspy-model", "model.pkl", local_files_only=True)
    loaded = loader.load_from_huggingface("hokusai/dspy-model", "model.pkl", local_files_only=True, allow_pickle=True)
    assert loaded.model_id == "dspy-model" and loaded.source["repo_id"] == "hokusai/dspy-model"
    with dspy.context(lm=NearestDemoLM()):
        assert loaded.program(text="striker").topic == "sports"
    with pytest.raises(DSPyLoadError, match="cannot get model.pkl"):
        loader.load_from_huggingface("hokusai/absent", "model.pkl", local_files_only=True)
    bad = hub_cache(tmp_path / "bad", "hokusai/bad", {"model.pkl": pickle.dumps({"not": "a program"})})
    with pytest.raises(DSPyLoadError, match="not a dspy.Module"):
        DSPyModelLoader(cache_dir=bad).load_from_huggingface("hokusai/bad", "model.pkl", local_files_only=True,
                                                             allow_pickle=True)


@pytest.fixture()
def executor():
    loader = DSPyModelLoader()
    loader.load_from_config(EXAMPLES / "basic_config.yaml")
    from hokusai.dspy.loader import LoadedProgram

    program = topic_program([demo("the striker scored a goal", "sports"), demo("stocks fell", "business")])
    loader.models["topics"] = LoadedProgram("topics", program, {"type": "signature"})
    runner = DSPyPipelineExecutor(loader, timeout_seconds=5)
    yield runner
    runner.close()


def test_execute_returns_outputs_and_usage(executor):
    import json

    result = executor.execute(model_id="topics", inputs={"text": "a goal"})
    assert result["success"] and result["outputs"] == {"topic": "sports"}
    usage = result["usage"]["hokusai-local/nearest-demo"]
    assert usage["prompt_tokens"] > 0 and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    json.dumps(result)
    email = executor.execute(model_id="email-assistant-v1",
                             inputs={"recipient": "Ana", "subject": "launch", "key_points": "date moved"})
    assert email["success"] and set(email["outputs"]) == {"email"}


def test_execute_rejects_bad_inputs_and_unknown_models(executor):
    missing = executor.execute(model_id="email-assistant-v1", inputs={"recipient": "Ana"})
    assert not missing["success"] and missing["error"]["type"] == "invalid_input"
    assert "subject" in missing["error"]["message"]
    wrong = executor.execute(model_id="topics", inputs={"text": object()})
    assert wrong["error"]["type"] == "invalid_input"
    assert executor.execute(model_id="nope", inputs={})["error"]["type"] == "unknown_model"
    assert executor.execute(model_id="topics", inputs="text")["error"]["type"] == "invalid_input"


def test_execute_batch_keeps_per_item_errors_and_sums_usage(executor):
    batch = executor.execute_batch(model_id="topics", inputs_list=[{"text": "goal"}, {"wrong": 1}, {"text": "stocks"}])
    assert [r["success"] for r in batch["results"]] == [True, False, True]
    assert [r["outputs"] and r["outputs"]["topic"] for r in batch["results"]] == ["sports", None, "business"]
    assert batch["succeeded"] == 2 and batch["failed"] == 1
    total = batch["usage"]["hokusai-local/nearest-demo"]["total_tokens"]
    assert total == sum(r["usage"]["hokusai-local/nearest-demo"]["total_tokens"] for r in batch["results"]
                        if r["success"])


class Slow(dspy.Module):
    def forward(self, text):
        time.sleep(1.0)
        return dspy.Prediction(topic="late")


class Broken(dspy.Module):
    def forward(self, text):
        raise RuntimeError("the LM is down")


def test_timeouts_and_program_failures_are_per_item(executor):
    from hokusai.dspy.loader import LoadedProgram

    executor.loader.models["slow"] = LoadedProgram("slow", Slow(), {"type": "class"})
    executor.loader.models["broken"] = LoadedProgram("broken", Broken(), {"type": "class"})
    started = time.perf_counter()
    timed_out = executor.execute(model_id="slow", inputs={"text": "x"}, timeout=0.2)
    assert time.perf_counter() - started < 0.9
    assert timed_out["error"]["type"] == "timeout"
    broken = executor.execute(model_id="broken", inputs={"text": "x"})
    assert broken["error"] == {"type": "execution_error", "message": "RuntimeError: the LM is down"}


def test_the_scikit_learn_path_and_the_code_location_never_import_dspy():
    import os
    import subprocess
    import sys

    code = ("import sys, hokusai_assets.definitions, hokusai.models.steps, hokusai.models.training, hokusai.tokens.spec, "
            "hokusai.models.registration, hokusai.claims.documents; heavy = {'dspy', 'litellm'} & set(sys.modules); "
            "assert not heavy, heavy")
    env = {**os.environ, "PYTHONPATH": SOURCE_PATH}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_hokusai_dspy_does_not_import_dagster_and_keeps_the_cost_map_local():
    import os
    import subprocess
    import sys

    code = ("import os, sys, hokusai.dspy, hokusai.dspy.token_model, hokusai.dspy.mlflow_model; "
            "bad = [m for m in sys.modules if m.split('.')[0] in {'dagster', 'hokusai_assets'}]; "
            "assert not bad, bad; assert os.environ['LITELLM_LOCAL_MODEL_COST_MAP'] == 'True'")
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    subprocess.run([sys.executable, "-c", code], check=True, env={**env, "PYTHONPATH": SOURCE_PATH})


def test_lm_choice_comes_from_settings_and_never_holds_a_key():
    from hokusai.dspy import LMConfig, lm_config_from
    from hokusai.settings import load_settings

    assert lm_config_from(load_settings({}), None) == LMConfig()
    settings = load_settings({"HOKUSAI_DSPY_MODEL": "openai/gpt-4o-mini",
                              "HOKUSAI_DSPY_API_BASE": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-secret"})
    config = lm_config_from(settings, "hokusai-local/nearest-demo")
    assert config.as_dict() == {"model": "openai/gpt-4o-mini", "api_base": "http://127.0.0.1:9/v1",
                                "temperature": 0.0, "max_tokens": 1000}
    assert "sk-secret" not in repr(settings) + repr(config)
    from hokusai.dspy import build_lm

    lm = build_lm(config)  # a real dspy.LM, not called: no network
    assert lm.model == "openai/gpt-4o-mini" and lm.kwargs["temperature"] == 0.0


def test_the_execute_route_function_maps_requests_to_statuses(executor):
    import json

    from hokusai.dspy.service import handle_execute

    status, body = handle_execute(executor, {"model_id": "topics", "inputs": {"text": "a goal"}})
    assert status == 200 and body["outputs"] == {"topic": "sports"}
    status, body = handle_execute(executor, {"model_id": "topics", "inputs_list": [{"text": "goal"}, {}]})
    assert status == 200 and (body["succeeded"], body["failed"]) == (1, 1)
    json.dumps(body)
    for request, expected in [([], 400), ({"inputs": {}}, 400), ({"model_id": "topics"}, 400),
                              ({"model_id": "topics", "inputs": {}, "inputs_list": []}, 400),
                              ({"model_id": "topics", "inputs_list": []}, 400),
                              ({"model_id": "topics", "inputs": {"text": "x"}, "timeout_seconds": -1}, 400),
                              ({"model_id": "nope", "inputs": {}}, 404),
                              ({"model_id": "topics", "inputs": {"other": "x"}}, 422)]:
        assert handle_execute(executor, request)[0] == expected, request


def test_load_from_huggingface_a_config_with_its_source(tmp_path):
    files = {"config.yaml": (EXAMPLES / "basic_config.yaml").read_bytes().replace(b"my_models/", b""),
             "EmailAssistant.py": (EXAMPLES / "my_models" / "EmailAssistant.py").read_bytes()}
    cache = hub_cache(tmp_path, "hokusai/email-assistant", files)
    loaded = DSPyModelLoader(cache_dir=cache).load_from_huggingface("hokusai/email-assistant", "config.yaml",
                                                                    local_files_only=True)
    assert loaded.model_id == "email-assistant-v1" and loaded.source["type"] == "huggingface"
    assert type(loaded.program).__name__ == "EmailAssistant"
    without_source = hub_cache(tmp_path / "partial", "hokusai/email-assistant", {"config.yaml": files["config.yaml"]})
    with pytest.raises(DSPyLoadError, match="cannot get EmailAssistant.py"):
        DSPyModelLoader(cache_dir=without_source).load_from_huggingface("hokusai/email-assistant", "config.yaml",
                                                                        local_files_only=True)
