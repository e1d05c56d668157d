"""The models side: training, the baseline and candidate steps, registration in MLflow."""
