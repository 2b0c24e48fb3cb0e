"""History objects of the hub's bucket, copied to a local cache for DuckDB (docs/architecture.md §7).

DuckDB could read S3 itself only through its httpfs extension, which it downloads on first use;
these machines have no internet, and the sandbox's S3 is moto behind boto3. So boto3 lists and
downloads, and DuckDB reads local files only:

- one paginated ListObjectsV2 over the partitions in range: `StartAfter` the first partition's
  folder name (keys sort by `dt`), stopping at the first key past the last partition, so the
  listing costs pages of the range, not of the whole history;
- objects are immutable once delivered (the delivery stream writes each object once), so a cached
  file of the listed size is reused and only new objects are downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

from contracts.history_table import HISTORY_PREFIX, PARTITION, PARTITION_STRFTIME

PARTITION_FOLDER_PREFIX: Final = f"{HISTORY_PREFIX}{PARTITION.name}="


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/dsdash/history`, else `~/.cache/dsdash/history` (read when called)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dsdash" / "history"


@dataclass(frozen=True)
class HistoryObject:
    key: str
    size: int
    partition: str


def _partition_of(key: str) -> str | None:
    if not key.startswith(PARTITION_FOLDER_PREFIX):
        return None
    folder, separator, name = key[len(PARTITION_FOLDER_PREFIX) :].partition("/")
    return folder if separator and name else None


def list_history_objects(
    s3_client: Any, bucket: str, first_day: date, last_day: date, *, page_size: int | None = None
) -> Iterator[HistoryObject]:
    """Objects under `history/dt=<day>/` for every day from `first_day` to `last_day`.

    `page_size` only for tests (S3's default is 1,000 keys a page)."""
    first = first_day.strftime(PARTITION_STRFTIME)
    last = last_day.strftime(PARTITION_STRFTIME)
    pages = s3_client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket,
        Prefix=PARTITION_FOLDER_PREFIX,
        # Every key of partition `first` sorts after its folder name without the slash.
        StartAfter=f"{PARTITION_FOLDER_PREFIX}{first}",
        **({"PaginationConfig": {"PageSize": page_size}} if page_size else {}),
    )
    for page in pages:
        for entry in page.get("Contents", []):
            partition = _partition_of(entry["Key"])
            if partition is None or partition < first:
                continue  # not a history object (a stray key under the prefix)
            if partition > last:
                return  # keys are listed in order: everything after is out of range
            yield HistoryObject(entry["Key"], int(entry["Size"]), partition)


@dataclass
class MirrorStatistics:
    listed: int = 0
    downloaded: int = 0
    reused: int = 0
    bytes_downloaded: int = 0


def mirror_history(
    s3_client: Any,
    bucket: str,
    first_day: date,
    last_day: date,
    cache_dir: Path,
    *,
    statistics: MirrorStatistics | None = None,
) -> list[Path]:
    """Local copies of the history objects in range, laid out as `<cache>/<bucket>/<key>`."""
    statistics = statistics if statistics is not None else MirrorStatistics()
    paths = []
    for history_object in list_history_objects(s3_client, bucket, first_day, last_day):
        statistics.listed += 1
        path = cache_dir / bucket / history_object.key
        if path.is_file() and path.stat().st_size == history_object.size:
            statistics.reused += 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            body = s3_client.get_object(Bucket=bucket, Key=history_object.key)["Body"]
            partial = path.with_name(path.name + ".part")
            with partial.open("wb") as target:
                for chunk in body.iter_chunks(1024 * 1024):
                    target.write(chunk)
            partial.replace(path)  # never a half-written file under the object's name
            statistics.downloaded += 1
            statistics.bytes_downloaded += history_object.size
        paths.append(path)
    return paths
