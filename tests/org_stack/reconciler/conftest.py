"""Fixtures for the reconciler tests; the helpers live in `reconciler_support` so test modules can
import them without depending on which conftest pytest loaded first."""

from reconciler_support import org

__all__ = ["org"]
