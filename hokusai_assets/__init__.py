"""The Hokusai Dagster code location: partitions, assets, checks, jobs, Definitions."""
