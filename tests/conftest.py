"""Suite-wide safety: no test may reach a real AWS account.

Every test runs with fake credentials and a fixed default region, and AWS config files are
pointed at nothing, so a missing moto decorator fails loudly instead of using a developer's
profile.

Every botocore session in the test process also shares one model loader (see
`SHARED_MODEL_LOADER` below), and the long files are handed out first (see
`pytest_collection_modifyitems`).
"""

from __future__ import annotations

import pytest

from sandbox.botocore_models import SHARED_MODEL_LOADER

# The handlers under test make their sessions the Lambda way (`boto3.Session()`, one per assumed
# role); one botocore model loader serves them all (`sandbox.botocore_models`): re-parsing the
# service models was a quarter of a moto test's CPU. It changes what is loaded nowhere.
SHARED_MODEL_LOADER.install()


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
