"""A hub that cannot answer gives one readable line on stderr and exit code 1, never a traceback."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner, Result

from cli.main import app

# Port 9 (discard) on the loopback: nothing listens there, so connecting fails at once.
UNREACHABLE_ENDPOINT = "http://127.0.0.1:9"


def run(*arguments: str) -> Result:
    return CliRunner().invoke(app, list(arguments))


def assert_one_line_error(result: Result, *expected: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("dsdash: ")
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["query", "--latest"],
        ["dashboard", "--out", "/dev/null"],
        ["quarantine", "list"],
        ["refresh"],
    ],
)
def test_unreachable_endpoint(command):
    result = run(*command, "--endpoint-url", UNREACHABLE_ENDPOINT)

    assert_one_line_error(result, "cannot reach the hub", UNREACHABLE_ENDPOINT)


def test_missing_credentials(monkeypatch):
    for variable in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SECURITY_TOKEN",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    # No instance metadata lookup: it would hang off EC2 and could find a role on it.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    # The endpoint is unreachable too, so nothing could leave this machine even if some
    # credential were found after all.
    result = run("status", "--endpoint-url", UNREACHABLE_ENDPOINT)

    assert_one_line_error(result, "no usable AWS credentials", "--profile")


def test_unknown_profile():
    result = run("status", "--profile", "no-such-profile")

    assert_one_line_error(result, "'no-such-profile'", "not configured")


def test_missing_table():
    with mock_aws():
        result = run("status")

    assert_one_line_error(result, "dsdash-hub-metrics", "does not exist", "eu-west-1")


def test_region_option_overrides_the_config(empty_hub):
    # The table exists in eu-west-1 (the config's hub.region) only.
    found = empty_hub.run("status")
    elsewhere = empty_hub.run("status", "--region", "us-east-2")

    assert found.exit_code == 0, found.output
    assert_one_line_error(elsewhere, "does not exist", "us-east-2")


def test_an_invalid_config_is_a_usage_error(tmp_path):
    bad = tmp_path / "projects.yaml"
    bad.write_text("hub: [\n", encoding="utf-8")

    result = run("status", "--config", str(bad))

    assert result.exit_code == 2
    assert str(bad) in result.stderr
    assert "dsdash validate" in result.stderr
    assert "Traceback" not in result.stderr


def test_access_denied_is_one_line(empty_hub, monkeypatch):
    from botocore.exceptions import ClientError

    def deny(*_arguments, **_keywords):
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not authorized\nsecond line"}},
            "Query",
        )

    monkeypatch.setattr(boto3.Session, "client", lambda *_a, **_k: type("C", (), {"query": deny})())
    result = empty_hub.run("status")

    assert_one_line_error(result, "access denied", "not authorized")
