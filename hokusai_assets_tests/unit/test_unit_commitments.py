"""Unit tests for ``hokusai.rules.weights``: sha256-merkle-v1 known answers and the weights commitment."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hokusai.rules.weights import WEIGHTS_COMMITMENT_SCHEME, committed_files, merkle_root, weights_commitment


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


LEAVES = [h(bytes([i])) for i in range(5)]


def test_scheme_name():
    assert WEIGHTS_COMMITMENT_SCHEME == "sha256-merkle-v1"


def test_single_leaf_is_its_own_root():
    assert merkle_root([LEAVES[0]]) == LEAVES[0]


def test_two_leaves():
    assert merkle_root(LEAVES[:2]) == h(LEAVES[0] + LEAVES[1])


def test_three_leaves_pair_the_odd_one_with_itself():
    expected = h(h(LEAVES[0] + LEAVES[1]) + h(LEAVES[2] + LEAVES[2]))
    assert merkle_root(LEAVES[:3]) == expected


def test_four_leaves():
    expected = h(h(LEAVES[0] + LEAVES[1]) + h(LEAVES[2] + LEAVES[3]))
    assert merkle_root(LEAVES[:4]) == expected


def test_five_leaves_odd_at_two_levels():
    level1 = [h(LEAVES[0] + LEAVES[1]), h(LEAVES[2] + LEAVES[3]), h(LEAVES[4] + LEAVES[4])]
    level2 = [h(level1[0] + level1[1]), h(level1[2] + level1[2])]
    assert merkle_root(LEAVES) == h(level2[0] + level2[1])


def test_known_hex_answer():
    """Pinned value: leaves sha256(b"a"), sha256(b"b"), sha256(b"c")."""
    leaves = [h(b"a"), h(b"b"), h(b"c")]
    assert merkle_root(leaves[:2]).hex() == "e5a01fee14e0ed5c48714f22180f25ad8365b53f9779f79dc4a3d7e93963f94a"
    assert merkle_root(leaves).hex() == "d31a37ef6ac14a2db1470c4316beb5592e6afd4465022339adafda76a18ffabe"


def test_leaf_order_matters_and_input_is_not_mutated():
    leaves = LEAVES[:3]
    copy = list(leaves)
    assert merkle_root(leaves) != merkle_root(leaves[::-1])
    assert leaves == copy


def test_no_leaves_raises():
    with pytest.raises(ValueError, match="at least one leaf"):
        merkle_root([])


# --- weights_commitment ------------------------------------------------------------------------

FILES = {
    "model.pkl": b"\x80\x04weights",
    "conda.yaml": b"name: env\n",
    "a.txt": b"A",
    "a/b": b"B",
    "B.bin": b"upper",
    "sub/dir/MLmodel": b"nested MLmodel is not the volatile top-level one",
}
VOLATILE = {
    "MLmodel": b"run_id: 123\nutc_time_created: now\n",
    "registered_model_meta": b"model_name: x\nmodel_version: 3\n",
    "metadata/MLmodel": b"copy",
    "metadata/requirements.txt": b"scikit-learn\n",
}


def make_model_dir(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def expected_commitment(files: dict[str, bytes]) -> str:
    ordered = sorted(files)
    return "0x" + merkle_root([h(files[name]) for name in ordered]).hex()


def test_committed_files_are_in_posix_lexicographic_order(tmp_path):
    make_model_dir(tmp_path, {**FILES, **VOLATILE})
    assert committed_files(tmp_path) == ["B.bin", "a.txt", "a/b", "conda.yaml", "model.pkl", "sub/dir/MLmodel"]


def test_weights_commitment_known_answer(tmp_path):
    make_model_dir(tmp_path, {**FILES, **VOLATILE})
    order = ["B.bin", "a.txt", "a/b", "conda.yaml", "model.pkl", "sub/dir/MLmodel"]
    leaves = [h(FILES[name]) for name in order]
    commitment = weights_commitment(tmp_path)
    assert commitment == "0x" + merkle_root(leaves).hex() == expected_commitment(FILES)
    assert len(commitment) == 66 and commitment == commitment.lower()


def test_single_file_commitment_is_its_digest(tmp_path):
    make_model_dir(tmp_path, {"model.pkl": b"only", **VOLATILE})
    assert weights_commitment(tmp_path) == "0x" + hashlib.sha256(b"only").hexdigest()


def test_volatile_files_do_not_change_the_commitment(tmp_path):
    with_volatile = make_model_dir(tmp_path / "one", {**FILES, **VOLATILE})
    without = make_model_dir(tmp_path / "two", FILES)
    changed = make_model_dir(tmp_path / "three", {**FILES, **{k: v + b"x" for k, v in VOLATILE.items()}})
    assert weights_commitment(with_volatile) == weights_commitment(without) == weights_commitment(changed)


def test_creation_order_does_not_matter(tmp_path):
    forward = make_model_dir(tmp_path / "forward", FILES)
    backward = make_model_dir(tmp_path / "backward", dict(reversed(list(FILES.items()))))
    assert weights_commitment(forward) == weights_commitment(backward)


@pytest.mark.parametrize("name", sorted(FILES))
def test_flipping_one_byte_changes_the_commitment(tmp_path, name):
    make_model_dir(tmp_path, FILES)
    before = weights_commitment(tmp_path)
    data = bytearray(FILES[name])
    data[0] ^= 0x01
    (tmp_path / name).write_bytes(bytes(data))
    assert weights_commitment(tmp_path) != before


def test_renaming_or_adding_a_file_changes_the_commitment(tmp_path):
    make_model_dir(tmp_path, FILES)
    before = weights_commitment(tmp_path)
    (tmp_path / "extra.bin").write_bytes(b"")
    with_extra = weights_commitment(tmp_path)
    assert with_extra != before
    (tmp_path / "extra.bin").rename(tmp_path / "zzz.bin")  # same bytes, different position in the order
    assert weights_commitment(tmp_path) != with_extra


def test_empty_dir_raises(tmp_path):
    with pytest.raises(ValueError, match="no model files to commit to"):
        weights_commitment(tmp_path)


def test_only_volatile_files_raises(tmp_path):
    make_model_dir(tmp_path, VOLATILE)
    (tmp_path / "empty-subdir").mkdir()
    assert committed_files(tmp_path) == []
    with pytest.raises(ValueError, match="no model files to commit to"):
        weights_commitment(tmp_path)
