"""The ingest Lambda on moto: valid events are stored once, hostile ones quarantined with the
right reason, replays change nothing, and only real failures go back to SQS."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from hub_runtime_support import (
    ALPHA_DEV_ACCOUNT,
    BETA_PROD_ACCOUNT,
    NOW,
    OFFBOARDED_ACCOUNT,
    RETENTION_DAYS,
    STRANGER_ACCOUNT,
    TABLE_NAME,
    Hub,
    delivered_rows,
    items_under,
    scan_table,
    sqs_batch,
    sqs_record,
    v1_event,
    v2_event,
    with_envelope,
)

from hub_stack.ingest.runtime import ingest
from hub_stack.ingest.runtime.ingest_settings import IngestSettings
from hub_stack.runtime import latest_values
from hub_stack.runtime.quarantine import QUARANTINE_RAW_EVENT_MAX_BYTES
from runtime_common.settings import read_settings


def run_ingest(hub: Hub, batch: dict[str, Any]) -> dict[str, Any]:
    return dict(
        ingest.ingest_batch(
            batch,
            store=hub.store,
            history=hub.history,
            retention_days=RETENTION_DAYS,
            clock=lambda: NOW,
        )
    )


def history_keys(hub: Hub) -> list[tuple[str, ...]]:
    """(project, environment, metric, dimensions, extraction time, account, region) of every
    history row delivered, sorted (duplicates kept: a replay delivers its rows again)."""
    return sorted(
        (
            row["project"],
            row["environment"],
            row["metric_name"],
            row["dimensions"],
            row["extraction_time"],
            row["account_id"],
            row["region"],
        )
        for row in delivered_rows(hub.session)
    )


def rows_of(hub: Hub, metric: str) -> list[dict[str, Any]]:
    return [row for row in delivered_rows(hub.session) if row["metric_name"] == metric]


def beta_v2_event() -> dict[str, Any]:
    event = v2_event(
        ProjectName="beta",
        Environment="prod",
        AccountId=BETA_PROD_ACCOUNT,
        ExtractionDate="2025-06-01T11:30:00Z",
        Metrics=[
            {
                "MetricName": "FailedTrainingJobs",
                "MetricValue": 0,
                "Unit": "Count",
                "Dimensions": {},
                "Metadata": {},
            },
            {
                "MetricName": "BillableTrainingSeconds",
                "MetricValue": 86400.5,
                "Unit": "Seconds",
                "Dimensions": {},
                "Metadata": {"WindowHours": 24},
            },
        ],
        Errors=[],
    )
    return with_envelope(
        event, id="b7f0a3c2-2d4e-4f6a-8b9c-0d1e2f3a4b5c", account=BETA_PROD_ACCOUNT
    )


def first_metric_changed(**changes: Any) -> dict[str, Any]:
    event = v2_event()
    event["detail"]["Metrics"][0].update(changes)
    return event


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"level": value}
    return value


V1_BODY = json.dumps(v1_event())

# message id -> (body, reason code the quarantine must record). Each is a way a broken or
# hostile spoke (or anyone with PutEvents on the hub bus) could try to get data in.
HOSTILE_EVENTS: dict[str, tuple[str | dict[str, Any], str]] = {
    "truncated-json": ('{"version": "0", "id": ', "InvalidJson"),
    "json-nested-beyond-recursion": ("[" * 50_000 + "]" * 50_000, "InvalidJson"),
    "json-array-body": ("[1, 2, 3]", "NotAMetricEvent"),
    "foreign-source": (with_envelope(v1_event(), source="aws.ec2"), "NotAMetricEvent"),
    "short-envelope-account": (with_envelope(v1_event(), account="12345"), "InvalidEnvelope"),
    "schema-version-3": (v2_event(SchemaVersion=3), "UnknownSchemaVersion"),
    "schema-version-as-string": (v2_event(SchemaVersion="2"), "UnknownSchemaVersion"),
    "v1-without-project": (
        {
            **v1_event(),
            "detail": {k: v for k, v in v1_event()["detail"].items() if k != "ProjectName"},
        },
        "SchemaViolation",
    ),
    "v2-unknown-unit": (first_metric_changed(Unit="Bananas"), "SchemaViolation"),
    "nan-token": (V1_BODY.replace('"MetricValue": 42', '"MetricValue": NaN'), "NonFiniteValue"),
    "infinity-in-metadata": (
        V1_BODY.replace(
            '"Metadata": {"Source": "ListTrainingJobs"}', '"Metadata": {"x": -Infinity}'
        ),
        "NonFiniteValue",
    ),
    # A numeric string ("42", the sample's SSM metric) is a number: the sibling
    # test_sample_spoke_events.py. Any other string is not.
    "value-as-text": (v1_event(MetricValue="forty-two"), "NonNumericValue"),
    "value-as-nan-string": (v1_event(MetricValue="NaN"), "NonFiniteValue"),
    "value-as-boolean": (first_metric_changed(MetricValue=True), "NonNumericValue"),
    "value-above-dynamodb-range": (
        V1_BODY.replace('"MetricValue": 42', '"MetricValue": 1E+126'),
        "ValueOutOfRange",
    ),
    "value-below-dynamodb-range": (
        V1_BODY.replace('"MetricValue": 42', '"MetricValue": 1E-131'),
        "ValueOutOfRange",
    ),
    "value-with-39-digits": (
        V1_BODY.replace(
            '"MetricValue": 42', '"MetricValue": 1.23456789012345678901234567890123456789'
        ),
        "ValueOutOfRange",
    ),
    "long-metadata-string": (v1_event(Metadata={"Note": "x" * 5000}), "StringTooLong"),
    "long-dimension-value": (
        first_metric_changed(Dimensions={"InstanceType": "m" * 300}),
        "StringTooLong",
    ),
    "event-bigger-than-quarantine-limit": (
        # Two-byte characters, so that truncation must not cut one in half.
        json.dumps(v1_event(Metadata={"Note": "é" * 200_000}), ensure_ascii=False),
        "StringTooLong",
    ),
    "eleven-dimensions": (
        first_metric_changed(Dimensions={f"D{i}": "v" for i in range(11)}),
        "TooManyDimensions",
    ),
    "deep-metadata": (v1_event(Metadata=nested(20)), "NestingTooDeep"),
    "dimensions-beyond-key-size": (
        first_metric_changed(Dimensions={f"D{i}{'n' * 60}": "v" * 250 for i in range(10)}),
        "KeyTooLong",
    ),
    "separator-in-dimension": (
        first_metric_changed(Dimensions={"InstanceType": "a,b=c"}),
        "SchemaViolation",
    ),
    "same-series-twice": (
        v2_event(Metrics=[v2_event()["detail"]["Metrics"][0]] * 2),
        "DuplicateSeries",
    ),
    "extracted-in-an-hour": (
        v1_event(ExtractionDate=(NOW + timedelta(hours=1)).isoformat()),
        "TimestampInFuture",
    ),
    "extracted-before-retention": (
        v1_event(ExtractionDate=(NOW - timedelta(days=RETENTION_DAYS + 1)).isoformat()),
        "TimestampTooOld",
    ),
    "v2-account-differs-from-sender": (v2_event(AccountId=BETA_PROD_ACCOUNT), "AccountMismatch"),
    "unknown-sender": (with_envelope(v1_event(), account=STRANGER_ACCOUNT), "SenderNotEnrolled"),
    "offboarded-sender": (
        with_envelope(v1_event(), account=OFFBOARDED_ACCOUNT),
        "SenderNotEnrolled",
    ),
    "beta-claims-alpha": (
        with_envelope(v1_event(), account=BETA_PROD_ACCOUNT),
        "SenderEnrolledElsewhere",
    ),
    "alpha-dev-claims-alpha-prod": (v1_event(Environment="prod"), "SenderEnrolledElsewhere"),
}

VALID_RECORDS = {
    "valid-v1": v1_event(),
    "valid-v2": v2_event(),
    "valid-v2-beta": beta_v2_event(),
}


def mixed_batch() -> dict[str, Any]:
    records = [sqs_record(body, message_id) for message_id, body in VALID_RECORDS.items()]
    records += [sqs_record(body, message_id) for message_id, (body, _) in HOSTILE_EVENTS.items()]
    return sqs_batch(records)


def test_mixed_batch_stores_valid_events_once_and_quarantines_each_bad_one(
    enrolled_hub: Hub,
) -> None:
    assert len({code for _, code in HOSTILE_EVENTS.values()}) >= 15

    response = run_ingest(enrolled_hub, mixed_batch())

    assert response == {"batchItemFailures": []}
    items = scan_table(enrolled_hub.client)
    # v1: 1 datapoint, alpha v2: 3, beta v2: 2; one history row each.
    alpha, beta = ("alpha", "dev"), ("beta", "prod")
    alpha_spoke = ("111111111111", "eu-west-1")
    beta_spoke = ("222222222222", "eu-west-1")
    assert history_keys(enrolled_hub) == sorted(
        [
            (*alpha, "TotalCompletedTrainingJobs", "{}", "2025-06-01T10:00:00.000Z", *alpha_spoke),
            (*alpha, "NumberEndPointsInService", "{}", "2025-06-01T11:00:00.250Z", *alpha_spoke),
            (
                *alpha,
                "CompletedTrainingJobsByInstanceType",
                '{"InstanceType":"ml.m5.xlarge"}',
                "2025-06-01T11:00:00.250Z",
                *alpha_spoke,
            ),
            (*alpha, "ManagedSpotSavingsPercent", "{}", "2025-06-01T11:00:00.250Z", *alpha_spoke),
            (*beta, "FailedTrainingJobs", "{}", "2025-06-01T11:30:00.000Z", *beta_spoke),
            (*beta, "BillableTrainingSeconds", "{}", "2025-06-01T11:30:00.000Z", *beta_spoke),
        ]
    )
    # One latest item per spoke, holding all its series.
    assert len(items_under(items, "LATEST#alpha#")) == 1
    assert len(items_under(items, "LATEST#beta#")) == 1
    assert len(enrolled_hub.store.latest_values("alpha")) == 4
    assert len(enrolled_hub.store.latest_values("beta")) == 2

    quarantined = {item["MessageId"]["S"]: item for item in items_under(items, "QUARANTINE#")}
    assert {message_id: item["ReasonCode"]["S"] for message_id, item in quarantined.items()} == {
        message_id: code for message_id, (_, code) in HOSTILE_EVENTS.items()
    }


def test_quarantine_keeps_the_raw_event_and_what_it_claimed(enrolled_hub: Hub) -> None:
    run_ingest(enrolled_hub, mixed_batch())

    records = {r.message_id: r for r in enrolled_hub.store.quarantine.recent(limit=100)}

    spoofed = records["beta-claims-alpha"]
    assert json.loads(spoofed.raw_event) == HOSTILE_EVENTS["beta-claims-alpha"][0]
    assert not spoofed.raw_event_truncated
    assert (spoofed.claimed_account_id, spoofed.claimed_project_name) == (
        BETA_PROD_ACCOUNT,
        "alpha",
    )
    assert "beta/prod" in spoofed.reason and "alpha/dev" in spoofed.reason
    assert spoofed.event_id == v1_event()["id"]
    # An unreadable body has no event id; the SQS message id stands in.
    assert records["truncated-json"].event_id == "truncated-json"

    huge = records["event-bigger-than-quarantine-limit"]
    assert huge.raw_event_truncated
    assert huge.raw_event_bytes > QUARANTINE_RAW_EVENT_MAX_BYTES
    assert len(huge.raw_event.encode("utf-8")) <= QUARANTINE_RAW_EVENT_MAX_BYTES
    assert enrolled_hub.store.quarantine.count() == len(HOSTILE_EVENTS)


def test_valid_values_are_stored_exactly(enrolled_hub: Hub) -> None:
    run_ingest(enrolled_hub, mixed_batch())

    (savings,) = rows_of(enrolled_hub, "ManagedSpotSavingsPercent")
    assert (savings["metric_value"], savings["unit"], savings["schema_version"]) == (
        61.25,
        "Percent",
        2,
    )
    assert savings["account_id"] == ALPHA_DEV_ACCOUNT
    assert savings["ingested_at"] == "2025-06-01T12:00:00.000Z"
    latest = {p.metric_name: p for p in enrolled_hub.store.latest_values("alpha")}
    assert latest["ManagedSpotSavingsPercent"].value == Decimal("61.25")
    # TTL of the spoke's latest item: the newest extraction plus the retention.
    assert latest["ManagedSpotSavingsPercent"].expires_at == int(
        (NOW.replace(hour=11) + timedelta(days=RETENTION_DAYS)).timestamp()
    )
    (total,) = rows_of(enrolled_hub, "TotalCompletedTrainingJobs")
    assert (total["metric_value"], total["unit"], total["schema_version"], total["region"]) == (
        42,
        "None",
        1,
        "eu-west-1",
    )


def test_accepted_events_update_spoke_freshness(enrolled_hub: Hub) -> None:
    run_ingest(enrolled_hub, mixed_batch())

    spokes = {spoke.account_id: spoke for spoke in enrolled_hub.store.spokes_with_freshness()}
    alpha = spokes[ALPHA_DEV_ACCOUNT]
    # The v2 event (11:00) is newer than the v1 event (10:00, another region): of the spoke's
    # latest items, the newest one's freshness is the spoke's; its errors are the last ones.
    assert alpha.last_extraction_date == "2025-06-01T11:00:00.250Z"
    assert [e.error_code for e in alpha.last_errors] == ["AccessDeniedException"]
    assert alpha.last_seen_at == "2025-06-01T12:00:00.000Z"
    assert STRANGER_ACCOUNT not in spokes  # a refused sender never gets a registry entry
    assert spokes[OFFBOARDED_ACCOUNT].last_seen_at is None


def test_replaying_the_batch_leaves_the_table_unchanged(enrolled_hub: Hub) -> None:
    batch = mixed_batch()
    run_ingest(enrolled_hub, batch)
    before = scan_table(enrolled_hub.client)
    rows_before = history_keys(enrolled_hub)

    response = run_ingest(enrolled_hub, batch)

    assert response == {"batchItemFailures": []}
    assert scan_table(enrolled_hub.client) == before
    # The replay's rows are the same datapoints again, recognisable by their key (queries keep
    # one row per key), and nothing was quarantined for them.
    assert history_keys(enrolled_hub) == sorted(rows_before * 2)


def test_the_same_events_in_new_messages_add_no_datapoint(enrolled_hub: Hub) -> None:
    """EventBridge may deliver an event twice (at-least-once): a new SQS message, same event."""
    run_ingest(enrolled_hub, mixed_batch())
    before = scan_table(enrolled_hub.client)

    later = NOW + timedelta(minutes=5)
    records = [sqs_record(body, f"again-{mid}", later) for mid, body in VALID_RECORDS.items()]
    run_ingest(enrolled_hub, sqs_batch(records))

    after = scan_table(enrolled_hub.client)
    assert [i for i in after if not i["PK"]["S"].startswith("QUARANTINE#")] == [
        i for i in before if not i["PK"]["S"].startswith("QUARANTINE#")
    ]
    assert len(set(history_keys(enrolled_hub))) == 6  # no new datapoint key


def test_an_older_event_does_not_overwrite_a_newer_latest_value(enrolled_hub: Hub) -> None:
    newer = v1_event(MetricValue=42, ExtractionDate="2025-06-01T10:00:00Z")
    older = with_envelope(
        v1_event(MetricValue=7, ExtractionDate="2025-06-01T09:00:00Z"),
        id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    )
    run_ingest(enrolled_hub, sqs_batch([sqs_record(newer, "newer")]))
    run_ingest(enrolled_hub, sqs_batch([sqs_record(older, "older")]))

    (latest,) = enrolled_hub.store.latest_values("alpha")
    assert (latest.value, latest.extraction_date) == (42, "2025-06-01T10:00:00.000Z")
    history = rows_of(enrolled_hub, "TotalCompletedTrainingJobs")
    # The late event still joins history.
    assert sorted(row["metric_value"] for row in history) == [7, 42]
    spokes = {spoke.account_id: spoke for spoke in enrolled_hub.store.spokes_with_freshness()}
    assert spokes[ALPHA_DEV_ACCOUNT].last_extraction_date == "2025-06-01T10:00:00.000Z"


def test_each_region_of_a_spoke_keeps_its_own_values(enrolled_hub: Hub) -> None:
    # A spoke stack per configured region extracts that region's values at the same moment.
    ireland = v2_event(Region="eu-west-1")
    frankfurt = with_envelope(
        v2_event(Region="eu-central-1"),
        id="7c1b9f8e-2d3a-4e5f-8a6b-0c1d2e3f4a5b",
        region="eu-central-1",
    )
    # +10 keeps every value within its metric's range (the Percent one stays <= 100).
    frankfurt["detail"]["Metrics"] = [
        {**metric, "MetricValue": metric["MetricValue"] + 10}
        for metric in frankfurt["detail"]["Metrics"]
    ]

    run_ingest(
        enrolled_hub,
        sqs_batch([sqs_record(ireland, "ireland"), sqs_record(frankfurt, "frankfurt")]),
    )

    latest = enrolled_hub.store.latest_values("alpha")
    by_region = {
        (value.metric_name, value.region): float(value.value)
        for value in latest
        if value.account_id == ALPHA_DEV_ACCOUNT
    }
    for metric in ireland["detail"]["Metrics"]:
        name = metric["MetricName"]
        assert by_region[(name, "eu-west-1")] == metric["MetricValue"]
        assert by_region[(name, "eu-central-1")] == metric["MetricValue"] + 10
    history = rows_of(enrolled_hub, "NumberEndPointsInService")
    assert sorted(row["region"] for row in history) == ["eu-central-1", "eu-west-1"]


def test_a_spoke_cannot_write_another_projects_numbers(enrolled_hub: Hub) -> None:
    spoofed_v2 = with_envelope(
        v2_event(AccountId=BETA_PROD_ACCOUNT), account=BETA_PROD_ACCOUNT
    )  # beta/prod's account, claiming alpha/dev, consistently
    stranger = with_envelope(v1_event(), account=STRANGER_ACCOUNT)

    response = run_ingest(
        enrolled_hub,
        sqs_batch([sqs_record(spoofed_v2, "spoofed"), sqs_record(stranger, "stranger")]),
    )

    assert response == {"batchItemFailures": []}
    items = scan_table(enrolled_hub.client)
    assert not items_under(items, "LATEST#") and not delivered_rows(enrolled_hub.session)
    codes = {r.message_id: r.reason_code for r in enrolled_hub.store.quarantine.recent()}
    assert codes == {"spoofed": "SenderEnrolledElsewhere", "stranger": "SenderNotEnrolled"}


def test_registry_reads_only_the_distinct_senders_of_the_batch(enrolled_hub: Hub) -> None:
    reads: list[list[str]] = []
    enrolled_hub.client.meta.events.register(
        "before-call.dynamodb.BatchGetItem",
        lambda params, **_: reads.append(
            [
                key["SK"]["S"]
                for key in json.loads(params["body"])["RequestItems"][TABLE_NAME]["Keys"]
            ]
        ),
    )
    queries: list[Any] = []
    enrolled_hub.client.meta.events.register(
        "before-call.dynamodb.Query", lambda params, **_: queries.append(params)
    )
    batch = mixed_batch()
    senders = {
        body["account"]
        for body in [*VALID_RECORDS.values(), *(b for b, _ in HOSTILE_EVENTS.values())]
        if isinstance(body, dict) and "account" in body
    }

    run_ingest(enrolled_hub, batch)

    # One BatchGetItem of the distinct envelope accounts, whatever the registry's size; never
    # the registry partition.
    assert len(reads) == 1
    assert sorted(reads[0]) == sorted(senders)
    assert not queries


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
    (here the batch's rows share one packed record; tests/hub_runtime/
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


def test_one_event_costs_one_dynamodb_write_and_one_history_record(
    enrolled_hub: Hub,
) -> None:
    writes: list[str] = []
    for operation in ("PutItem", "UpdateItem", "BatchWriteItem", "DeleteItem"):
        enrolled_hub.client.meta.events.register(
            f"before-call.dynamodb.{operation}", lambda model, **_: writes.append(model.name)
        )
    records: list[int] = []
    enrolled_hub.history._client.meta.events.register(
        "before-parameter-build.firehose.PutRecordBatch",
        lambda params, **_: records.append(len(params["Records"])),
    )

    run_ingest(enrolled_hub, sqs_batch([sqs_record(v2_event(), "one")]))

    # The latest item holds the spoke's freshness: no registry write.
    assert writes == ["UpdateItem"]
    assert records == [1]
    assert len(delivered_rows(enrolled_hub.session)) == len(v2_event()["detail"]["Metrics"])


def test_a_large_extraction_is_written_in_bounded_updates(enrolled_hub: Hub) -> None:
    metric_count = 100
    metrics = [
        {
            "MetricName": "CompletedTrainingJobsByInstanceType",
            "MetricValue": index,
            "Unit": "Count",
            "Dimensions": {"InstanceType": f"ml.type{index}"},
            "Metadata": {},
        }
        for index in range(metric_count)
    ]
    updates: list[int] = []
    enrolled_hub.client.meta.events.register(
        "before-parameter-build.dynamodb.UpdateItem",
        lambda params, **_: updates.append(len(params["ExpressionAttributeValues"])),
    )

    response = run_ingest(
        enrolled_hub, sqs_batch([sqs_record(v2_event(Metrics=metrics, Errors=[]), "big")])
    )

    assert response == {"batchItemFailures": []}
    # Expressions stay under DynamoDB's 4 KB: the series are split over a few updates.
    assert len(updates) == math.ceil(metric_count / latest_values.SERIES_PER_UPDATE)
    assert len(enrolled_hub.store.latest_values("alpha")) == metric_count
    assert len(delivered_rows(enrolled_hub.session)) == metric_count


def test_handler_reads_its_table_and_retention_from_the_environment(
    enrolled_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    monkeypatch.setenv("RETENTION_DAYS", "400")
    recent = v1_event(ExtractionDate=ingest.datetime.now(ingest.UTC).isoformat())

    response = ingest.handler(sqs_batch([sqs_record(recent, "recent")]), None)

    assert response == {"batchItemFailures": []}
    (row,) = delivered_rows(enrolled_hub.session)
    assert row["metric_name"] == "TotalCompletedTrainingJobs"
    (point,) = enrolled_hub.store.latest_values("alpha")
    extraction = ingest.datetime.fromisoformat(recent["detail"]["ExtractionDate"])
    assert point.expires_at == int((extraction + timedelta(days=400)).timestamp())


@pytest.mark.parametrize("value", ["", "ninety", "0"])
def test_a_bad_retention_setting_is_refused(value: str) -> None:
    with pytest.raises(ingest.IngestConfigurationError, match="RETENTION_DAYS"):
        read_settings(
            IngestSettings,
            {"TABLE_NAME": "dsdash-hub-metrics", "RETENTION_DAYS": value},
            error=ingest.IngestConfigurationError,
        )
