"""The vendor sandbox: local simulators of the five vendors' APIs on 127.0.0.1, with fault injection.

No vendor can be reached from a test machine and users trying unimeter have no credentials at hand, so this package
serves each vendor's documented paths, auth, date parameters, pagination and range limits with deterministic
synthetic data from a seed. It lives outside ``engine/`` on purpose: the engine never names a vendor; the sandbox is
nothing but vendor knowledge.

``start_sandbox()`` starts simulators in background threads and returns what an integrated account needs to use each
one (``base_url``, ``credentials``, ``context``); ``unimeter sandbox`` runs them until interrupted.
``sandbox.replay.start_replay_sandbox()`` (``unimeter sandbox --from-fixtures``) serves any integration's recorded
fixture cases the same way, for integrations that have no simulator here.
"""

from .config import SandboxConfig
from .faults import FAULT_KINDS, FaultPlan, parse_fault
from .server import Sandbox, account_fields, start_sandbox
from .vendors import SIMULATORS

__all__ = [
    "FAULT_KINDS",
    "SIMULATORS",
    "FaultPlan",
    "Sandbox",
    "SandboxConfig",
    "account_fields",
    "parse_fault",
    "start_sandbox",
]
