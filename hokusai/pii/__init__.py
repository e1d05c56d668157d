"""Personal data: found by name and by value, replaced by keyed hashes; the hashing secret."""
