"""The synthetic spokes both cost measurements send from (`bench.cost` counts AWS calls and bytes,
`bench.lambda_footprint` measures the functions' CPU and memory): the same spokes, envelopes and
SQS records, so the two sections price the same traffic."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from contracts import METRIC_EVENT_DETAIL_TYPE, METRIC_EVENT_SOURCE
from spoke_stackset.extractor.runtime.event_builder import ExtractionEnvelope

REGION: Final = "us-east-1"
HUB_ACCOUNT: Final = "999999999999"


def spoke(index: int) -> tuple[str, str, str]:
    """Every spoke in one project: a key the project's spokes share shows as a hot key."""
    return f"{400000000000 + index:012d}", "team-0", ("dev", "prod")[index % 2]


def envelope(index: int, moment: datetime) -> ExtractionEnvelope:
    account, project, environment = spoke(index)
    return ExtractionEnvelope(
        project_name=project,
        environment=environment,
        account_id=account,
        region=REGION,
        extraction_date=moment,
        extraction_id=str(uuid.UUID(int=index)),
    )


def sqs_record(entry: Mapping[str, Any], index: int, moment: datetime) -> dict[str, Any]:
    account, _, _ = spoke(index)
    event = {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{index}/{moment.isoformat()}")),
        "detail-type": METRIC_EVENT_DETAIL_TYPE,
        "source": METRIC_EVENT_SOURCE,
        "account": account,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": json.loads(entry["Detail"]),
    }
    sent = str(int(moment.timestamp() * 1000))
    return {
        "messageId": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{index}/{moment.isoformat()}")),
        "receiptHandle": f"cost-{index}",
        "body": json.dumps(event),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": sent},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{HUB_ACCOUNT}:dsdash-hub-ingest",
        "awsRegion": REGION,
    }
