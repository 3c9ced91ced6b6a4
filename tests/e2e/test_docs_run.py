"""Docs that run: every shell example of docs/api-station.md, docs/api-platform.md and the README, run top to
bottom against a fresh ``make run`` (scripts/run.sh on free ports, a private var dir), each answer
checked against the one the doc shows.

**Blocks.** A fenced block tagged ``sh`` is run. The blocks of one doc run in order in one bash
session (``set -euo pipefail``), so variables set by one block (``SIGN=$(...)``) are there for the
next; a command that fails stops the doc. (The README's opening ``make run`` / ``make test`` are a
``bash`` block: read, not run.) A fenced ``json`` or ``text`` block that follows a
``sh`` block with nothing but blank lines between them is that block's answer: what the block
prints. A block that prints something must show its answer; a block that prints nothing (the
setup, a wait) need not. Other blocks (``python``, ``http``) are read, not run.

**Matching a ``json`` answer.** The answer shown and the real one are each a sequence of JSON
values (usually one). They must have the same keys in every object and the same length in every
list, and every value must be equal (with its type), except values that differ from run to run,
which stand for any value of their kind:

- ids: under a key ``id`` or ending in ``_id``, an integer stands for any integer and a string of
  digits for any string of digits;
- ``secret`` and ``secret_hint`` (random): a lowercase hex string stands for any of its length;
- a uuid for any uuid; ``YYYY-MM-DD HH:MM:SS`` for any time of that shape; ``YYYY-MM-DD`` for
  any date; an integer of 10 digits (Unix seconds) for any integer of 10 digits;
- ``…`` inside a string for any text (``"sending suspended: …"``).

Shown answers give make run's default addresses (``127.0.0.1:8000``, the simulator on ``:8100``,
the doc's webhook receiver on ``:9000``); the test's free ports are written as those before
matching. A ``text`` answer must equal the output line for line (trailing blanks aside).

Whatever takes time (a report arriving, a webhook pushed) is awaited in the doc itself by
polling a condition up to a deadline (``wait_until``, defined in each doc's setup), never a sleep.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.make_run import (
    NOT_INHERITED,
    REPO_ROOT,
    MakeRun,
    descendants,
    free_port,
    make_run,
    wait_for,
)
from tests.support.waiting import scaled, wait_until

# README.md last: its first requests use a station and a tenant of their own.
DOCS = ("docs/api-station.md", "docs/api-platform.md", "README.md")
# The addresses the docs show (their defaults); the test's own ports are written as these.
DOC_PORTS = {"port": 8000, "sim_port": 8100, "receiver_port": 9000}

FENCE = re.compile(r"^```(\w*)\s*$")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
HEX = re.compile(r"[0-9a-f]+")
RANDOM_HEX_KEYS = {"secret", "secret_hint"}
ANSWER_LANGS = {"json", "text"}


# --- Reading the docs -------------------------------------------------------------------------


@dataclass
class Block:
    doc: str
    line: int  # of the opening fence, 1-based
    code: str
    answer: str | None = None
    answer_lang: str | None = None
    answer_line: int | None = None

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def shell_blocks(doc: str) -> list[Block]:
    """The ``sh`` blocks of ``doc`` in order, each with the answer block that follows it."""
    lines = (REPO_ROOT / doc).read_text(encoding="utf-8").splitlines()
    fenced: list[tuple[str, int, int, str]] = []  # (lang, opening line index, closing index, body)
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening:
            end = index + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            fenced.append((opening.group(1), index, end, "\n".join(lines[index + 1 : end])))
            index = end
        index += 1
    blocks: list[Block] = []
    for position, (lang, start, end, body) in enumerate(fenced):
        if lang != "sh":
            continue
        block = Block(doc=doc, line=start + 1, code=body)
        if position + 1 < len(fenced):
            next_lang, next_start, _, next_body = fenced[position + 1]
            between = lines[end + 1 : next_start]
            if next_lang in ANSWER_LANGS and all(not line.strip() for line in between):
                block.answer, block.answer_lang, block.answer_line = next_body, next_lang, next_start + 1
        blocks.append(block)
    return blocks


# --- Matching answers -------------------------------------------------------------------------


def json_values(text: str) -> list[Any]:
    """Every JSON value of ``text``, one after another (whitespace between them)."""
    decoder, values, position = json.JSONDecoder(), [], 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return values
        value, position = decoder.raw_decode(text, position)
        values.append(value)


def _is_unix_seconds(value: Any) -> bool:
    return type(value) is int and 1_000_000_000 <= value < 10_000_000_000


def _stands_for(shown: Any, real: Any, key: str | None) -> bool:
    """Whether the scalar ``shown`` (under ``key``) stands for ``real`` (the module's rules)."""
    if key is not None and (key == "id" or key.endswith("_id")):
        if type(shown) is int:
            return type(real) is int
        if isinstance(shown, str) and shown.isdigit():
            return isinstance(real, str) and real.isdigit()
    if key in RANDOM_HEX_KEYS and isinstance(shown, str) and HEX.fullmatch(shown):
        return isinstance(real, str) and len(real) == len(shown) and bool(HEX.fullmatch(real))
    if isinstance(shown, str) and isinstance(real, str):
        for shape in (UUID, TIME, DATE):
            if shape.fullmatch(shown):
                return bool(shape.fullmatch(real))
        if "…" in shown:
            pattern = ".*".join(re.escape(part) for part in shown.split("…"))
            return bool(re.fullmatch(pattern, real, re.DOTALL))
    if _is_unix_seconds(shown):
        return _is_unix_seconds(real)
    return type(shown) is type(real) and shown == real


def mismatches(shown: Any, real: Any, path: str = "$", key: str | None = None) -> list[str]:
    """Where ``real`` differs from the answer ``shown``, by the module's rules (empty: it matches)."""
    if isinstance(shown, dict):
        if not isinstance(real, dict):
            return [f"{path}: an object is shown, the answer has {real!r}"]
        if shown.keys() != real.keys():
            return [f"{path}: keys {sorted(shown)} are shown, the answer has {sorted(real)}"]
        return [
            found for name in shown for found in mismatches(shown[name], real[name], f"{path}.{name}", name)
        ]
    if isinstance(shown, list):
        if not isinstance(real, list) or len(real) != len(shown):
            return [f"{path}: {len(shown)} items are shown, the answer has {real!r}"]
        return [found for i, item in enumerate(shown) for found in mismatches(item, real[i], f"{path}[{i}]")]
    if _stands_for(shown, real, key):
        return []
    return [f"{path}: {shown!r} is shown, the answer has {real!r}"]


def answer_mismatches(block: Block, output: str) -> list[str]:
    """How ``output`` (what the block printed) differs from the answer the block shows."""
    if block.answer is None:
        return [] if not output.strip() else ["it prints something but shows no answer"]
    if block.answer_lang == "text":
        shown = [line.rstrip() for line in block.answer.strip().splitlines()]
        real = [line.rstrip() for line in output.strip().splitlines()]
        return [] if shown == real else [f"{shown!r} is shown, the output is {real!r}"]
    try:
        shown_values = json_values(block.answer)
    except json.JSONDecodeError as exc:
        return [f"the answer shown (line {block.answer_line}) is not JSON: {exc}"]
    try:
        real_values = json_values(output)
    except json.JSONDecodeError as exc:
        return [f"the output is not JSON ({exc}): {output!r}"]
    if len(real_values) != len(shown_values):
        return [f"{len(shown_values)} JSON values are shown, the output has {len(real_values)}: {output!r}"]
    return [
        found
        for shown, real in zip(shown_values, real_values, strict=True)
        for found in mismatches(shown, real)
    ]


# --- Running a doc ----------------------------------------------------------------------------


def session_script(blocks: list[Block], out_dir: Path) -> str:
    """One bash script: each block in turn, its output kept in ``<out_dir>/<n>.out``."""
    parts = ["set -euo pipefail"]
    for number, block in enumerate(blocks):
        parts.append(
            f"# --- {block.where}\n"
            f"echo {number} > '{out_dir}/current'\n"
            f"{{\n{block.code}\n}} > '{out_dir}/{number}.out'"
        )
    parts.append(f"echo done > '{out_dir}/current'")
    return "\n".join(parts) + "\n"


def run_doc(doc: str, run: MakeRun, receiver_port: int, work: Path) -> list[str]:
    """Run ``doc``'s blocks in one bash session against ``run``; every failure, as text."""
    blocks = shell_blocks(doc)
    out_dir = work / Path(doc).stem
    out_dir.mkdir()
    script = out_dir / "session.sh"
    script.write_text(session_script(blocks, out_dir), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env.update(
        BASE=run.base,
        SIM=f"http://127.0.0.1:{run.sim_port}",
        GM_VAR_DIR=str(run.var_dir),
        RECV_PORT=str(receiver_port),
    )
    log_path = out_dir / "session.log"
    with log_path.open("wb") as log:
        session = subprocess.Popen(
            ["bash", str(script)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            returncode = session.wait(timeout=scaled(90))
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            # The session's own children (a doc's webhook receiver) go with it.
            try:
                os.killpg(session.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            session.wait()
    ports = {
        run.port: DOC_PORTS["port"],
        run.sim_port: DOC_PORTS["sim_port"],
        receiver_port: DOC_PORTS["receiver_port"],
    }
    failures = []
    for number, block in enumerate(blocks):
        output_path = out_dir / f"{number}.out"
        if not output_path.exists():
            break
        output = output_path.read_text(encoding="utf-8", errors="replace")
        for real, shown in ports.items():
            output = output.replace(f"127.0.0.1:{real}", f"127.0.0.1:{shown}")
        for found in answer_mismatches(block, output):
            failures.append(f"{block.where}: {found}")
    current = (out_dir / "current").read_text().strip()
    if current != "done":
        block = blocks[int(current)]
        output_path = out_dir / f"{current}.out"
        output = output_path.read_text(errors="replace") if output_path.exists() else ""
        stderr_tail = log_path.read_text(errors="replace")[-3000:]
        state = "timed out" if returncode is None else f"exit status {returncode}"
        failures.append(
            f"{block.where}: the block failed ({state}); it was:\n{block.code}\n"
            f"its output:\n{output}\nthe session's stderr:\n{stderr_tail}"
        )
    return failures


# --- The tests --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory) -> Iterator[MakeRun]:
    """One fresh make run for both docs: one uses a station, the other tenants, each with mobiles
    of its own. The webhook examples push to a receiver on loopback, which only the
    private-network setting allows (docs/api-platform.md says so)."""
    # gm_balance (station doc) asks the simulator on a cold cache and answers 0 past this timeout
    # (default 1.5 s): generous, so that a loaded machine makes the answer slower, never other.
    settings = {"WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true", "PROVIDER_BALANCE_TIMEOUT": "15"}
    with make_run(tmp_path_factory.mktemp("docs-run"), **settings) as run:
        assert wait_for(f"{run.base}/healthz", timeout=90).status_code == 200, run.log()[-3000:]
        assert wait_for(f"http://127.0.0.1:{run.sim_port}/_sim/health", timeout=30).status_code == 200
        # The worker is up (beat's heartbeat went through it): the first send is not a startup race.
        wait_until(
            lambda: (
                requests.get(f"{run.base}/healthz", timeout=5).json()["checks"][
                    "worker_heartbeat_age_seconds"
                ]
                is not None
            ),
            timeout=60,
            message=run.log()[-3000:],
        )
        yield run
        _kill_at_once(run)


def _kill_at_once(run: MakeRun) -> None:
    """SIGKILL the run's processes, supervisord first so that it restarts none: nothing here needs
    the graceful stop (test_make_run tests it), whose worker's warm shutdown alone takes 30 s."""
    tree = descendants(run.process.pid)
    for pid in [run.process.pid, *tree]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    run.process.wait()


@pytest.mark.make_run
@pytest.mark.parametrize("doc", DOCS)
def test_every_example_of_the_doc_runs_and_answers_as_shown(doc, fresh_run, tmp_path):
    failures = run_doc(doc, fresh_run, free_port(), tmp_path)
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("doc", DOCS)
def test_every_curl_of_the_doc_is_run_and_shows_its_answer(doc):
    lines = (REPO_ROOT / doc).read_text(encoding="utf-8").splitlines()
    fence, unrun = None, []
    for number, line in enumerate(lines, 1):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None and line.strip() == "```":
            fence = None
        elif "curl " in line and fence != "sh" and (fence is not None or line.startswith("    ")):
            unrun.append(f"{doc}:{number}: {line.strip()}")
    assert unrun == [], "curl examples outside the sh blocks the test runs"
    for block in shell_blocks(doc):
        if re.search(r"^(\w+=\$\()?curl ", block.code, re.MULTILINE):
            assert block.answer is not None, f"{block.where}: a curl without the answer it gives"


def test_an_answer_matches_by_the_documented_rules():
    shown = {
        "task_id": 1,
        "sign_id": "1",
        "uuid": "6d8a0520-2e62-4766-aa8a-f99943c221be",
        "send_time": "2026-11-23 21:05:12",
        "send_date": "2026-11-23",
        "done_at": 1795441149,
        "secret_hint": "0a08",
        "msg": "sending suspended: …",
        "counts": {"delivered": 1, "failed": 1},
    }
    real = {
        "task_id": 57,
        "sign_id": "12",
        "uuid": "0b3b6c1e-9a1d-4a53-8d4e-0c1e2f3a4b5c",
        "send_time": "2026-12-05 00:01:02",
        "send_date": "2026-12-05",
        "done_at": 1796400000,
        "secret_hint": "91c3",
        "msg": "sending suspended: complaints of spam",
        "counts": {"delivered": 1, "failed": 1},
    }
    assert mismatches(shown, real) == []
    # Literal values, keys and lengths are exact; a placeholder keeps its type.
    assert mismatches(shown, {**real, "counts": {"delivered": 2, "failed": 0}}) == [
        "$.counts.delivered: 1 is shown, the answer has 2",
        "$.counts.failed: 1 is shown, the answer has 0",
    ]
    assert mismatches(shown, {**real, "task_id": "57"}) == ["$.task_id: 1 is shown, the answer has '57'"]
    assert mismatches({"a": [1]}, {"a": [1, 2]}) == ["$.a: 1 items are shown, the answer has [1, 2]"]
    assert mismatches({"a": 1}, {"a": 1, "b": 2}) == ["$: keys ['a'] are shown, the answer has ['a', 'b']"]
    assert mismatches({"code": 0}, {"code": 0.0}) == ["$.code: 0 is shown, the answer has 0.0"]
    assert mismatches({"msg": "ok…"}, {"msg": "nok"}) == ["$.msg: 'ok…' is shown, the answer has 'nok'"]
    # A block's output: a sequence of JSON values, or text line for line.
    block = Block(doc="x.md", line=1, code="", answer='{"a": 1}\n{"b": 2}', answer_lang="json")
    assert answer_mismatches(block, '{"a": 1}{"b": 2}') == []
    assert answer_mismatches(block, '{"a": 1}') == ["2 JSON values are shown, the output has 1: '{\"a\": 1}'"]
    assert answer_mismatches(Block("x.md", 1, ""), "printed\n") == ["it prints something but shows no answer"]
    text = Block("x.md", 1, "", answer="created tenant dcs", answer_lang="text")
    assert answer_mismatches(text, "created tenant dcs  \n") == []
