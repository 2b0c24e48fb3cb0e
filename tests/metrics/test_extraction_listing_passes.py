"""Performance by design: the full SageMaker metric set makes one paginated pass per listing.

On a spoke with over a thousand training jobs, counting every API call through a botocore
`before-parameter-build` hook: each distinct listing is paged through exactly once, and no
Describe* call is made (Search returns full objects).
"""

from __future__ import annotations

import math

from metrics.collect import Extraction
from metrics.registry import all_metric_classes, build_metric

PAGE_SIZE = 100  # the largest page Search and the List calls allow


def test_full_sagemaker_metric_set_makes_one_pass_per_listing(
    large_spoke, api_calls, extraction_time
):
    sagemaker_metrics = [
        build_metric(name, {"objective_metric": "validation:auc"})
        if name == "BestTrainingObjective"
        else build_metric(name)
        for name, metric in all_metric_classes().items()
        if any(
            action.startswith("sagemaker:")
            for statement in metric.permissions
            for action in statement.actions
        )
    ]
    extraction = Extraction(api_calls.session, now=extraction_time)

    for metric in sagemaker_metrics:
        metric.compute(extraction)

    failed_executions = sum(e.status == "Failed" for e in large_spoke.pipeline_executions)
    assert len(sagemaker_metrics) == 13
    assert len(large_spoke.training_jobs) >= 1000
    assert dict(api_calls.calls) == {
        "Search:TrainingJob": math.ceil(len(large_spoke.training_jobs) / PAGE_SIZE),
        "Search:Endpoint": math.ceil(len(large_spoke.endpoints) / PAGE_SIZE),
        "Search:PipelineExecution": math.ceil(failed_executions / PAGE_SIZE),
        "ListNotebookInstances": math.ceil(
            large_spoke.notebook_statuses.count("InService") / PAGE_SIZE
        ),
        "ListModelPackages": math.ceil(
            large_spoke.model_package_statuses.count("PendingManualApproval") / PAGE_SIZE
        ),
    }
    assert not [call for call in api_calls.calls if call.startswith("Describe")]
    assert set(extraction.fetch_counts.values()) == {1}
    print(f"API calls for {len(large_spoke.training_jobs)} training jobs: {dict(api_calls.calls)}")
