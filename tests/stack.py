"""The local stack as a subprocess for the test tiers (see chatlocal.process)."""

from chatlocal.process import ROOT, LocalStack, clean_env

__all__ = ["ROOT", "LocalStack", "clean_env"]
