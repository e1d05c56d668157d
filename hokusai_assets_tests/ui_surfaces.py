"""Everything the Dagster UI can show, read through the webserver's GraphQL as the UI reads it.

``collect_surfaces`` returns one JSON text per surface, so a test can search each for
secrets and say which surface leaked: resource details, config schema defaults, the
instance's configuration, runs (config, tags), each run's event log (messages,
errors with their stacks, metadata of materializations, checks and failures), asset
materializations and check evaluations, each run's captured stdout/stderr, and the
drop-zone sensor's ticks (cursor, errors, log lines).
"""

from __future__ import annotations

import json
from typing import Any

from hokusai.harness.webserver import REPOSITORY, Webserver

JOB = "evaluate_contribution"
SENSOR = "contribution_drop_sensor"
ASSETS = ("contributed_dataset", "clean_dataset", "baseline_model", "new_model", "benchmark_metrics",
          "delta_one", "attestation", "registered_token_model")
CHECKS = (("contributed_dataset", "contribution_matches_token_schema"),
          ("clean_dataset", "clean_rows_meet_expectations"))

METADATA = """
fragment Meta on MetadataEntry { __typename label description
  ... on TextMetadataEntry { text }
  ... on JsonMetadataEntry { jsonString }
  ... on MarkdownMetadataEntry { mdStr }
  ... on PathMetadataEntry { path }
  ... on NotebookMetadataEntry { path }
  ... on UrlMetadataEntry { url }
  ... on IntMetadataEntry { intRepr }
  ... on FloatMetadataEntry { floatRepr }
  ... on BoolMetadataEntry { boolValue }
  ... on PythonArtifactMetadataEntry { module name }
  ... on PipelineRunMetadataEntry { runId }
  ... on TimestampMetadataEntry { timestamp }
  ... on AssetMetadataEntry { assetKey { path } }
  ... on JobMetadataEntry { jobName }
  ... on TableMetadataEntry { table { records schema { columns { name type description } } } }
  ... on TableSchemaMetadataEntry { schema { columns { name type description } } }
}
"""
ERROR = """
fragment Err on PythonError { className message stack
  errorChain { isExplicitLink error { className message stack } } }
"""

RESOURCES = """query Resources($repo: RepositorySelector!) { repositoryOrError(repositorySelector: $repo) {
  __typename ... on PythonError { message }
  ... on Repository { allTopLevelResourceDetails { name description resourceType
    configuredValues { key value type }
    configFields { name description isSecret defaultValueAsJson } } } } }"""

CONFIG = """query Config($selector: PipelineSelector!) { runConfigSchemaOrError(selector: $selector) {
  __typename ... on PythonError { message }
  ... on RunConfigSchema { rootDefaultYaml
    allConfigTypes { key ... on CompositeConfigType { fields { name defaultValueAsJson } } } } } }"""

INSTANCE = "{ instance { info hasInfo } }"

RUNS = """{ runsOrError(limit: 1000) { __typename ... on PythonError { message }
  ... on Runs { results { runId status jobName runConfigYaml tags { key value } } } } }"""

EVENTS = METADATA + ERROR + """query Logs($runId: ID!, $after: String) { logsForRun(runId: $runId, afterCursor: $after, limit: 500) {
  __typename ... on PythonError { message } ... on RunNotFoundError { message }
  ... on EventConnection { cursor hasMore events { __typename
    ... on MessageEvent { message level stepKey eventType }
    ... on DisplayableEvent { label description metadataEntries { ...Meta } }
    ... on ErrorEvent { error { ...Err } }
    ... on ExecutionStepFailureEvent { failureMetadata { label description metadataEntries { ...Meta } } }
    ... on MaterializationEvent { assetKey { path } partition tags { key value } }
    ... on AssetCheckEvaluationEvent { evaluation { checkName success description metadataEntries { ...Meta } } }
    ... on LogsCapturedEvent { fileKey stepKeys } } } } }"""

MATERIALIZATIONS = METADATA + """query Asset($key: AssetKeyInput!) { assetOrError(assetKey: $key) {
  __typename ... on Asset { assetMaterializations(limit: 100) { runId partition description
    metadataEntries { ...Meta } tags { key value } } } } }"""

CHECK_EXECUTIONS = METADATA + """query Check($key: AssetKeyInput!, $name: String!) {
  assetCheckExecutions(assetKey: $key, checkName: $name, limit: 100) { runId status partition
    evaluation { success description metadataEntries { ...Meta } } } }"""

SENSOR_TICKS = ERROR + """query Ticks($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
  __typename ... on PythonError { message }
  ... on Sensor { sensorState { status ticks(limit: 100) { status cursor runIds runKeys skipReason
    error { ...Err } logEvents { events { message level } } } } } } }"""

CAPTURED_LOGS = """query Captured($key: [String!]!) { capturedLogs(logKey: $key) { stdout stderr cursor } }"""


def run_events(webserver: Webserver, run_id: str) -> list[dict[str, Any]]:
    """Every event of a run, page by page."""
    events, cursor = [], None
    while True:
        page = webserver.graphql(EVENTS, {"runId": run_id, "after": cursor})["logsForRun"]
        if page["__typename"] != "EventConnection":
            raise RuntimeError(f"logsForRun {run_id}: {page}")
        events += page["events"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return events


def collect_surfaces(webserver: Webserver) -> dict[str, Any]:
    """Surface name → what GraphQL answered (parsed JSON); ``texts`` gives them as searchable text."""
    surfaces: dict[str, Any] = {
        "resources": webserver.graphql(RESOURCES, {"repo": REPOSITORY}),
        "config_schema": webserver.graphql(CONFIG, {"selector": {**REPOSITORY, "pipelineName": JOB}}),
        "instance": webserver.graphql(INSTANCE),
        "runs": webserver.graphql(RUNS),
    }
    runs = surfaces["runs"]["runsOrError"]["results"]
    for run in runs:
        events = run_events(webserver, run["runId"])
        surfaces[f"events:{run['runId']}"] = events
        for event in events:
            if event["__typename"] == "LogsCapturedEvent":
                key = [run["runId"], "compute_logs", event["fileKey"]]
                surfaces[f"compute_logs:{run['runId']}:{event['fileKey']}"] = webserver.graphql(
                    CAPTURED_LOGS, {"key": key})["capturedLogs"]
    for asset in ASSETS:
        surfaces[f"materializations:{asset}"] = webserver.graphql(MATERIALIZATIONS, {"key": {"path": [asset]}})
    for asset, check in CHECKS:
        surfaces[f"check:{check}"] = webserver.graphql(CHECK_EXECUTIONS, {"key": {"path": [asset]}, "name": check})
    surfaces["sensor_ticks"] = webserver.graphql(SENSOR_TICKS, {"selector": {**REPOSITORY, "sensorName": SENSOR}})
    return surfaces


def texts(surfaces: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """The surfaces whose name starts with ``prefix``, each as one JSON text."""
    return {name: json.dumps(value) for name, value in surfaces.items() if name.startswith(prefix)}


def resource_values(surfaces: dict[str, Any]) -> dict[str, dict[str, dict[str, str]]]:
    """resource → field → {value, type}, as the resources page lists them."""
    details = surfaces["resources"]["repositoryOrError"]["allTopLevelResourceDetails"]
    return {resource["name"]: {item["key"]: {"value": item["value"], "type": item["type"]}
                               for item in resource["configuredValues"]} for resource in details}


def failure_messages(events: list[dict[str, Any]]) -> list[str]:
    """The words of every error in an event log: messages, then each error and its causes."""
    words = []
    for event in events:
        error = event.get("error")
        if error:
            words.append(event.get("message") or "")
            words.append(error["message"])
            words += [link["error"]["message"] for link in error.get("errorChain") or []]
    return [word for word in words if word]
