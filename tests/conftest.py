"""Suite-wide safety: no test may reach a real AWS account.

Every test runs with fake credentials and a fixed default region, and AWS config files are
pointed at nothing, so a missing moto decorator fails loudly instead of using a developer's
profile.

Every botocore session in the test process also shares one model loader (see
`_share_botocore_model_loader`), and the long files are handed out first (see
`pytest_collection_modifyitems`).
"""

from __future__ import annotations

import functools

import botocore.session
import pytest


def _share_botocore_model_loader() -> None:
    """One botocore data loader per data path for the whole test process.

    The handlers under test build their sessions the Lambda way (`boto3.Session()`, or one per
    assumed role), and each new botocore session gets a fresh loader that parses endpoints.json
    and every service model again: in a moto test with a few dozen handler invocations that JSON
    parsing was a quarter of the CPU. In Lambda each execution environment pays it once; here one
    process runs hundreds of invocations. The loader only reads botocore's packaged data files,
    and sessions already share its cached results within one session, so sharing it across
    sessions changes what is loaded nowhere. Keyed by the data path, so a test that sets
    AWS_DATA_PATH still gets a loader of its own.
    """
    botocore.session.create_loader = functools.cache(botocore.session.create_loader)


_share_botocore_model_loader()


@pytest.fixture(autouse=True)
def _fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


# Files marked slow (a sandbox demo, a `dsdash demo` subprocess, the quick bench run) take a minute
# or more each; then the files that synthesize the CDK app.
_LONG_FILE_MARKERS = ("slow", "synth")


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist hands out files (`--dist loadfile`) by their number of tests, most first, by
    # default: the one-test `dsdash demo` files were handed out last and ran alone at the end of
    # `make test`. Collection order instead, which `pytest_collection_modifyitems` sets.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files with a slow test first, then those with a synth test, then the rest: the longest
    work starts first and the short files fill the workers at the end. A file's tests keep their
    order (the sandbox story files act in file order); the sort is stable."""
    rank: dict[str, int] = {}
    for item in items:
        marked = [name for name in _LONG_FILE_MARKERS if item.get_closest_marker(name)]
        item_rank = _LONG_FILE_MARKERS.index(marked[0]) if marked else len(_LONG_FILE_MARKERS)
        rank[_file_of(item)] = min(rank.get(_file_of(item), item_rank), item_rank)
    items.sort(key=lambda item: rank[_file_of(item)])


def _file_of(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]
