"""The integration guide's "REST API approach": MLflow's own client through the Hokusai API.

    HOKUSAI_API=http://127.0.0.1:8001 MLFLOW_TRACKING_TOKEN=hk_… python examples/api_mlflow_guide.py NAME

Logs a model, registers it, adds a second version that names the first as its
baseline, then asks the API for the lineage. Prints the lineage JSON.
"""

import json
import os
import sys
import urllib.request

import mlflow
import mlflow.sklearn
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

api = os.environ["HOKUSAI_API"]
model_name = sys.argv[1]
contributor = "0x00000000000000000000000000000000000d1617"

mlflow.set_tracking_uri(f"{api}/api/mlflow")
mlflow.set_experiment("api-guide")
model = LogisticRegression(max_iter=200).fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
with mlflow.start_run() as run:
    mlflow.log_metric("accuracy", 0.91)
    info = mlflow.sklearn.log_model(model, name="model", registered_model_name=model_name,
                                    pip_requirements=["scikit-learn"])

client = MlflowClient()
improved = client.create_model_version(
    name=model_name, source=info.model_uri, run_id=run.info.run_id, model_id=info.model_id,
    tags={"hokusai_token_id": "digits-demo", "baseline_version": "1", "contributor_wallet": contributor,
          "delta_one_bps": "120"})

request = urllib.request.Request(f"{api}/api/v1/models/{model_name}/{improved.version}/lineage",
                                 headers={"Authorization": f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"})
with urllib.request.urlopen(request) as answer:
    print(json.dumps(json.load(answer)))
