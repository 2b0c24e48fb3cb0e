"""The name of each project's spoke StackSet, shared by the org stack (CDK), the reconciler and
the enrollment function, so the three can never disagree.
"""

from __future__ import annotations

import re
from typing import Final

STACKSET_NAME_PREFIX: Final = "dsdash-spoke-"
# CreateStackSet's constraint on StackSetName
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html).
_STACKSET_NAME_PATTERN: Final = re.compile(r"[a-zA-Z][-a-zA-Z0-9]*")
_STACKSET_NAME_MAX_LENGTH: Final = 128


def stackset_name(project: str) -> str:
    """`dsdash-spoke-<project>`; raises ValueError if the project name cannot form a valid name."""
    name = f"{STACKSET_NAME_PREFIX}{project}"
    if not _STACKSET_NAME_PATTERN.fullmatch(name) or len(name) > _STACKSET_NAME_MAX_LENGTH:
        raise ValueError(
            f"project {project!r} gives the StackSet name {name!r}, which CloudFormation rejects: "
            f"use letters, digits and hyphens, at most "
            f"{_STACKSET_NAME_MAX_LENGTH - len(STACKSET_NAME_PREFIX)} characters"
        )
    return name


def project_of_stackset(name: str) -> str | None:
    """The project a StackSet name belongs to, or None if it is not one of ours."""
    if name.startswith(STACKSET_NAME_PREFIX) and len(name) > len(STACKSET_NAME_PREFIX):
        return name[len(STACKSET_NAME_PREFIX) :]
    return None


# The spoke template's parameter the reconciler overrides per stack instance: the account's
# environment, which its extractor reports and the enrollment function records.
ENVIRONMENT_PARAMETER: Final = "Environment"
