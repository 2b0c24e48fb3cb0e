"""One botocore model loader per data path for every session of the process.

Each new botocore session parses endpoints.json and every service model it uses again. Lambda
pays that once per execution environment; a process that runs dozens of functions' invocations
(the sandbox, the test suite, the benchmarks) paid it for every handler session, the handlers'
default sessions included (`boto3.Session()`, one per assumed role): most of an in-process
demo's and of the moto tests' CPU. The loader only reads botocore's packaged data files, and one
session already hands the same parsed models to each of its clients, so sharing it across
sessions changes nothing that is loaded. Keyed by the data path, so a session with
AWS_DATA_PATH set still gets a loader of its own.

`SHARED_MODEL_LOADER.applied()` shares it for a block (the sandbox world);
`SHARED_MODEL_LOADER.install()` for the rest of the process (the test suite, the benchmarks).
"""

from __future__ import annotations

import functools
from typing import Final

import botocore.session

from sandbox.moto_patching import MotoPatches

# botocore's session resolves its `data_loader` component through this module-level function.
SHARED_MODEL_LOADER: Final = MotoPatches(
    [(botocore.session, "create_loader", functools.cache(botocore.session.create_loader))]
)
