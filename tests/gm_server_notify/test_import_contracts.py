"""The import contracts (``lint-imports``, pyproject.toml) name every module of the project's
packages: a module no contract names could import anything, and nothing would notice."""

from __future__ import annotations

import tomllib
from pathlib import Path

import grimp

REPO_ROOT = Path(__file__).resolve().parents[2]


def _contracts() -> tuple[list[str], list[dict]]:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return config["root_packages"], config["contracts"]


def _named_modules(contract: dict) -> set[str]:
    """Every module or package a contract names, with its containers applied to its layers."""
    named: set[str] = set()
    # forbidden_modules are what a contract keeps out, not what it covers
    for key in ("source_modules", "modules"):
        named.update(contract.get(key, []))
    for layer in contract.get("layers", []):
        for entry in layer.replace(":", "|").split("|"):
            name = entry.strip().strip("()")
            if not name:
                continue
            containers = contract.get("containers") or [""]
            named.update(f"{container}.{name}" if container else name for container in containers)
    return named


def _has_code(graph: grimp.ImportGraph, module: str) -> bool:
    """A package whose ``__init__`` is empty holds nothing a contract must name."""
    if not graph.find_children(module):
        return True
    init = REPO_ROOT / module.replace(".", "/") / "__init__.py"
    return init.exists() and bool(init.read_text().strip())


def test_every_module_of_the_project_is_named_by_an_import_contract():
    roots, contracts = _contracts()
    graph = grimp.build_graph(*roots, cache_dir=None)
    named = set().union(
        *(_named_modules(contract) for contract in contracts if contract["type"] != "acyclic_siblings")
    )
    unnamed = sorted(
        module
        for module in graph.modules
        if module not in roots
        and _has_code(graph, module)
        and not any(module == name or module.startswith(name + ".") for name in named)
    )
    assert unnamed == []


def test_the_contracts_name_no_module_that_does_not_exist():
    roots, contracts = _contracts()
    graph = grimp.build_graph(*roots, cache_dir=None)
    named = set().union(
        *(_named_modules(contract) for contract in contracts if contract["type"] != "acyclic_siblings")
    )
    internal = {name for name in named if name.split(".")[0] in roots}
    # optional layers ("(names)") exist in one container only
    missing = sorted(
        name
        for name in internal
        if name not in graph.modules and not name.endswith((".names", ".placeholders", ".texts"))
    )
    assert missing == []
