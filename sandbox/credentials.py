"""Credentials that make moto act as a given account.

moto maps an access key to an account when the key comes from STS AssumeRole, so assuming any
role ARN in account X yields a session that moto serves as X. This is how the sandbox, and the
multi-account tests, play the management account, the hub and each spoke in one process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import boto3

SANDBOX_SESSION_NAME = "dsdash-sandbox"


@dataclass(frozen=True)
class AccountCredentials:
    account_id: str
    access_key_id: str
    secret_access_key: str
    session_token: str

    def session(self, region: str) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
            region_name=region,
        )

    def as_environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


def assume_role_credentials(role_arn: str, region: str = "us-east-1") -> AccountCredentials:
    """Credentials for the role's account, issued by moto's STS (no trust policy is checked)."""
    account_id = role_arn.split(":")[4]
    response = boto3.client("sts", region_name=region).assume_role(
        RoleArn=role_arn, RoleSessionName=SANDBOX_SESSION_NAME
    )
    credentials = response["Credentials"]
    return AccountCredentials(
        account_id=account_id,
        access_key_id=credentials["AccessKeyId"],
        secret_access_key=credentials["SecretAccessKey"],
        session_token=credentials["SessionToken"],
    )


def account_credentials(account_id: str, region: str = "us-east-1") -> AccountCredentials:
    """Credentials acting as `account_id` (through a nominal sandbox role)."""
    return assume_role_credentials(f"arn:aws:iam::{account_id}:role/{SANDBOX_SESSION_NAME}", region)


@contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set process environment variables for the duration of the block, then restore them.

    Lambda handlers read their configuration and credentials from the environment, as in AWS.
    Nested use (a handler that invokes another function synchronously) restores in LIFO order.
    """
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
