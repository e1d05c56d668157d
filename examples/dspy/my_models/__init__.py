"""Example DSPy programs, importable as ``my_models.EmailAssistant`` when ``examples/dspy`` is on the path."""
