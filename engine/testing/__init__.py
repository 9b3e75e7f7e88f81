"""For integration authors and CI: replay recorded exchanges and run fixture cases."""

from .fixtures import CaseOutcome, FixtureCase, discover_cases, run_case, run_cases
from .replay import ReplayMismatch, ReplayTransport

__all__ = ["CaseOutcome", "FixtureCase", "ReplayMismatch", "ReplayTransport", "discover_cases", "run_case", "run_cases"]
