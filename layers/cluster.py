"""The embedded database: a project-managed PostgreSQL + PostGIS cluster.

When DATABASE_URL is not set, `crimegun db start` creates (once) and runs a cluster from the
machine's PostgreSQL installation in `<data dir>/pg`, listening on 127.0.0.1 on a free port with a
generated password. PostgreSQL refuses to run as root, so when invoked as root the server runs as
an unprivileged OS user (CGA_DB_OS_USER, default `postgres`).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from layers import settings


class ClusterError(RuntimeError):
    """The embedded database cannot be started or reached; the message says what to do."""


@dataclass
class ClusterStatus:
    managed: bool  # False when DATABASE_URL points elsewhere
    initialized: bool
    running: bool
    port: int | None
    data_dir: Path | None
    url: str


def _state_dir() -> Path:
    return settings.data_dir() / "pg"


def _conn_file() -> Path:
    return _state_dir() / "connection.json"


def _is_root() -> bool:
    return os.geteuid() == 0


def _os_user() -> str | None:
    """The OS user that runs the server, or None to run it as ourselves."""
    if not _is_root():
        return None
    name = settings.get("CGA_DB_OS_USER")
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise ClusterError(f"OS user {name!r} does not exist; create it (useradd --system {name}) "
                           "or set CGA_DB_OS_USER to an unprivileged user") from None
    return name


def _bin_dir() -> Path:
    """The newest installed PostgreSQL whose share directory has PostGIS."""
    candidates = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        version = initdb.split("/")[4]
        has_postgis = Path(f"/usr/share/postgresql/{version}/extension/postgis.control").exists()
        candidates.append((has_postgis, float(version), Path(initdb).parent))
    if not candidates:
        found = shutil.which("initdb")
        if found:
            return Path(found).resolve().parent
        raise ClusterError("PostgreSQL is not installed; run `make install` "
                           "(or apt-get install postgresql postgresql-postgis)")
    candidates.sort(reverse=True)
    if not candidates[0][0]:
        raise ClusterError("PostGIS is not installed for PostgreSQL; run `make install` "
                           "(or apt-get install postgresql-postgis)")
    return candidates[0][2]


def _run(args: list[str], as_user: str | None, check: bool = True) -> subprocess.CompletedProcess:
    if as_user:
        args = ["runuser", "-u", as_user, "--", *args]
    proc = subprocess.run(args, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise ClusterError(f"{Path(args[0] if not as_user else args[4]).name} failed: "
                           f"{(proc.stderr or proc.stdout).strip()[-800:]}")
    return proc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        # A port the stopped server just closed lingers in TIME_WAIT: that is still free for us.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _user_can_reach(path: Path, user: str | None) -> bool:
    if user is None:
        return True
    return _run(["test", "-x", str(path)], user, check=False).returncode == 0


def _pg_data_dir(user: str | None) -> Path:
    """The cluster's data directory: inside the project unless the server's OS user cannot reach it."""
    state = _state_dir()
    saved = _read_conn().get("data_dir")
    if saved:
        return Path(saved)
    state.mkdir(parents=True, exist_ok=True)
    if _user_can_reach(state, user):
        return state / "data"
    # e.g. a checkout under /root (mode 700): keep the data where the server's user can reach it.
    digest = hashlib.sha1(str(state).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"crimegun-pg-{digest}"


def _read_conn() -> dict:
    try:
        return json.loads(_conn_file().read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _write_conn(info: dict) -> None:
    _state_dir().mkdir(parents=True, exist_ok=True)
    path = _conn_file()
    path.write_text(json.dumps(info, indent=2))
    path.chmod(0o600)


def managed() -> bool:
    return not settings.get("DATABASE_URL")


def url(dbname: str | None = None) -> str:
    """SQLAlchemy URL of the configured database (or of `dbname` on the same server)."""
    external = settings.get("DATABASE_URL")
    if external:
        base = external.replace("postgresql://", "postgresql+psycopg://", 1).replace(
            "postgres://", "postgresql+psycopg://", 1)
        if dbname:
            base = base.rsplit("/", 1)[0] + "/" + dbname
        return base
    info = _read_conn()
    if not info:
        raise ClusterError("the embedded database has not been created yet; run `crimegun db start`")
    name = dbname or settings.get("CGA_DB_NAME")
    return f"postgresql+psycopg://{info['user']}:{info['password']}@127.0.0.1:{info['port']}/{name}"


def _pg_ctl(bindir: Path, datadir: Path, user: str | None, *args: str, check: bool = True):
    return _run([str(bindir / "pg_ctl"), "-D", str(datadir), *args], user, check=check)


def status() -> ClusterStatus:
    if not managed():
        return ClusterStatus(False, True, _reachable(url()), None, None, _masked(url()))
    info = _read_conn()
    if not info:
        return ClusterStatus(True, False, False, None, None, "")
    datadir = Path(info["data_dir"])
    running = (datadir / "postmaster.pid").exists() and _reachable(url())
    return ClusterStatus(True, True, running, info["port"], datadir, _masked(url()))


def _masked(u: str) -> str:
    if "@" not in u:
        return u
    scheme, _, rest = u.partition("://")
    user = rest.split(":", 1)[0]
    return f"{scheme}://{user}:***@{rest.split('@', 1)[1]}"


def _reachable(u: str, dbname: str = "postgres") -> bool:
    import psycopg

    dsn = u.replace("postgresql+psycopg://", "postgresql://", 1)
    dsn = dsn.rsplit("/", 1)[0] + "/" + dbname
    try:
        with psycopg.connect(dsn, connect_timeout=3):
            return True
    except psycopg.OperationalError as exc:
        # A server that says it is full is running: treating it as stopped would start a second one elsewhere.
        text = str(exc).lower()
        return "too many clients" in text or "connection slots" in text


def _initdb(bindir: Path, user: str | None) -> dict:
    datadir = _pg_data_dir(user)
    password = secrets.token_urlsafe(24)
    datadir.mkdir(parents=True, exist_ok=True)
    pwfile = datadir.parent / f".pw-{secrets.token_hex(4)}"
    pwfile.write_text(password + "\n")
    try:
        if user:
            uid, gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
            os.chown(datadir, uid, gid)
            os.chown(pwfile, uid, gid)
        datadir.chmod(0o700)
        pwfile.chmod(0o600)
        # Text sorts in code point order, as C.UTF-8 sorts it, but compared byte by byte (UTF-8 bytes keep
        # that order) instead of through the C library: at 10x an index of incident locations builds in
        # 1.0 s instead of 2.4 s. Upper and lower case and character classes stay those of C.UTF-8.
        _run([str(bindir / "initdb"), "-D", str(datadir), "-U", "crimegun", f"--pwfile={pwfile}",
              "--auth-host=scram-sha-256", "--auth-local=peer", "--encoding=UTF8", "--locale=C.UTF-8",
              "--lc-collate=C"], user)
    finally:
        pwfile.unlink(missing_ok=True)
    # A local working database: favour bulk loads and short analytical queries.
    conf = "\n".join([
        "listen_addresses = '127.0.0.1'",
        "unix_socket_directories = ''",
        f"shared_buffers = {shared_buffers_mb()}MB",
        "max_connections = 200",  # two threaded dashboard workers, loaders, the watcher and the tests
        "work_mem = 32MB",
        "maintenance_work_mem = 256MB",
        # The write-ahead log serves crash recovery only here (no replicas, no archive; backups are pg_dump):
        # with the minimal level an index built, or a table created, in a transaction is written to disk at
        # its commit instead of to the log as well, and fewer checkpoints each write a page once.
        "wal_level = minimal",
        "max_wal_senders = 0",
        "max_wal_size = 8GB",
        "checkpoint_timeout = 15min",
        "synchronous_commit = off",  # a crash can lose the last moments of work, never corrupt it
        "jit = off",  # JIT compilation costs more than it saves on map-sized queries
        "log_min_duration_statement = 2000",
        "",
    ])
    _run(["sh", "-c", f"cat >> {datadir}/postgresql.conf <<'EOF'\n{conf}EOF"], user)
    return {"user": "crimegun", "password": password, "port": _free_port(), "data_dir": str(datadir)}


def shared_buffers_mb() -> int:
    """PostgreSQL's own cache for a new cluster: a quarter of the machine's memory, between 256 MB and 2 GB.
    At 100x Baltimore (3.5 GB) a crowded map view reads ~10,000 rows of three tables; with the old fixed
    256 MB many came from the operating system's cache page by page: the map's viewport updates' p95 went
    from 175-180 / 345-400 ms (28 days / 12 months) to 148-151 / 268-301 ms with 2 GB, measured in turn.
    Existing clusters keep their setting (ALTER SYSTEM SET shared_buffers changes it)."""
    try:
        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        return 256
    return max(256, min(2048, total_mb // 4))


def start(quiet: bool = False, echo=print) -> str:
    """Create (once) and start the embedded cluster; make sure the database and PostGIS exist."""
    if not managed():
        if not _reachable(url(), dbname=url().rsplit("/", 1)[1]):
            raise ClusterError(f"cannot connect to DATABASE_URL ({_masked(url())}); is the server running?")
        ensure_database()
        return url()
    user = _os_user()
    bindir = _bin_dir()
    info = _read_conn()
    if not info or not (Path(info["data_dir"]) / "PG_VERSION").exists():
        if not quiet:
            echo(f"Creating the embedded PostgreSQL cluster ({bindir.parent.name}) ...")
        info = _initdb(bindir, user)
        _write_conn(info)
    datadir = Path(info["data_dir"])
    if (datadir / "postmaster.pid").exists() and _reachable(url()):
        if not quiet:
            echo(f"Database already running on 127.0.0.1:{info['port']}")
        ensure_database()
        ensure_web_login()
        return url()
    if not _port_free(info["port"]):
        info["port"] = _free_port()
        _write_conn(info)
    log = datadir / "server.log"
    proc = _pg_ctl(bindir, datadir, user, "-l", str(log), "-o", f"-p {info['port']}", "-w", "-t", "60",
                   "start", check=False)
    if proc.returncode != 0:
        tail = ""
        reader = _run(["tail", "-n", "5", str(log)], user, check=False)
        tail = reader.stdout.strip()
        raise ClusterError(f"the database did not start: {tail or proc.stderr.strip()}")
    for _ in range(50):
        if _reachable(url()):
            break
        time.sleep(0.2)
    ensure_database()
    ensure_web_login()
    if not quiet:
        echo(f"Database running on 127.0.0.1:{info['port']} (data in {datadir})")
    return url()


def stop(echo=print) -> bool:
    if not managed():
        echo("DATABASE_URL is set: that server is not managed by crimegun; nothing to stop")
        return False
    info = _read_conn()
    if not info or not (Path(info["data_dir"]) / "postmaster.pid").exists():
        echo("The embedded database is not running")
        return False
    _pg_ctl(_bin_dir(), Path(info["data_dir"]), _os_user(), "-m", "fast", "-w", "stop")
    echo("Database stopped")
    return True


WEB_ROLE = "crimegun_web"


def ensure_web_login() -> None:
    """Give the dashboard's role `crimegun_web` a login of its own on the embedded cluster (password
    generated once, kept in connection.json): the dashboard then connects as that role, not as the owner
    switched to it, so nothing it runs can switch back to the owner's rights (RESET ROLE)."""
    import psycopg
    from psycopg import sql

    info = _read_conn()
    if not info:
        return
    if not info.get("web_password"):
        info["web_password"] = secrets.token_urlsafe(24)
        _write_conn(info)
    admin = url("postgres").replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (WEB_ROLE,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(WEB_ROLE), sql.Literal(info["web_password"])))


def web_url(owner_url: str) -> str | None:
    """URL of the web role's own login for the database of `owner_url`: CGA_WEB_DATABASE_URL (its database
    name replaced), else the embedded cluster's generated login when `owner_url` is on that cluster; None
    when no web login is known."""
    from sqlalchemy.engine import make_url

    target = make_url(owner_url.replace("postgresql://", "postgresql+psycopg://", 1))
    configured = settings.get("CGA_WEB_DATABASE_URL")
    if configured:
        web = make_url(configured.replace("postgresql://", "postgresql+psycopg://", 1))
        return web.set(database=target.database).render_as_string(hide_password=False)
    info = _read_conn()
    if (info.get("web_password") and target.host in ("127.0.0.1", "localhost")
            and target.port == info.get("port")):
        return target.set(username=WEB_ROLE, password=info["web_password"]).render_as_string(hide_password=False)
    return None


def ensure_database(dbname: str | None = None) -> None:
    """Create the database (and the PostGIS extension in it) if missing."""
    import psycopg

    name = dbname or url().rsplit("/", 1)[1]
    admin = url("postgres").replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    target = url(name).replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def drop_database(dbname: str) -> None:
    import psycopg

    admin = url("postgres").replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
