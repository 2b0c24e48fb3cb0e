"""One botocore model loader per data path for every session of the process.

Each new botocore session parses endpoints.json and every service model it uses again. Lambda
pays that once per execution environment; a process that runs dozens of functions' invocations
(the sandbox, the test suite, the benchmarks) paid it for every handler session, the handlers'
default sessions included (`boto3.Session()`, one per assumed role): most of an in-process
demo's and of the moto tests' CPU. The loader only reads botocore's packaged data files, and one
session already hands the same parsed models to each of its clients, so sharing it across
sessions changes nothing that is loaded. Keyed by the data path, so a session with
AWS_DATA_PATH set still gets a loader of its own.

Every `boto3.Session` appends boto3's own data folder to its loader's search paths. On a shared
loader that list would grow by one entry per session, and every model lookup walks it: the
shared loader keeps each path once.

`SHARED_MODEL_LOADER.applied()` shares it for a block (the sandbox world);
`SHARED_MODEL_LOADER.install()` for the rest of the process (the test suite, the benchmarks).
"""

from __future__ import annotations

import functools
from typing import Any, Final, cast

import botocore.loaders
import botocore.session

from sandbox.moto_patching import MotoPatches


class _DistinctPaths(list[str]):
    """A search-path list that ignores a path it already holds."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@functools.cache
def _shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    loader = botocore.loaders.create_loader(search_path_string)
    # The list botocore made, behind a read-only property (`search_paths`); Any: the attribute
    # is private and untyped.
    cast(Any, loader)._search_paths = _DistinctPaths(loader.search_paths)
    return loader


# botocore's session resolves its `data_loader` component through `botocore.session.create_loader`.
SHARED_MODEL_LOADER: Final = MotoPatches([(botocore.session, "create_loader", _shared_loader)])
