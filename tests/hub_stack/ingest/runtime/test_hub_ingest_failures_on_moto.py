"""The ingest Lambda on moto when DynamoDB or Firehose fail: only the records they failed go
back to SQS, and their redelivery completes them."""

from __future__ import annotations

import json
from typing import Any

from botocore.awsrequest import AWSResponse
from hub_ingest_support import beta_v2_event, run_ingest
from hub_runtime_support import (
    STRANGER_ACCOUNT,
    Hub,
    delivered_rows,
    items_under,
    scan_table,
    sqs_batch,
    sqs_record,
    v1_event,
    with_envelope,
)


def _fail_latest_writes_of_project(project: str) -> Any:
    def fail(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        request = json.loads(params["body"])
        if not request["Key"]["PK"]["S"].startswith(f"LATEST#{project}#"):
            return None
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "injected"}
        return AWSResponse("https://dynamodb", 400, {}, None), {
            "Error": error,
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    return fail


def test_a_dynamodb_failure_reports_only_that_record(enrolled_hub: Hub) -> None:
    enrolled_hub.client.meta.events.register(
        "before-call.dynamodb.UpdateItem", _fail_latest_writes_of_project("beta")
    )
    batch = sqs_batch(
        [
            sqs_record(v1_event(), "alpha-v1"),
            sqs_record(beta_v2_event(), "beta-v2"),
            sqs_record(with_envelope(v1_event(), account=STRANGER_ACCOUNT), "stranger"),
        ]
    )

    response = run_ingest(enrolled_hub, batch)

    assert response == {"batchItemFailures": [{"itemIdentifier": "beta-v2"}]}
    items = scan_table(enrolled_hub.client)
    assert {row["project"] for row in delivered_rows(enrolled_hub.session)} == {"alpha"}
    assert [i["ReasonCode"]["S"] for i in items_under(items, "QUARANTINE#")] == [
        "SenderNotEnrolled"
    ]


def test_refused_history_records_alone_go_back_to_sqs(enrolled_hub: Hub) -> None:
    """Firehose may refuse some records of a PutRecordBatch (FailedPutCount): those alone are
    sent again, and the messages whose rows a record still refused carried are reported failed
    (here the batch's rows share one packed record; the sibling
    test_history_delivery_packing.py fails one record of several)."""
    sent: list[int] = []

    def refuse_beta(parsed: dict[str, Any], params: dict[str, Any], **_: Any) -> None:
        sent.append(len(params["Records"]))
        answers = parsed["RequestResponses"]
        for index, record in enumerate(params["Records"]):
            if b'"project":"beta"' in record["Data"]:
                answers[index] = {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "x"}
        parsed["FailedPutCount"] = sum(1 for a in answers if "ErrorCode" in a)

    def remember(params: dict[str, Any], context: Any, **_: Any) -> None:
        context["params"] = params

    def answer(parsed: dict[str, Any], context: Any, **_: Any) -> None:
        refuse_beta(parsed, context["params"])

    events = enrolled_hub.history._client.meta.events
    events.register("before-parameter-build.firehose.PutRecordBatch", remember)
    events.register("after-call.firehose.PutRecordBatch", answer)
    batch = sqs_batch([sqs_record(v1_event(), "alpha-v1"), sqs_record(beta_v2_event(), "beta-v2")])

    response = run_ingest(enrolled_hub, batch)

    assert response == {
        "batchItemFailures": [{"itemIdentifier": "alpha-v1"}, {"itemIdentifier": "beta-v2"}]
    }
    # The batch's rows in one record, sent again on each retry.
    assert len(sent) > 1 and set(sent) == {1}
    # The redelivery finds the latest item already written (an identical replay) and delivers.
    events.unregister("after-call.firehose.PutRecordBatch", answer)
    assert run_ingest(enrolled_hub, sqs_batch([sqs_record(beta_v2_event(), "beta-v2")])) == {
        "batchItemFailures": []
    }
    assert enrolled_hub.store.quarantine.count() == 0
