"""The ingest Lambda's handler: it reads its table and retention from the environment (on
moto) and refuses a bad retention setting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hub_runtime_support import TABLE_NAME, Hub, delivered_rows, sqs_batch, sqs_record, v1_event

from hub_stack.ingest.runtime import ingest
from hub_stack.ingest.runtime.ingest_settings import IngestSettings
from runtime_common.settings import read_settings


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
