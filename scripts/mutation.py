"""Mutation testing of the money and state code with mutmut (``make mutation``; docs/testing.md,
"Mutation testing"). The configuration is ``[tool.mutmut]`` in pyproject.toml.

    python scripts/mutation.py run ledger     # mutmut run on one module's mutants
    python scripts/mutation.py again ledger   # again, on those not killed last time
    python scripts/mutation.py score          # killed/total per module, and the survivors

``run`` is mutmut's own command with one change: mutmut leaves every decorated function alone
(a decorator runs when the module loads, and some cannot wrap its trampoline). ``retry_on_deadlock``
only calls the function again after a lost deadlock, so a function carrying only it is mutated as
if undecorated: ``claim_dispatch``, ``record_outcomes`` and ``apply_delivery_reports`` carry it.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

# Each module: its dotted name and, where only part of it is in scope, the functions mutated.
# pipeline.py: the claim and outcome functions, the state changes of a dispatch (docs/testing.md says
# why not the rest).
MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ledger": ("sms.accounting.ledger", ()),
    "reports": ("sms.delivery.reports", ()),
    "idempotency": ("sms.core.idempotency", ()),
    "limits": ("sms.sending.limits", ()),
    "pipeline": (
        "sms.sending.pipeline",
        (
            "claim_dispatch",
            "requeue_dispatch",
            "fail_records",
            "fail_unstarted",
            "mark_unknown",
            "_write_outcomes",
            "record_outcomes",
            "record_outcomes_durably",
        ),
    ),
}
# mutmut's exit codes that mean a test caught the mutant (mutmut.stats.status_by_exit_code): a test
# failed (1), pytest broke (3), or it ran past its time (timeouts: the mutant looped).
KILLED = {1, 3, 24, -24, 152, 255, 36}
SURVIVED = {0}
NO_TESTS = {5, 33}


def mutant_globs(module: str) -> list[str]:
    dotted, functions = MODULES[module]
    if not functions:
        return [f"{dotted}.*"]
    return [f"{dotted}.x_{function}__mutmut_*" for function in functions]


def _in_scope(module: str, mutant: str) -> bool:
    functions = MODULES[module][1]
    name = mutant.rpartition(".")[2]
    return not functions or any(name.startswith(f"x_{function}__mutmut_") for function in functions)


def _allow_retry_on_deadlock() -> None:
    """Let mutmut mutate functions whose only decorator is ``retry_on_deadlock(...)``."""
    import libcst as cst
    from mutmut.mutation import file_mutation

    def only_retry(function: cst.FunctionDef) -> bool:
        def is_retry(decorator: cst.BaseExpression) -> bool:
            call = decorator.func if isinstance(decorator, cst.Call) else decorator
            return isinstance(call, cst.Name) and call.value == "retry_on_deadlock"

        return bool(function.decorators) and all(is_retry(d.decorator) for d in function.decorators)

    visitor = file_mutation.MutationVisitor
    original = visitor._skip_node_and_children

    def skip(self: file_mutation.MutationVisitor, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.FunctionDef) and only_retry(node):
            # The same checks on the function without its decorator (the decorator node itself
            # is still skipped when the visitor reaches it, so its arguments are never mutated).
            return original(self, node.with_changes(decorators=()))
        return original(self, node)

    visitor._skip_node_and_children = skip


def run(module: str, max_children: int, *, again: bool = False) -> None:
    """mutmut run on the module's mutants; with ``again``, only on those a test did not kill last
    time (after a test was added: mutmut learns which functions the new tests call first)."""
    _allow_retry_on_deadlock()
    from mutmut.__main__ import cli

    names = _not_killed(module) if again else mutant_globs(module)
    if not names:
        print(f"{module}: every mutant was killed")
        return
    cli(["run", "--max-children", str(max_children), *names])


def _results(module: str, root: Path = Path("mutants")) -> dict[str, int | None] | None:
    """Each in-scope mutant's exit code (None: not run yet), or None when the module never ran."""
    meta = root / (MODULES[module][0].replace(".", "/") + ".py.meta")
    if not meta.exists():
        return None
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    return {name: code for name, code in codes.items() if _in_scope(module, name)}


def _not_killed(module: str) -> list[str]:
    return sorted(name for name, code in (_results(module) or {}).items() if code not in KILLED)


def score(root: Path = Path("mutants")) -> int:
    """Print killed/total per module (only the mutants in scope) and each survivor; 1 when a module
    that was run scores under 90 %."""
    low = 0
    for module in MODULES:
        results = _results(module, root)
        if results is None:
            print(f"{module:12} not run")
            continue
        checked = {name: code for name, code in results.items() if code is not None}
        if not checked:
            print(f"{module:12} not run")
            continue
        killed = sum(code in KILLED for code in checked.values())
        total = len(results)
        kinds = Counter(
            "survived" if code in SURVIVED else "no tests" if code in NO_TESTS else f"exit {code}"
            for code in checked.values()
            if code not in KILLED
        )
        rest = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        unchecked = total - len(checked)
        print(
            f"{module:12} {killed}/{total} killed ({100 * killed / total:.1f} %)"
            + (f"; {rest}" if rest else "")
            + (f"; {unchecked} not checked" if unchecked else "")
        )
        for name, code in sorted(checked.items()):
            if code not in KILLED:
                print(f"    {name}  ({'survived' if code in SURVIVED else f'exit {code}'})")
        low += killed < 0.9 * total
    return 1 if low else 0


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] in ("run", "again") and argv[1] in MODULES:
        jobs = int(argv[2]) if len(argv) > 2 else 1
        run(argv[1], jobs, again=argv[0] == "again")
        return 0
    if argv == ["score"]:
        return score()
    modules = ",".join(MODULES)
    print(f"usage: mutation.py run|again {{{modules}}} [max-children] | mutation.py score", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
