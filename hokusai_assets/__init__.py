"""The Hokusai Dagster code location: partitions, assets, checks, jobs, Definitions."""

import warnings

# Partitioned blocking checks (``partitions_def=`` on an asset check) are marked
# preview in Dagster 1.13; they are what lets a check gate one contribution.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")
