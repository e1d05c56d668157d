"""A link's training set, rebuilt from the commitments the chain records.

The champion's training set is the token's base rows plus, in chain order, the new
rows of every accepted contribution (under ``update``, each link's rows replace the
earlier rows that share their key, then join). Each part is read from its rows file and
checked against the row root the chain (and the attestation) recorded before it is
used, so a training set is reproducible from its pins and a file changed on disk is
caught instead of trained on. Rebuilt sets are cached per lineage (its roots).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pandas as pd

from hokusai.chain.ledger import ChainLink
from hokusai.commitments.rows import frame_root, read_rows_file, rows_root
from hokusai.models.training import merge_training_data
from hokusai.tokens.spec import TokenSpec

_CACHE: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
_CACHE_LIMIT = 4


class TrainingSetMismatch(RuntimeError):
    """A part of a training set does not hash to the root its link recorded."""


def base_rows_root(base: pd.DataFrame, spec: TokenSpec) -> str:
    """The row root of the token's base data (the genesis link's rows)."""
    return frame_root(_base_rows(base, spec))


def _base_rows(base: pd.DataFrame, spec: TokenSpec) -> pd.DataFrame:
    """The base's committed columns (``TokenSpec.committed_columns``), or a clear refusal when it lacks one."""
    missing = [name for name in spec.committed_columns if name not in base.columns]
    if missing:
        raise TrainingSetMismatch(f"the base data of {spec.token_id} lacks column(s) {', '.join(missing)}"
                                  + (" (an 'update' token's base rows need their keys)"
                                     if spec.key_column in missing else ""))
    return base[spec.committed_columns]


def lineage_key(lineage: list[ChainLink]) -> tuple[str, ...]:
    return tuple(link.rows_root for link in lineage)


def training_set(lineage: list[ChainLink], base: pd.DataFrame, spec: TokenSpec) -> pd.DataFrame:
    """Base rows + each later link's rows, in chain order, every part verified (a cached frame: do not mutate)."""
    if not lineage or lineage[0].position != 0:
        raise ValueError("a lineage starts at the genesis link")
    if spec.merge_strategy not in ("append", "update"):
        raise ValueError(f"merge strategy '{spec.merge_strategy}' is not supported by the lineage chain: "
                         "a chain accumulates rows, so only 'append' and 'update' compose")
    key = (spec.token_id, spec.spec_sha256, lineage_key(lineage))
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    genesis = _base_rows(base, spec)
    if frame_root(genesis) != lineage[0].rows_root:
        raise TrainingSetMismatch(f"the base data of {spec.token_id} no longer hashes to the genesis root "
                                  f"{lineage[0].rows_root}: the token's base file changed")
    parts = [link_rows(link, spec) for link in lineage[1:]]
    if spec.merge_strategy == "update":
        frame = genesis.assign(**{spec.key_column: genesis[spec.key_column].astype(str)})
        for rows in parts:  # each link replaces what its keys name, in chain order
            frame = merge_training_data(frame, rows, spec)
        frame = frame.reset_index(drop=True)
    else:
        frame = pd.concat([genesis, *parts], ignore_index=True) if parts else genesis.reset_index(drop=True)
    _CACHE[key] = frame
    while len(_CACHE) > _CACHE_LIMIT:
        _CACHE.popitem(last=False)
    return frame


def link_rows(link: ChainLink, spec: TokenSpec) -> pd.DataFrame:
    """A contribution link's new rows, read from its rows file and checked against its root."""
    if not link.rows_path:
        raise TrainingSetMismatch(f"link {link.position} of {link.token_id} records no rows file")
    path = Path(link.rows_path)
    if not path.is_file():
        raise TrainingSetMismatch(f"the rows file of link {link.position} ({link.partition_key}) is missing: {path}")
    lines = read_rows_file(path)
    if len(lines) != link.rows_count or rows_root(lines) != link.rows_root:
        raise TrainingSetMismatch(f"the rows file of link {link.position} ({link.partition_key}) does not hash "
                                  f"to its recorded root {link.rows_root}")
    return parse_rows_file(path, spec)


def parse_rows_file(path: Path, spec: TokenSpec) -> pd.DataFrame:
    """A rows file as a frame typed like the token's training data."""
    import pyarrow.csv as arrow_csv

    columns = spec.committed_columns
    strings = {f.name for f in spec.features if f.dtype in ("category", "string")}
    import pyarrow as pa

    label_type = pa.string() if isinstance(spec.label_values[0], str) else None
    column_types = {name: pa.string() for name in strings}
    if spec.merge_strategy == "update":
        column_types[spec.key_column] = pa.string()  # keys are compared as text
    if label_type is not None:
        column_types[spec.label_column] = label_type
    table = arrow_csv.read_csv(path, convert_options=arrow_csv.ConvertOptions(column_types=column_types,
                                                                               strings_can_be_null=False))
    frame = table.to_pandas()
    if list(frame.columns) != columns:
        raise TrainingSetMismatch(f"rows file {path} has columns {list(frame.columns)}, expected {columns}")
    frame[spec.label_column] = frame[spec.label_column].astype(type(spec.label_values[0]))
    return frame
