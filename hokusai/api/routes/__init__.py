"""The API's routes, one module per resource; each is thin over a ``hokusai`` function."""
