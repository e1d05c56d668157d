"""conftest.py's xdist groups: a test sharing a module- or session-scoped fixture with others runs on the
same pytest-xdist worker as they do (one server for all of them); a test with only its own fixtures and
the root conftest's cheap ones is spread on its own."""

import pytest

from hokusai_assets_tests.conftest import shared_server_group


@pytest.fixture(scope="module")
def module_server():
    return object()


def group_of(request) -> tuple | None:
    mark = request.node.get_closest_marker("xdist_group")
    return mark.args if mark else None


def test_a_test_sharing_a_module_fixture_is_grouped_by_its_module(request, module_server):
    assert group_of(request) == ("hokusai_assets_tests/unit/test_xdist_groups.py",)
    assert shared_server_group(request.node) == "hokusai_assets_tests/unit/test_xdist_groups.py"


def test_a_test_with_its_own_and_the_root_conftests_fixtures_is_not_grouped(request, tmp_path, shared_cache,
                                                                             chain_tokens_env):
    assert group_of(request) is None
    assert shared_server_group(request.node) is None
