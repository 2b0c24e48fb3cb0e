"""Suite-wide safety: no test may reach a real AWS account.

Every test runs with fake credentials and a fixed default region, and AWS config files are
pointed at nothing, so a missing moto decorator fails loudly instead of using a developer's
profile.

Every botocore session in the test process also shares one model loader (see
`_share_botocore_model_loader`).
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
