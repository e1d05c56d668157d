"""Token specs: what a token is, its fixed data, the demo token's data, identifier rules."""
