"""A token's lineage chain: which model follows which, and whose new rows each one added.

``ledger`` keeps the chain (a compare-and-set on its head), ``training_set`` rebuilds a
link's training data from the commitments it records, ``new_rows`` decides which of a
contribution's rows the head's training set does not hold yet.
"""
