"""Partial PutEvents failures across a split extraction: an extraction too large for one event
goes out in parts; parts that EventBridge refuses for a while (throttled, internal failure) are
resent alone, and in the end every part arrives exactly once, with its Part/PartCount intact."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from botocore.awsrequest import AWSResponse
from spoke_runtime_support import CapturedSpoke
from test_extractor_on_moto import NOW, series, settings, v2_details

from spoke_stackset.extractor.runtime.extractor import run_extraction


def _part_of(entry: dict[str, Any]) -> int:
    return int(json.loads(entry["Detail"])["Part"])


def test_every_part_arrives_once_when_some_parts_fail_for_a_while(spoke: CapturedSpoke) -> None:
    attempts: Counter[int] = Counter()
    sent_parts: list[int] = []

    def refuse_parts_two_and_three_for_a_while(params: dict[str, Any], **_: Any) -> Any:
        # A large part fills a PutEvents call alone, so EventBridge's partial failure shows
        # here as a call whose every entry failed (FailedEntryCount = entries), answered
        # without reaching moto; the other calls go through and are delivered.
        entries = json.loads(params["body"])["Entries"]
        parts = [_part_of(entry) for entry in entries]
        sent_parts.extend(parts)
        codes = []
        for part in parts:
            attempts[part] += 1
            if part == 2 and attempts[part] == 1:
                codes.append("ThrottlingException")
            elif part == 3 and attempts[part] <= 2:
                codes.append("InternalFailure")
        if not codes:
            return None
        assert len(codes) == len(parts), "a refused part shares its call with another"
        parsed = {
            "FailedEntryCount": len(codes),
            "Entries": [{"ErrorCode": code, "ErrorMessage": "injected"} for code in codes],
        }
        return AWSResponse("https://events", 200, {}, None), parsed

    spoke.session.events.register(
        "before-call.events.PutEvents", refuse_parts_two_and_three_for_a_while
    )
    sleeps: list[float] = []

    report = run_extraction(
        settings(
            [
                {"name": "TestLargeMetadataMetric", "args": {"count": 300, "metadata_bytes": 2000}},
                {"name": "TestAccessDeniedMetric"},
            ]
        ),
        session=spoke.session,
        now=NOW,
        sleep=sleeps.append,
    )

    details = v2_details(spoke)
    part_count = len(details)
    assert part_count >= 3
    # Each part exactly once, none lost and none duplicated by the resends.
    assert sorted(detail["Part"] for detail in details) == list(range(1, part_count + 1))
    assert {detail["PartCount"] for detail in details} == {part_count}
    assert {detail["ExtractionId"] for detail in details} == {report.extraction_id}
    assert series(details) == Counter(
        ("TestLargeMetadataMetric", index * 10, json.dumps({"Index": str(index)}))
        for index in range(300)
    )
    # Only the failed parts were sent again: part 2 once more, part 3 twice more.
    assert Counter(sent_parts) == Counter(
        {**dict.fromkeys(range(1, part_count + 1), 1), 2: 2, 3: 3}
    )
    assert report.events == part_count
    assert len(sleeps) == 2  # two retry rounds, with backoff between them
