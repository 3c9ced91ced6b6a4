"""docs/configuration.md documents every environment variable the service reads, each in the
section of the settings module that reads it, and nothing that nobody reads.

The variables are found in the code, not listed here: the settings package's readers (``env.*``
and ``environment.env_*`` called with a literal name, ``os.environ``), ``os.environ`` in the apps,
gunicorn.conf.py and manage.py, ``${NAME:-…}`` in scripts/run.sh and ``${NAME…}`` in
docker-compose.yml. The few read only by other programs are named below with the file that
reads them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "gm_server_notify" / "settings"
DOC = ROOT / "docs" / "configuration.md"
OUTSIDE = "outside"  # the doc's last section: read outside the settings

# Python read outside the settings package (the simulator lives under providers/).
PYTHON_OUTSIDE = [
    *(ROOT / "gm_server_notify").rglob("*.py"),
    *(ROOT / "sms").rglob("*.py"),
    *(ROOT / "providers").rglob("*.py"),
    *(ROOT / "signatures").rglob("*.py"),
    *(ROOT / "templates_mgmt").rglob("*.py"),
    ROOT / "gunicorn.conf.py",
    ROOT / "manage.py",
]
# Read by programs that are not ours: the file that reads them (or hands them over) and what in it.
CREATESUPERUSER = Path(django.__file__).parent / "contrib/auth/management/commands/createsuperuser.py"
READ_BY_OTHERS = {
    "FLOWER_PORT": (ROOT / "Makefile", "FLOWER_PORT"),
    # Django's createsuperuser --noinput reads DJANGO_SUPERUSER_<FIELD>.
    "DJANGO_SUPERUSER_USERNAME": (CREATESUPERUSER, '"DJANGO_SUPERUSER_" + self.UserModel.USERNAME_FIELD'),
    "DJANGO_SUPERUSER_PASSWORD": (CREATESUPERUSER, '"DJANGO_SUPERUSER_PASSWORD"'),
}
VARIABLE = re.compile(r"[A-Z][A-Z0-9_]+")


def _literal(node: ast.AST, constants: dict[str, str]) -> str | None:
    """A string literal, or a module-level string constant named by ``node``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _environ_reads(tree: ast.Module, readers: set[str]) -> Iterator[str]:
    """Names read from the environment in ``tree``: ``os.environ.get/setdefault``,
    ``os.environ[...]``, ``os.getenv``, ``env.<anything>(...)`` and calls of ``readers``."""
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            name = _literal(node.slice, constants)
        elif isinstance(node, ast.Call) and node.args:
            function = ast.unparse(node.func)
            is_reader = (
                function in ("os.environ.get", "os.environ.setdefault", "os.getenv")
                or function.startswith("env.")
                or function in readers
            )
            name = _literal(node.args[0], constants) if is_reader else None
        else:
            continue
        if name and VARIABLE.fullmatch(name):
            yield name


def settings_reads() -> dict[str, set[str]]:
    """Settings module name → the variables it reads."""
    environment = ast.parse((SETTINGS / "environment.py").read_text(encoding="utf-8"))
    readers = {
        node.name
        for node in environment.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("env_")
    }
    return {
        path.stem: set(_environ_reads(ast.parse(path.read_text(encoding="utf-8")), readers))
        for path in sorted(SETTINGS.glob("*.py"))
    }


def outside_reads() -> set[str]:
    names: set[str] = set()
    for path in PYTHON_OUTSIDE:
        if SETTINGS not in path.parents:
            names |= set(_environ_reads(ast.parse(path.read_text(encoding="utf-8")), set()))
    names |= set(
        re.findall(r"\$\{([A-Z][A-Z0-9_]*):?-", (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8"))
    )
    names |= set(
        re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    )
    return names


def documented() -> dict[str, set[str]]:
    """Section → the variables its tables name. A section is one settings module, found by the
    module's path in its text, or OUTSIDE."""
    sections: dict[str, set[str]] = {}
    for chunk in re.split(r"^## ", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]:
        heading, _, body = chunk.partition("\n")
        module = re.search(r"gm_server_notify/settings/(\w+)\.py", body)
        key = OUTSIDE if heading.strip() == "Read outside the settings" else module and module.group(1)
        assert key, f"docs/configuration.md: section {heading!r} names no settings module"
        assert key not in sections, f"docs/configuration.md: two sections for {key}"
        names = set()
        for line in body.splitlines():
            if line.startswith("| `"):
                first_cell = line.split("|")[1]
                names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell))
        sections[key] = names
    return sections


def test_the_readers_are_found():
    # Guards the finder itself: a reader it stopped recognising would make the checks below vacuous.
    reads = settings_reads()
    assert sum(len(names) for names in reads.values()) >= 100
    assert {
        "DJANGO_SECRET_KEY",
        "FW199_TEMPLATES",
        "WEBHOOK_RETRY_SCHEDULE",
        "SMS_MARKETING_HOURS",
    } <= set().union(*reads.values())
    assert {"GM_VAR_DIR"} <= reads["environment"]
    assert {
        "WEB_CONCURRENCY",
        "API_USER_PASSWORD",
        "SIM_FW199_APP_ID",
        "GM_WEB_PORT",
        "TLS_CERT_DIR",
    } <= outside_reads()


def test_each_settings_module_has_its_section_with_exactly_the_variables_it_reads():
    sections = documented()
    for module, names in settings_reads().items():
        if module == "__init__":
            assert not names, "the package's __init__ assembles the modules; it reads nothing itself"
            continue
        assert module in sections, f"docs/configuration.md has no section for settings/{module}.py"
        assert sections[module] >= names, (
            f"settings/{module}.py reads, undocumented: {sorted(names - sections[module])}"
        )
        assert sections[module] <= names, (
            f"documented under settings/{module}.py, not read there: {sorted(sections[module] - names)}"
        )


def test_every_variable_read_outside_the_settings_is_documented():
    everything = set().union(*documented().values())
    assert outside_reads() <= everything, sorted(outside_reads() - everything)


def test_every_variable_of_the_outside_section_is_read_somewhere():
    outside = documented()[OUTSIDE]
    unread = outside - outside_reads() - set(READ_BY_OTHERS)
    assert not unread, f"documented, read nowhere: {sorted(unread)}"
    for name, (path, marker) in READ_BY_OTHERS.items():
        assert name in outside and marker in path.read_text(encoding="utf-8"), (name, path)


def test_the_sections_follow_the_order_the_settings_are_assembled_in():
    init = (SETTINGS / "__init__.py").read_text(encoding="utf-8")
    assembled = re.findall(r"^from gm_server_notify\.settings\.(\w+) import", init, flags=re.MULTILINE)
    assert list(documented()) == [*assembled, OUTSIDE]
