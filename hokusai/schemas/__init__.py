"""JSON Schemas shipped as package data (the mint request, the prover document): a regular package,
so ``importlib.resources.files("hokusai.schemas")`` works in the ``hokusai`` namespace package.
"""
