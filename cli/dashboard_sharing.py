"""The page the hub's publisher keeps in the dashboard bucket
(`hub_stack/dashboard_publisher/runtime/publisher.py`): `dsdash dashboard --open` fetches it,
`--share` signs a link to it (docs/architecture.md §7, "Dashboard")."""

from __future__ import annotations

from typing import Any, Final

from botocore.config import Config
from botocore.exceptions import ClientError

from cli.hub_connection import HubConnection
from contracts.dashboard_page import DASHBOARD_OBJECT_KEY, dashboard_bucket_name


class PublishedPageError(RuntimeError):
    """The hub has no page to fetch or share; the message says why and what to do."""


def _bucket(connection: HubConnection) -> str:
    return dashboard_bucket_name(connection.config.hub.account_id, connection.region)


# SigV4 links carry their validity (X-Amz-Expires, at most 7 days) and work in every region;
# botocore's default for S3 presigning is still the legacy signature in some set-ups.
_SIGV4: Final = Config(signature_version="s3v4")


def _s3(connection: HubConnection) -> Any:
    return connection.session.client("s3", config=_SIGV4)


def fetch_published_page(connection: HubConnection) -> bytes:
    bucket = _bucket(connection)
    try:
        answer = _s3(connection).get_object(Bucket=bucket, Key=DASHBOARD_OBJECT_KEY)
    except ClientError as error:
        raise PublishedPageError(_missing(error, bucket)) from None
    body: bytes = answer["Body"].read()
    return body


def share_link(connection: HubConnection, expires_in: int) -> str:
    """A presigned GET of the page valid for `expires_in` seconds. The page is checked first, so
    a link is never handed out for a page that is not there."""
    bucket = _bucket(connection)
    s3 = _s3(connection)
    try:
        s3.head_object(Bucket=bucket, Key=DASHBOARD_OBJECT_KEY)
    except ClientError as error:
        raise PublishedPageError(_missing(error, bucket)) from None
    url: str = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": DASHBOARD_OBJECT_KEY},
        ExpiresIn=expires_in,
    )
    return url


def _missing(error: ClientError, bucket: str) -> str:
    code = error.response.get("Error", {}).get("Code", "")
    where = f"s3://{bucket}/{DASHBOARD_OBJECT_KEY}"
    if code == "NoSuchBucket":
        return f"no dashboard bucket {bucket}: deploy the hub stack (it creates the publisher)"
    if code in {"NoSuchKey", "404", "NotFound"}:
        return (
            f"no page at {where} yet: the hub's publisher writes it within 15 minutes of "
            "deployment; `dsdash dashboard` without --open renders one locally"
        )
    return f"cannot read {where}: {code or error}"
