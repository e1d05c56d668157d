"""Hokusai: evaluate data contributions to ML models, verifiably.

The domain library and SDK. Nothing here imports Dagster: the code location in
``hokusai_assets`` wires these plain functions into assets.
"""

__version__ = "0.1.0"
