"""Lambda code assets built without Docker: a handler's import closure plus the venv's own wheels.

Each function type's directory holds exactly what its handler imports, and nothing more:
- the first-party modules in the import closure of the handler module, read from the source
  (`cdk_support.import_graph`: every import, function-level ones included, each enclosing
  package's `__init__.py`, the modules a plugin registry discovers), plus the data files a shipped
  package reads at run time (`PACKAGE_DATA`). CDK modules import aws_cdk, which Lambda lacks;
  `tests/test_layers.py` keeps Lambda code from importing them, so no closure reaches them;
- the third-party distributions that closure imports, with their requirements (and the optional
  ones in `OPTIONAL_REQUIREMENTS`), minus what the Lambda runtime provides, copied file by file
  from the pinned, installed venv using each distribution's installed file list
  (`importlib.metadata`), so the asset holds the exact versions the tests ran against.

boto3 and its dependencies are provided by the Lambda runtime and are never bundled
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html).

Copying installed wheels is only correct when the venv's platform is Lambda's: compiled
extensions (rpds-py, a jsonschema dependency) are built for one interpreter, CPU and glibc. The
builder therefore checks every copied distribution's wheel tags against the Lambda Python 3.11
runtime (CPython 3.11, x86_64, Amazon Linux 2 with glibc 2.26) and refuses otherwise. Functions
using these assets must set `Architecture.X86_64` explicitly (see `LAMBDA_ARCHITECTURE`).

Assets are content-addressed: the directory name carries the SHA-256 of the files' relative paths
and bytes, and it is written once by an atomic rename. Two synths running at once (pytest-xdist,
or the hub and the spoke stack sharing the connection asset) never see a half-written directory,
and the CDK asset hash is stable across machines and runs. Old directories accumulate under
`build/lambda-assets/` until `make clean`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Final

from aws_cdk import aws_lambda as lambda_

from cdk_support import import_graph
from cdk_support.import_graph import first_party_modules, import_closure, third_party_imports_of

REPOSITORY_ROOT: Final = import_graph.REPOSITORY_ROOT

DEFAULT_BUILD_ROOT: Final = REPOSITORY_ROOT / "build" / "lambda-assets"

LAMBDA_RUNTIME: Final = lambda_.Runtime.PYTHON_3_11
# The bundled compiled wheels come from this x86_64 venv; an arm64 function would fail to import
# them. The runtime default is x86_64 too, but an explicit value makes the dependency visible.
LAMBDA_ARCHITECTURE: Final = lambda_.Architecture.X86_64
LAMBDA_PYTHON_VERSION: Final = (3, 11)
# Lambda's python3.11 runtime runs on Amazon Linux 2 (glibc 2.26):
# https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
LAMBDA_GLIBC: Final = (2, 26)

# Distributions the Lambda Python runtime already ships (boto3 and its dependency closure).
RUNTIME_PROVIDED_DISTRIBUTIONS: Final = frozenset(
    {"boto3", "botocore", "jmespath", "s3transfer", "urllib3", "python-dateutil", "six"}
)

_EXCLUDED_DIRECTORY_NAMES: Final = frozenset({"__pycache__"})
_EXCLUDED_SUFFIXES: Final = (".pyc", ".pyo")
_MANYLINUX_TAG = re.compile(r"^manylinux_(\d+)_(\d+)_x86_64$")
_LEGACY_MANYLINUX_GLIBC: Final = {
    "manylinux1_x86_64": (2, 5),
    "manylinux2010_x86_64": (2, 12),
    "manylinux2014_x86_64": (2, 17),
}


class LambdaAssetError(RuntimeError):
    """An asset cannot be built: a missing source, an absent distribution, a foreign platform."""


@dataclass(frozen=True)
class LambdaAssetSpec:
    """One function type's code: its name and handler module; the contents are derived."""

    name: str
    handler_module: str

    def first_party_modules(self) -> frozenset[str]:
        return import_closure([self.handler_module])

    def first_party_files(self) -> tuple[str, ...]:
        """Paths (relative to the repository root) of the first-party files the asset holds."""
        modules = first_party_modules()
        closure = self.first_party_modules()
        files = {modules[name].relative_to(REPOSITORY_ROOT).as_posix() for name in closure}
        for package in sorted(closure & PACKAGE_DATA.keys()):
            package_directory = modules[package].parent
            for pattern in PACKAGE_DATA[package]:
                files.update(
                    path.relative_to(REPOSITORY_ROOT).as_posix()
                    for path in package_directory.glob(pattern)
                )
        return tuple(sorted(files))

    def distributions(self) -> tuple[str, ...]:
        """The installed distributions the closure needs that Lambda's runtime lacks."""
        imported: set[str] = set()
        for module in self.first_party_modules():
            imported.update(third_party_imports_of(module))
        return needed_distributions(imported)


@dataclass(frozen=True)
class BuiltLambdaAsset:
    spec: LambdaAssetSpec
    path: Path
    content_hash: str


# Data files modules read at run time (importlib.resources), which no import statement shows.
PACKAGE_DATA: Final[dict[str, tuple[str, ...]]] = {
    "contracts": ("*.schema.json",),
    # The page's scripts and styles (and the vendored uPlot's licence), for the hub's publisher.
    "dashboard": ("assets/*",),
}

# Distributions a shipped distribution imports only when they are installed, with no requirement
# naming them. jsonschema's FormatChecker checks "date-time" (our events' ExtractionDate) only when
# rfc3339-validator is importable, and silently accepts any string otherwise: without it the
# Lambda would accept dates the test suite (whose venv has it) rejects.
OPTIONAL_REQUIREMENTS: Final[dict[str, tuple[str, ...]]] = {"jsonschema": ("rfc3339-validator",)}

# The connection function runs in the hub and in every spoke.
CONNECTION_FUNCTION_ASSET: Final = LambdaAssetSpec(
    name="connection", handler_module="enrollment.connection.runtime.connection"
)
# The spoke's extraction function. The org stack uploads it, with the connection asset, to the
# artifact buckets the spoke template reads its code from.
SPOKE_EXTRACTOR_ASSET: Final = LambdaAssetSpec(
    name="spoke-extractor", handler_module="spoke_stackset.extractor.runtime.extractor"
)
# The org stack's functions (management account or StackSets delegated administrator).
ORG_RECONCILER_ASSET: Final = LambdaAssetSpec(
    name="org-reconciler", handler_module="org_stack.reconciler.runtime.handler"
)
ORG_ENROLLMENT_ASSET: Final = LambdaAssetSpec(
    name="org-enrollment", handler_module="enrollment.enrollment_function.runtime.handler"
)

_built_assets: dict[tuple[LambdaAssetSpec, Path], BuiltLambdaAsset] = {}


def lambda_code(spec: LambdaAssetSpec, *, build_root: Path | None = None) -> lambda_.Code:
    """The `Code` for a function of this type, with a content hash as the CDK asset hash."""
    built = build_lambda_asset(spec, build_root=build_root)
    # An explicit asset_hash makes the CDK use it as is (AssetHashType.CUSTOM).
    return lambda_.Code.from_asset(str(built.path), asset_hash=built.content_hash)


def build_lambda_asset(
    spec: LambdaAssetSpec, *, build_root: Path | None = None
) -> BuiltLambdaAsset:
    """Build (once per process) and return the content-addressed directory for `spec`.

    The org stack reuses this to upload the spoke code to its artifact buckets: zip `path`.
    """
    root = (build_root or DEFAULT_BUILD_ROOT).resolve()
    cache_key = (spec, root)
    if cache_key not in _built_assets:
        _built_assets[cache_key] = _build(spec, root)
    return _built_assets[cache_key]


def needed_distributions(imported_names: Iterable[str]) -> tuple[str, ...]:
    """The distributions providing `imported_names` (top-level module names), with their
    requirements and optional requirements, minus those the Lambda runtime provides.

    Requirements are read from the installed metadata, markers evaluated for the running
    interpreter (the same as Lambda's, which the builder enforces); extras are not followed.
    """
    providers = _packages_distributions()
    provided = {canonical_name(name) for name in RUNTIME_PROVIDED_DISTRIBUTIONS}
    pending: list[str] = []
    for module_name in sorted(imported_names):
        if module_name not in providers:
            raise LambdaAssetError(
                f"module {module_name!r} is imported by Lambda code but no installed "
                "distribution provides it; install requirements.lock"
            )
        pending.extend(providers[module_name])
    needed: set[str] = set()
    while pending:
        name = canonical_name(pending.pop())
        if name in needed or name in provided:
            continue
        needed.add(name)
        pending.extend(OPTIONAL_REQUIREMENTS.get(name, ()))
        pending.extend(_unconditional_requirements(name))
    return tuple(sorted(needed))


# Reading the installed metadata walks every distribution in the venv (about half a second a
# call); one app synth asks once per function, so the answers are kept for the process.
@cache
def _packages_distributions() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


@cache
def _unconditional_requirements(distribution_name: str) -> tuple[str, ...]:
    """Names of the requirements of a distribution, markers evaluated with no extra."""
    from packaging.requirements import Requirement

    names = []
    for requirement_text in metadata.distribution(distribution_name).requires or ():
        requirement = Requirement(requirement_text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            names.append(requirement.name)
    return tuple(names)


def canonical_name(distribution_name: str) -> str:
    """PEP 503 normalization: `typing_extensions` and `Typing-Extensions` are one name."""
    return re.sub(r"[-_.]+", "-", distribution_name).lower()


def _build(spec: LambdaAssetSpec, build_root: Path) -> BuiltLambdaAsset:
    build_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=build_root))
    # mkdtemp makes the directory private (0700); Lambda's runtime user must be able to read it.
    staging.chmod(0o755)
    try:
        for relative in spec.first_party_files():
            _copy_file(REPOSITORY_ROOT / relative, staging / relative)
        for distribution_name in spec.distributions():
            _copy_distribution(distribution_name, staging)
        content_hash = directory_content_hash(staging)
        final = build_root / f"{spec.name}-{content_hash[:16]}"
        if not final.exists():
            try:
                staging.rename(final)
            except OSError:
                # Another process renamed the same content first; its directory is identical.
                if not final.exists():
                    raise
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return BuiltLambdaAsset(spec=spec, path=final, content_hash=content_hash)


def directory_content_hash(directory: Path) -> str:
    """SHA-256 over every file's relative POSIX path and bytes, in sorted order."""
    digest = hashlib.sha256()
    for file_path in sorted(
        _files_under(directory), key=lambda p: p.relative_to(directory).as_posix()
    ):
        relative = file_path.relative_to(directory).as_posix().encode()
        digest.update(len(relative).to_bytes(4, "big") + relative)
        content = file_path.read_bytes()
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def _files_under(directory: Path) -> Iterator[Path]:
    for current, directory_names, file_names in os.walk(directory):
        directory_names[:] = sorted(
            d for d in directory_names if d not in _EXCLUDED_DIRECTORY_NAMES
        )
        for file_name in sorted(file_names):
            if not file_name.endswith(_EXCLUDED_SUFFIXES):
                yield Path(current) / file_name


def _copy_distribution(name: str, destination_root: Path) -> None:
    try:
        distribution = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise LambdaAssetError(
            f"distribution {name!r} is not installed in {sys.prefix}; install requirements.lock"
        ) from None
    _check_wheel_fits_lambda(name, distribution)
    files = distribution.files
    if not files:
        raise LambdaAssetError(f"distribution {name!r} has no installed file list (RECORD)")
    site_directory = Path(str(distribution.locate_file(""))).resolve()
    for package_path in files:
        parts = PurePosixPath(str(package_path)).parts
        # Console scripts live outside site-packages (`../../../bin/...`); Lambda never runs them.
        if parts[0] == ".." or _EXCLUDED_DIRECTORY_NAMES.intersection(parts):
            continue
        if str(package_path).endswith(_EXCLUDED_SUFFIXES):
            continue
        source = Path(str(distribution.locate_file(package_path))).resolve()
        if not source.is_relative_to(site_directory):
            continue
        _copy_file(source, destination_root / PurePosixPath(*parts))


def _check_wheel_fits_lambda(name: str, distribution: metadata.Distribution) -> None:
    wheel_metadata = distribution.read_text("WHEEL")
    if wheel_metadata is None:
        raise LambdaAssetError(f"distribution {name!r} was not installed from a wheel (no WHEEL)")
    tags = [
        line.split(":", 1)[1].strip()
        for line in wheel_metadata.splitlines()
        if line.startswith("Tag:")
    ]
    if not any(wheel_tag_fits_lambda(tag) for tag in tags):
        raise LambdaAssetError(
            f"distribution {name!r} was installed for {', '.join(tags) or 'no tag'}, which the "
            "Lambda python3.11 x86_64 runtime cannot load; build the asset on x86_64 Linux "
            "with CPython 3.11"
        )
    if any(not tag.endswith("-any") for tag in tags):
        # A compiled wheel is loadable only by the interpreter that installed it.
        host = (sys.implementation.name, sys.version_info[:2], sysconfig.get_platform())
        if host != ("cpython", LAMBDA_PYTHON_VERSION, "linux-x86_64"):
            raise LambdaAssetError(
                f"distribution {name!r} is compiled, and this interpreter ({host}) is not "
                "CPython 3.11 on linux-x86_64, so its installed files cannot run on Lambda"
            )


def wheel_tag_fits_lambda(tag: str) -> bool:
    """Whether a wheel tag (from a dist-info WHEEL file) loads on Lambda python3.11 x86_64."""
    for single in _expand_compressed_tag(tag):
        interpreter, abi, platform = single
        if interpreter not in {"py3", "py311", "cp311"} and not (
            interpreter.startswith("cp3") and abi == "abi3"
        ):
            continue
        if abi not in {"none", "abi3", "cp311"}:
            continue
        if platform == "any" or _manylinux_fits(platform):
            return True
    return False


def _expand_compressed_tag(tag: str) -> Iterator[tuple[str, str, str]]:
    """`py2.py3-none-any` stands for two tags (PEP 425 compressed tag sets)."""
    try:
        interpreters, abis, platforms = tag.split("-")
    except ValueError:
        return
    for interpreter in interpreters.split("."):
        for abi in abis.split("."):
            for platform in platforms.split("."):
                yield interpreter, abi, platform


def _manylinux_fits(platform: str) -> bool:
    match = _MANYLINUX_TAG.match(platform)
    if match:
        glibc = (int(match.group(1)), int(match.group(2)))
    elif platform in _LEGACY_MANYLINUX_GLIBC:
        glibc = _LEGACY_MANYLINUX_GLIBC[platform]
    else:
        return False
    return glibc <= LAMBDA_GLIBC


def _copy_file(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Contents only: permission bits and timestamps must not leak into the asset hash.
    shutil.copyfile(source, destination)
