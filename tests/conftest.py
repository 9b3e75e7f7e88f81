"""What every test folder shares: integrations discovered from the search path, and a fresh mappings folder.

- A test that takes an ``integration`` argument (and does not parametrize it itself) runs once per integration on
  the mapping search path (``available_integrations()``): the generic suites never list vendors, so a mapping added
  to ``mappings/`` or to a folder on ``UNIMETER_MAPPINGS_PATH`` is covered by being there.
- ``postgres_url``: one throwaway PostgreSQL server for the session, started when a test first asks for it;
  ``store_url``: a test runs once on a fresh SQLite file and once on that server (which the session shares).
- ``mappings_folder``: an empty mappings folder (with ``fixtures/`` beside it) put first on the search path for one
  test; the registry caches per folder list, so the folder is seen at once and forgotten afterwards.

Code shared across folders lives in the ``tests.helpers`` package, imported as ``tests.helpers.<module>``: the inline
demo spec the engine's unit tests load (``specs``, needed at import time, so a module rather than a fixture),
credentials derived from each integration's declaration, fixture cases, the service harness and its checks, the
fuzzer, local vendor servers, PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.paths import MappingsFolder
from tests.helpers.postgres_server import postgres_url_or_skip
from unimeter.run.destination import allow_base_urls
from unimeter.spec import MAPPINGS_PATH_ENV, available_integrations

# The test session is the operator of the simulators and local vendors it starts on loopback (subprocesses inherit
# this); tests of the refusal itself clear it with monkeypatch.
allow_base_urls(["http://127.0.0.1", "http://localhost"])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "integration" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        if "integration" in names:
            return
    metafunc.parametrize("integration", available_integrations())


@pytest.fixture
def mappings_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MappingsFolder:
    folder = MappingsFolder(tmp_path / "user" / "mappings", tmp_path / "user" / "fixtures")
    folder.mappings.mkdir(parents=True)
    folder.fixtures.mkdir()
    monkeypatch.setenv(MAPPINGS_PATH_ENV, str(folder.mappings))
    return folder


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One PostgreSQL server for the whole session, started only when a PostgreSQL test first asks for it."""
    with postgres_url_or_skip() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL for each backend; the PostgreSQL server is started only when a PostgreSQL case runs."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
