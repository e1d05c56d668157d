"""Commitments: canonical JSON, model-weight and row Merkle roots, frame hashing."""
