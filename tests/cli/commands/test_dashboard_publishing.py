"""The hub's dashboard publisher on moto (its real handler, reading the hub table and history
bucket of the operator-console fixtures) and `dsdash dashboard --open/--share` against the page it
wrote (docs/architecture.md §7, "Dashboard")."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from operator_cli_support import REGION

import contracts
from config.loader import load_config
from contracts.dashboard_page import (
    DASHBOARD_OBJECT_KEY,
    DEFAULT_SHARE_SECONDS,
    MAX_SHARE_SECONDS,
    dashboard_bucket_name,
)
from hub_stack.dashboard_publisher.runtime import publisher
from hub_stack.history_query.duckdb_engine import DuckDbEngine, S3HistorySource

HUB_ACCOUNT = load_config().hub.account_id
BUCKET = dashboard_bucket_name(HUB_ACCOUNT, REGION)


def publish(hub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **event: Any) -> Any:
    """One run of the publisher's handler with the environment the hub stack gives it; DuckDB
    stands in for Athena, which runs no SQL on moto."""
    for variable, value in {
        "TABLE_NAME": contracts.HUB_TABLE_NAME,
        "DASHBOARD_BUCKET": BUCKET,
        "REFRESH_SCHEDULE": "rate(1 hour)",
        "PROJECT_NAMES": "fraud-detection,churn-prediction",
        "HISTORY_DAYS": "30",
    }.items():
        monkeypatch.setenv(variable, value)
    engine = DuckDbEngine(S3HistorySource.of_hub(hub.session, HUB_ACCOUNT, REGION, tmp_path))
    return publisher.handler(event, None, session=hub.session, engine=engine)


@pytest.fixture
def published(hub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    hub.session.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    result = publish(hub, tmp_path / "cache", monkeypatch)
    assert result["published"] is True, result
    assert result["reason"] == "no page yet"
    return hub


def test_the_publisher_writes_an_encrypted_html_page_once_until_something_changes(
    published: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = published.session.client("s3")
    head = s3.head_object(Bucket=BUCKET, Key=DASHBOARD_OBJECT_KEY)
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert head["ServerSideEncryption"] == "AES256"
    page = s3.get_object(Bucket=BUCKET, Key=DASHBOARD_OBJECT_KEY)["Body"].read().decode()
    assert 'data-state="populated"' in page
    assert "TotalCompletedTrainingJobs" in page

    # Nothing newer in the registry and the page is fresh: the next scheduled run renders nothing.
    again = publish(published, tmp_path / "cache", monkeypatch)
    assert again["published"] is False
    # A refresh's schedule delivered when the page already shows everything: nothing either.
    after_refresh = publish(published, tmp_path / "cache", monkeypatch, RefreshId="a-refresh")
    assert (after_refresh["published"], after_refresh["reason"]) == (False, "the page is current")
    forced = publish(published, tmp_path / "cache", monkeypatch, force=True)
    assert forced["published"] is True and forced["reason"] == "forced"


def test_open_fetches_the_published_page(published: Any, tmp_path: Path) -> None:
    out = tmp_path / "fetched.html"

    result = published.run("dashboard", "--open", "--out", str(out))

    assert result.exit_code == 0, result.output
    stored = published.session.client("s3").get_object(Bucket=BUCKET, Key=DASHBOARD_OBJECT_KEY)
    assert out.read_bytes() == stored["Body"].read()


@pytest.mark.parametrize(
    ("arguments", "seconds"), [((), DEFAULT_SHARE_SECONDS), (("--expires-in", "600"), 600)]
)
def test_share_prints_a_presigned_link_valid_for_the_configured_time(
    published: Any, arguments: tuple[str, ...], seconds: int
) -> None:
    result = published.run("dashboard", "--share", *arguments)

    assert result.exit_code == 0, result.output
    link = urlparse(result.stdout.strip())
    query = parse_qs(link.query)
    assert link.path.endswith(f"/{DASHBOARD_OBJECT_KEY}")
    assert BUCKET in link.netloc + link.path
    assert query["X-Amz-Expires"] == [str(seconds)]
    assert "X-Amz-Signature" in query


def test_share_refuses_a_link_longer_than_twelve_hours(published: Any) -> None:
    result = published.run("dashboard", "--share", "--expires-in", str(MAX_SHARE_SECONDS + 1))

    assert result.exit_code == 2
    assert "--expires-in" in result.output


def test_open_without_a_published_page_says_what_to_do(hub: Any, tmp_path: Path) -> None:
    hub.session.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )

    result = hub.run("dashboard", "--open", "--out", str(tmp_path / "page.html"))

    assert result.exit_code == 1
    assert f"no page at s3://{BUCKET}/{DASHBOARD_OBJECT_KEY} yet" in result.output
    assert not (tmp_path / "page.html").exists()
