"""From a signed claim to a settled one: the relayer's rules, the outbox, the Redis transport.

Layers, each importing only the ones above it: ``relayer_rules`` and
``settlement_messages`` (the wire rules, pure), ``decision`` and ``genesis``
(pure), ``database`` (engine factory, shared ``MetaData``), ``outbox`` (the claims
table and its state machine), ``queues`` (Redis transport), ``relay`` (one tick:
publish + consume). ``docs/claims.md`` tells the claim's life.
"""
