"""Evidence and claims: the attestation, EIP-712 mint requests, verification, reproduction."""
