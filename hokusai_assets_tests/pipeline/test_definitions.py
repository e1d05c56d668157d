"""The shape of the code location: a rename or a lost edge fails here, not in the UI."""

from dagster import AssetKey, DynamicPartitionsDefinition

from hokusai_assets.definitions import defs

EXPECTED_PARENTS = {
    "contributed_dataset": set(),
    "clean_dataset": {"contributed_dataset", "baseline_model"},  # new rows: against the champion's training set
    "baseline_model": set(),
    "new_model": {"clean_dataset", "baseline_model"},  # trained on the champion's training set + new rows
    "benchmark_metrics": {"baseline_model", "new_model", "clean_dataset"},  # the seed-robust gain refits
    "delta_one": {"benchmark_metrics"},
    "attestation": {"delta_one", "baseline_model", "new_model"},  # the chain link it appends
    "registered_token_model": {"attestation", "new_model"},
}


def test_the_eight_assets_and_their_lineage():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == set(EXPECTED_PARENTS)
    for name, parents in EXPECTED_PARENTS.items():
        assert {p.to_user_string() for p in graph.get(AssetKey(name)).parent_keys} == parents, name


def test_every_asset_is_partitioned_by_contribution_and_described():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert isinstance(node.partitions_def, DynamicPartitionsDefinition)
        assert node.partitions_def.name == "contributions"
        assert node.description and len(node.description) > 20, key
        assert node.group_name in {"contribution", "models", "evaluation", "attestation"}
        assert node.kinds, key


def test_blocking_schema_check_gates_the_upload():
    graph = defs.resolve_asset_graph()
    checks = {key.name: key for key in graph.asset_check_keys}
    key = checks["contribution_matches_token_schema"]
    assert key.asset_key == AssetKey("contributed_dataset")
    assert graph.get_check_spec(key).blocking


def test_job_sensor_and_resources():
    job = defs.resolve_job_def("evaluate_contribution")
    assert job.partitions_def.name == "contributions"
    assert defs.resolve_sensor_def("contribution_drop_sensor").job_name == "evaluate_contribution"
    assert {"contribution_store", "token_specs", "model_registry", "attester", "claims_ledger",
            "relayer"} <= set(defs.resources)
    assert defs.resolve_sensor_def("claim_settlement_sensor").required_resource_keys >= {"claims_ledger", "relayer"}


def test_domain_library_does_not_import_dagster():
    import subprocess
    import sys

    code = (
        "import sys, hokusai.cli, hokusai.models.steps, hokusai.claims.documents, hokusai.models.registration, hokusai.claims.verify;"
        "import hokusai.settlement.relay, hokusai.settlement.genesis, hokusai.settlement.decision;"
        "import hokusai.core, hokusai.tracking;"  # the SDK, to be shipped as its own distribution
        "bad = [m for m in sys.modules if m.split('.')[0] in {'dagster', 'hokusai_assets', 'resources', 'sensors'}];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_definitions_follow_the_settings_passed_in(tmp_path):
    from dataclasses import replace

    from hokusai.settings import load_settings
    from hokusai_assets.definitions import build_definitions

    settings = replace(load_settings({"HOKUSAI_HOME": str(tmp_path)}), sensor_interval_seconds=61, intake_workers=0,
                       tokens_dir=tmp_path / "tokens", step_retries=0, step_retry_delay_seconds=2)
    built = build_definitions(settings)
    job = built.resolve_job_def("evaluate_contribution")
    policies = {name: job.graph.node_named(name).definition.retry_policy for name in
                ("baseline_model", "new_model", "benchmark_metrics", "registered_token_model")}
    assert {(p.max_retries, p.delay) for p in policies.values()} == {(0, 2)}, policies
    for name in ("contributed_dataset", "clean_dataset", "delta_one", "attestation"):
        assert job.graph.node_named(name).definition.retry_policy is None  # a rejected file stays rejected
    assert build_definitions(replace(settings, step_retries=5)).resolve_job_def(
        "evaluate_contribution").graph.node_named("new_model").definition.retry_policy.max_retries == 5
    for name in ("contribution_drop_sensor", "claim_settlement_sensor", "contribution_rebase_sensor"):
        assert built.resolve_sensor_def(name).minimum_interval_seconds == 61
    assert built.resources["intake"].workers == 0
    assert built.resources["token_specs"].tokens_dir == str(tmp_path / "tokens")


def test_only_the_settings_module_reads_the_environment():
    """One route for configuration: ``hokusai.settings``; the rest gets the settings passed in.

    Writing a default for a library (``os.environ[...] = v``, ``os.environ.setdefault``) reads nothing.
    The real-service harness (``hokusai/harness``) is the tests' tool, not the platform: it reads
    the machine's (where PostgreSQL's binaries are, which ports ``scripts/services`` takes).
    """
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readers = []
    assert (root / "sdk" / "hokusai" / "core" / "connection.py").exists()  # the SDK's folder is scanned too
    for folder in ("hokusai", "sdk/hokusai", "hokusai_assets", "resources", "sensors"):
        for path in sorted((root / folder).rglob("*.py")):
            if path == root / "hokusai" / "settings.py" or (root / "hokusai" / "harness") in path.parents:
                continue
            tree = ast.parse(path.read_text(), str(path))
            writes = {id(node.value) for node in ast.walk(tree)
                      if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)}
            writes |= {id(node.func.value) for node in ast.walk(tree) if isinstance(node, ast.Call)
                       and isinstance(node.func, ast.Attribute) and node.func.attr == "setdefault"}
            readers += [f"{path.relative_to(root)}:{node.lineno}" for node in ast.walk(tree)
                        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}
                        and id(node) not in writes]
    assert not readers, readers


def test_no_import_circle_in_the_domain_library():
    """Imports point one way in ``hokusai`` (both portions, ``hokusai/`` and ``sdk/hokusai/``): no circle,
    lazy (function-level) imports included."""
    from hokusai.settings import REPO_ROOT
    from hokusai_assets_tests.import_graph import describe_cycle, import_cycles, import_graph

    graph = import_graph(*library_dirs(REPO_ROOT))
    assert {"hokusai.core.registry", "hokusai.core.client", "hokusai.tracking.experiments"} <= set(graph)
    cycles = import_cycles(graph)
    assert cycles == [], "import circles: " + " | ".join(describe_cycle(graph, c) for c in cycles)


def library_dirs(root):
    """The two portions of the ``hokusai`` namespace package: the platform's and the SDK's."""
    return root / "hokusai", root / "sdk" / "hokusai"


# The SDK's only way into platform code: DSPy token models, whose flavor is the platform's
# (hokusai.core.client._dspy_flavor, imported by name for such a model only, a clear error without it).
SDK_OPTIONAL_PLATFORM_IMPORTS = {"hokusai.core.client": {"hokusai.dspy", "hokusai.dspy.mlflow_model"}}


def test_the_sdk_imports_no_platform_module():
    """``sdk/`` is its own distribution: its modules import only each other (and their declared
    dependencies, which the install-alone test checks), never a module of ``hokusai/``."""
    from hokusai.settings import REPO_ROOT
    from hokusai_assets_tests.import_graph import import_graph, module_files

    platform_dir, sdk_dir = library_dirs(REPO_ROOT)
    sdk_modules = set(module_files(sdk_dir))
    assert {"hokusai.core", "hokusai.rules.attestation", "hokusai.tracking.performance"} <= sdk_modules
    assert not (sdk_modules & set(module_files(platform_dir))), "a module in both portions"
    assert not (platform_dir / "__init__.py").exists() and not (sdk_dir / "__init__.py").exists(), \
        "hokusai is a namespace package shared by two distributions: no hokusai/__init__.py in either"
    graph = import_graph(platform_dir, sdk_dir)
    reaching = {module: sorted(graph[module] - sdk_modules - SDK_OPTIONAL_PLATFORM_IMPORTS.get(module, set()))
                for module in sorted(sdk_modules)}
    assert not {m: t for m, t in reaching.items() if t}, reaching


def test_the_import_circle_check_finds_lazy_and_package_circles(tmp_path):
    """The check itself: a function-level import and a package ``__init__`` both close a circle."""
    from hokusai_assets_tests.import_graph import import_cycles, import_graph

    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub.b import thing\n")
    (package / "sub" / "__init__.py").write_text("from pkg.sub.c import other\n")
    (package / "sub" / "b.py").write_text("thing = 1\n")
    (package / "sub" / "c.py").write_text("def other():\n    from pkg import a\n")
    (package / "d.py").write_text("from . import e\n")
    (package / "e.py").write_text("import importlib\nimportlib.import_module('pkg.d')\n")
    assert import_cycles(import_graph(package)) == [["pkg.a", "pkg.sub", "pkg.sub.c"], ["pkg.d", "pkg.e"]]


CORE_LAYERS = [  # bottom first: a module may import core modules of lower layers only (docs/sdk.md, "Layers")
    {"hokusai.core.tags", "hokusai.core.model_ids", "hokusai.core.local_store"},
    {"hokusai.core.errors", "hokusai.core.entities"},
    {"hokusai.core.connection"},
    {"hokusai.core.client"},
    {"hokusai.core.versions", "hokusai.core.contribution", "hokusai.core.champion"},
    {"hokusai.core.improvements", "hokusai.core.lineage", "hokusai.core.tokenized", "hokusai.core.impact"},
    {"hokusai.core.registry"},
]


def test_the_sdk_core_is_layered_value_types_client_operations_facade():
    from hokusai.settings import REPO_ROOT
    from hokusai_assets_tests.import_graph import import_graph

    graph = import_graph(*library_dirs(REPO_ROOT))
    core = {m for m in graph if m.startswith("hokusai.core.")}
    assert core == set().union(*CORE_LAYERS), "a new hokusai.core module: give it a layer here"
    for level, layer in enumerate(CORE_LAYERS):
        below = set().union(*CORE_LAYERS[:level])
        for module in layer:
            upward = {m for m in graph[module] if m.startswith("hokusai.core.") and m not in below}
            assert not upward, f"{module} imports {sorted(upward)}, which are not below it"
    into_tracking = {m for m in core | {"hokusai.core"} if any(d.startswith("hokusai.tracking") for d in graph[m])}
    assert not into_tracking, f"hokusai.core must not import hokusai.tracking (it sits on top): {sorted(into_tracking)}"
    rules = {m for m in graph if m == "hokusai.rules" or m.startswith("hokusai.rules.")}
    assert "hokusai.rules.delta_one" in rules
    upward = {m: sorted(d for d in graph[m] if not d.startswith("hokusai.rules")) for m in rules}
    assert not any(upward.values()), f"hokusai.rules sits below the SDK and the platform, it imports only itself: {upward}"


def test_the_readme_layout_table_names_every_package_of_the_library():
    """A newcomer reads the layout from the README: each folder of ``hokusai/`` and ``sdk/hokusai/`` is in its table."""
    from hokusai.settings import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text()
    table = readme[readme.index("## Layout"):].split("\n## ")[0]
    folders = sorted(f"{p.parent.relative_to(REPO_ROOT).as_posix()}/"
                     for portion in library_dirs(REPO_ROOT) for p in portion.glob("*/__init__.py"))
    assert "sdk/hokusai/core/" in folders and "hokusai/chain/" in folders
    missing = [folder for folder in folders if f"`{folder}`" not in table]
    assert not missing, f"README's layout table lacks {missing}"


def test_both_distributions_carry_the_one_version_and_the_platform_pins_the_sdk_at_it():
    """``hokusai.rules.version`` is the one number (the SDK reads it as its version); the platform
    states the same and requires exactly that SDK, so the two are always released together."""
    import tomllib

    from hokusai.rules.version import __version__
    from hokusai.settings import REPO_ROOT

    platform = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    sdk = tomllib.loads((REPO_ROOT / "sdk" / "pyproject.toml").read_text())
    assert sdk["project"]["name"] == "hokusai-sdk" and sdk["project"]["dynamic"] == ["version"]
    assert sdk["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "hokusai.rules.version.__version__"}
    assert platform["version"] == __version__
    assert f"hokusai-sdk=={__version__}" in platform["dependencies"]
