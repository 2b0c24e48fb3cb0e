"""Sessions in the hub and in spokes, through dsdash's narrow enrollment roles only.

The enrollment function runs in the management account and reaches other accounts through two
roles our stacks deploy, and through nothing else:

- `dsdash-hub-enrollment` in the hub (writes `/monitored_projects/*`, invokes the hub's connection
  function, updates the spoke registry);
- `dsdash-spoke-enrollment-<region>` in each spoke and region (writes and deletes `/monitors/*`,
  invokes the spoke's connection function).

Never OrganizationAccountAccessRole, AWSControlTowerExecution or any other admin role: a bug or a
forged event must not turn the enrollment function into an administrator of every account.
`assume_enrollment_role` refuses any other role name, so the guarantee holds in code, not only
in the IAM policy the org stack attaches.
"""

from __future__ import annotations

import re
from typing import Final

import boto3

from contracts import HUB_ENROLLMENT_ROLE_NAME, spoke_enrollment_role_name
from enrollment.enrollment_function.runtime.enrollment_errors import ForbiddenRoleError
from runtime_common.aws import client
from runtime_common.identifiers import is_account_id, is_region_name

ROLE_SESSION_NAME_PREFIX: Final = "dsdash-enrollment-"
# The spoke role name is this prefix and a region name; see contracts.spoke_enrollment_role_name.
_SPOKE_ROLE_PREFIX: Final = spoke_enrollment_role_name("")
# The account and the name are checked apart: the account by the one account-id check.
_ROLE_ARN: Final = re.compile(
    r"^arn:(?P<partition>[a-z-]+):iam::(?P<account>[^:]*):role/(?P<name>[\w+=,.@-]+)$"
)


def role_arn(partition: str, account_id: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


def hub_enrollment_role_arn(partition: str, hub_account_id: str) -> str:
    return role_arn(partition, hub_account_id, HUB_ENROLLMENT_ROLE_NAME)


def spoke_enrollment_role_arn(partition: str, spoke_account_id: str, region: str) -> str:
    return role_arn(partition, spoke_account_id, spoke_enrollment_role_name(region))


def is_enrollment_role_name(role_name: str) -> bool:
    return role_name == HUB_ENROLLMENT_ROLE_NAME or (
        role_name.startswith(_SPOKE_ROLE_PREFIX)
        and is_region_name(role_name[len(_SPOKE_ROLE_PREFIX) :])
    )


def assume_enrollment_role(
    management_session: boto3.Session, arn: str, *, region: str, session_suffix: str
) -> boto3.Session:
    """A session in `region` acting as the enrollment role `arn`.

    The STS call's errors (AccessDenied while a new account's role is not yet usable) propagate
    as botocore ClientErrors so the caller's retry policy sees the AWS error code.
    """
    match = _ROLE_ARN.match(arn)
    if (
        match is None
        or not is_account_id(match["account"])
        or not is_enrollment_role_name(match["name"])
    ):
        raise ForbiddenRoleError(
            f"refusing to assume {arn!r}: enrollment only assumes {HUB_ENROLLMENT_ROLE_NAME} and "
            f"{spoke_enrollment_role_name('<region>')}"
        )
    sts = client(management_session, "sts")
    credentials = sts.assume_role(
        RoleArn=arn,
        # At most 64 characters; the suffix (an account id) tells CloudTrail readers why.
        RoleSessionName=(ROLE_SESSION_NAME_PREFIX + session_suffix)[:64],
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )
