"""A throwaway PostgreSQL server for the store tests, started by the pytest session itself.

Why: the README's single test command has to exercise the PostgreSQL store on a fresh machine with no manual step, so
the session starts its own server instead of expecting one to be running. The server binaries come from, in order:

1. nowhere, when ``UNIMETER_TEST_POSTGRES_URL`` names a server already running (nothing is started or stopped);
2. the ``pgserver`` wheel from the project's ``test`` extra (PostgreSQL 16 with its ``share/`` files and a bundled
   libpq, so ``pip install -e '.[test]'`` alone is enough);
3. Debian's ``postgresql`` packages (``/usr/lib/postgresql/*/bin``, newest first) or ``initdb`` on ``PATH``.

The cluster lives in a fresh temporary directory: trust authentication, listening on 127.0.0.1 only (a free port) and
on a socket directory inside that temporary directory, so nothing outside this machine can reach it; ``fsync`` is off
because the data is thrown away. PostgreSQL refuses to run as root, and tests and CI run as root, so then every server
command runs as the ``postgres`` user (or ``nobody``), which owns the data directory.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import pwd
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

POSTGRES_ENV = "UNIMETER_TEST_POSTGRES_URL"
DATABASE = "unimeter_test"
TOOLS = ("initdb", "pg_ctl", "postgres")
# Seconds pg_ctl waits for the server to accept connections (a cold start on a loaded 2-core machine takes a few).
START_TIMEOUT_S = 60
SERVER_USERS = ("postgres", "nobody")


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server can be had; the message says why, so a skip or a CI failure can say it too."""


@dataclass(frozen=True)
class ServerBinaries:
    """Where initdb, pg_ctl and postgres live, and which of the sources above they came from (for messages)."""

    bin_dir: Path
    source: str
    # The folders (relative to bundle_root) that the binaries need, kept in their layout: a wheel's binaries find
    # share/ and their bundled libraries by relative paths, so a copy must move them together. None: not copyable.
    bundle_root: Path | None = None
    bundle: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Account:
    """The unprivileged account the server runs as when this process is root."""

    name: str
    uid: int
    gid: int


def _has_tools(bin_dir: Path) -> bool:
    return all((bin_dir / tool).is_file() and os.access(bin_dir / tool, os.X_OK) for tool in TOOLS)


def _pip_binaries() -> ServerBinaries | None:
    """The pgserver wheel's binaries, found without importing pgserver (its import pulls in psutil and more)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    bin_dir = package / "pginstall" / "bin"
    if not _has_tools(bin_dir):
        return None
    # auditwheel put the binaries' libpq in site-packages/pgserver.libs, found through $ORIGIN/../../../pgserver.libs.
    return ServerBinaries(bin_dir, "the pgserver wheel", package.parent, ("pgserver/pginstall", "pgserver.libs"))


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in bin_dir.parent.name.split("."))
    except ValueError:
        return (-1,)


def _system_binaries() -> list[ServerBinaries]:
    """Debian's server binaries, newest major version first, then whatever ``initdb`` on PATH belongs to."""
    found = [
        ServerBinaries(bin_dir, f"Debian's postgresql-{bin_dir.parent.name}")
        for bin_dir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
        if _has_tools(bin_dir)
    ]
    initdb = shutil.which("initdb")
    if initdb is not None:
        bin_dir = Path(initdb).resolve().parent  # /usr/local/bin/initdb may be a link into /usr/lib/postgresql
        if _has_tools(bin_dir) and all(binaries.bin_dir != bin_dir for binaries in found):
            found.append(ServerBinaries(bin_dir, f"initdb on PATH ({bin_dir})"))
    return found


def find_binaries() -> list[ServerBinaries]:
    """Every usable set of server binaries on this machine, best first (the wheel pinned by the test extra wins)."""
    pip = _pip_binaries()
    return ([pip] if pip is not None else []) + _system_binaries()


def _server_account() -> _Account | None:
    """None when not root; else the account to drop to, since postgres exits at once when started as root."""
    if os.geteuid() != 0:
        return None
    for name in SERVER_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return _Account(name, entry.pw_uid, entry.pw_gid)
    raise PostgresUnavailableError(
        f"running as root, and none of the users {', '.join(SERVER_USERS)} exists to "
        "run PostgreSQL as (it refuses to run as root)"
    )


def _reachable_by_others(path: Path) -> bool:
    """Whether any user can traverse every folder above ``path`` (and read and run it, if it is a file).

    Deliberately conservative (group and ACL grants are ignored): a false "no" only costs a copy of the binaries.
    """
    path = path.resolve()
    if path.is_file() and (path.stat().st_mode & (stat.S_IROTH | stat.S_IXOTH)) != (stat.S_IROTH | stat.S_IXOTH):
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in [path, *path.parents] if parent.is_dir())


def _usable_by(binaries: ServerBinaries, account: _Account | None, base: Path) -> Path:
    """The bin folder the server account can run: the original, or a copy inside ``base`` when it can't reach it.

    A venv under /root (mode 0700), as in a CI checkout there, is out of the postgres user's reach.
    """
    if account is None or all(_reachable_by_others(binaries.bin_dir / tool) for tool in TOOLS):
        return binaries.bin_dir
    if binaries.bundle_root is None:
        raise PostgresUnavailableError(
            f"the user {account.name} cannot run the binaries in {binaries.bin_dir} "
            f"({binaries.source}): a folder above them is closed to other users"
        )
    copy_root = base / "install"
    for part in binaries.bundle:
        shutil.copytree(binaries.bundle_root / part, copy_root / part, symlinks=True)
    copy_root.chmod(0o755)
    return copy_root / binaries.bin_dir.relative_to(binaries.bundle_root)


def _free_port() -> int:
    """A port nothing listens on now; the kernel picks it, so parallel sessions don't collide."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _server_environment() -> dict[str, str]:
    """The caller's environment without PG* variables, which would point initdb and pg_ctl elsewhere."""
    return {name: value for name, value in os.environ.items() if not name.startswith("PG")}


def _run(command: Sequence[str | Path], account: _Account | None, cwd: Path, timeout: float) -> str:
    """Run one server command as ``account`` (None: as this process); return its output, raise with it on failure.

    cwd is the temporary directory: the server account may be unable to read the caller's working directory.
    """
    try:
        completed = subprocess.run(
            [str(part) for part in command],
            cwd=cwd,
            env=_server_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=None if account is None else account.uid,
            group=None if account is None else account.gid,
            extra_groups=None if account is None else [],
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PostgresUnavailableError(f"{Path(command[0]).name} failed: {error}") from error
    output: str = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise PostgresUnavailableError(f"{Path(command[0]).name} exited with {completed.returncode}:\n{output.strip()}")
    return output


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _stop_server(bin_dir: Path, data: Path, account: _Account | None, base: Path) -> None:
    """Stop the server in ``data``: fast shutdown, else immediate, else SIGKILL to the pid it recorded.

    Never raises, so the data folder is deleted whatever happens; what is left running would show in ``ps``.
    """
    for mode in ("fast", "immediate"):
        try:
            _run([bin_dir / "pg_ctl", "-D", data, "-m", mode, "-w", "-t", "30", "stop"], account, base, 60)
            return
        except PostgresUnavailableError:
            continue
    with suppress(OSError, ValueError, IndexError):
        os.kill(int((data / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)


def _start_with(binaries: ServerBinaries, account: _Account | None) -> tuple[str, Callable[[], None]]:
    """Start a cluster from ``binaries``; on any failure clean up and raise PostgresUnavailableError with the log."""
    # The temporary folder's parents must be traversable by the server account: fall back to /tmp when TMPDIR isn't.
    parent = tempfile.gettempdir()
    if account is not None and not _reachable_by_others(Path(parent)):
        parent = "/tmp"
    base = Path(tempfile.mkdtemp(prefix="unimeter-postgres-", dir=parent))
    data, log = base / "data", base / "server.log"
    started = False

    def stop() -> None:
        """Stop the server (fast: open sessions are cut) and delete its folder; safe to call more than once."""
        nonlocal started
        try:
            if started:
                started = False
                _stop_server(bin_dir, data, account, base)
        finally:
            shutil.rmtree(base, ignore_errors=True)

    try:
        bin_dir = _usable_by(binaries, account, base)
        if account is not None:
            os.chown(base, account.uid, account.gid)
        _run(
            [
                bin_dir / "initdb",
                "-D",
                data,
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            account,
            base,
            120,
        )
        port = _free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(base),
            "fsync": "off",
        }
        # pg_ctl hands -o to a shell, hence the quoting (a TMPDIR may hold spaces).
        options = " ".join(f"-c {shlex.quote(f'{name}={value}')}" for name, value in settings.items())
        started = True  # from here on a half-started server may exist, and stop() must try to stop it
        try:
            _run(
                [bin_dir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", str(START_TIMEOUT_S), "-o", options, "start"],
                account,
                base,
                START_TIMEOUT_S + 30,
            )
        except PostgresUnavailableError as error:
            raise PostgresUnavailableError(f"{error}\nserver log ({log}):\n{_log_tail(log)}") from error
        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=10) as connection:
                connection.execute(f"CREATE DATABASE {DATABASE}")
        except psycopg.Error as error:
            raise PostgresUnavailableError(f"CREATE DATABASE failed: {error}\nserver log:\n{_log_tail(log)}") from error
    except BaseException:
        stop()
        raise
    atexit.register(stop)  # a session that dies before its teardown still stops the server when Python exits
    return f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}", stop


def start_postgres() -> tuple[str, Callable[[], None]]:
    """A PostgreSQL URL for the tests and the function that stops that server again and deletes its data.

    With ``UNIMETER_TEST_POSTGRES_URL`` set, that server is used as it is and the stop function does nothing.
    Otherwise each set of binaries from :func:`find_binaries` is tried in turn; raises PostgresUnavailableError (with
    every attempt's reason) when none starts.
    """
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url, lambda: None
    candidates = find_binaries()
    if not candidates:
        raise PostgresUnavailableError(
            "no PostgreSQL server binaries found (neither the pgserver wheel nor "
            "/usr/lib/postgresql/*/bin nor initdb on PATH)"
        )
    account = _server_account()
    reasons: list[str] = []
    for binaries in candidates:
        try:
            return _start_with(binaries, account)
        except PostgresUnavailableError as error:
            reasons.append(f"with {binaries.source} ({binaries.bin_dir}): {error}")
    raise PostgresUnavailableError("no PostgreSQL server would start:\n" + "\n".join(reasons))


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"true", "1", "yes"}


@contextmanager
def postgres_url_or_skip() -> Iterator[str]:
    """Start a server for the duration of the ``with`` block and give its URL; skip (fail, under CI) when none can be.

    Why fail under CI: a CI run that silently skipped the PostgreSQL store would report it as tested.
    """
    try:
        url, stop = start_postgres()
    except PostgresUnavailableError as error:
        reason = str(error)  # reported outside this handler, so the report doesn't repeat it as a chained cause
    else:
        reason = ""
    if reason and _in_ci():
        pytest.fail(f"CI=true but no PostgreSQL server for the store tests: {reason}", pytrace=False)
    if reason:
        pytest.skip(
            f"no PostgreSQL server for the store tests ({reason}); install the test extra "
            f"(`pip install -e '.[test]'` brings the pgserver wheel) or set {POSTGRES_ENV} to a server's URL"
        )
    try:
        yield url
    finally:
        stop()
