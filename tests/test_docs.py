"""The documentation is the public contract, so it is executed and checked against the code.

* Every ```python block of README.md and docs/*.md runs as written, in a fresh namespace, from a
  temporary folder where ``samples/`` and ``checkpoints/`` resolve (files a snippet writes land
  there). A block marked ``# docs-test: needs a running app`` gets a served app, its URL
  substituted for http://127.0.0.1:7860/.
* Every command in a ```bash block and every command and flag of docs/cli.md exists in its real
  ``--help`` (one process per command); every parser the code declares is documented.
* Every ``exercise_rec.*`` name in backticks resolves; the error and model tables are complete;
  every endpoint of docs/app.md has the documented inputs and outputs in the served app; the JSON
  records and checkpoint keys of docs/formats.md are what the code writes; links stay inside the
  repository and resolve.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import torch

import exercise_rec
from exercise_rec import ExerciseRecError
from exercise_rec.app import AppConfig
from exercise_rec.models import get_entry, list_models

from .app.server import connect, served

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
# Pages whose links and shell commands are checked too (their Python blocks are only in PAGES).
LINKED_PAGES = [*PAGES, REPO / "checkpoints" / "README.md", REPO / "samples" / "README.md"]
NEEDS_APP = "# docs-test: needs a running app"
DEFAULT_URL = "http://127.0.0.1:7860/"
APP_COMMAND = "app.py"
NEWLINE = "\n"


def _fenced(path: Path, language: str) -> list[tuple[str, str]]:
    """``(path:line, code)`` of every ```language block of ``path``."""
    text = path.read_text()
    blocks = re.finditer(rf"^```{language}\n(.*?)^```", text, re.S | re.M)
    return [(f"{path.relative_to(REPO)}:{text.count(NEWLINE, 0, m.start()) + 1}", m.group(1)) for m in blocks]


def _section(text: str, title: str) -> str:
    """The body of the markdown section whose heading contains ``title``, up to the next heading
    of the same or a higher level (fenced code left out: its comments look like headings)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    match = re.search(rf"^(#+) [^\n]*{re.escape(title)}[^\n]*\n", text, re.M)
    assert match, f"no section {title!r}"
    end = re.search(rf"^#{{1,{len(match.group(1))}}} ", text[match.end() :], re.M)
    return text[match.end() : match.end() + end.start() if end else None]


def _rows(text: str) -> list[list[str]]:
    """The cells of every table body row in ``text``: header rows (those above a separator) and
    separators left out; ``\\|`` inside a cell is not a cell border."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    separator = [bool(re.fullmatch(r"\|[-:| ]+\|", line)) for line in lines]
    return [
        [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        for k, line in enumerate(lines)
        if not separator[k] and not (k + 1 < len(lines) and separator[k + 1])
    ]


def _code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


# ----------------------------------------------------------------------- Python blocks

PYTHON_BLOCKS = [block for page in PAGES for block in _fenced(page, "python")]


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with served(AppConfig(device="cpu")) as url:
        yield url


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder where the repository's relative paths in the docs resolve."""
    for name in ("samples", "checkpoints"):
        (tmp_path / name).symlink_to(REPO / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("where", "code"), PYTHON_BLOCKS, ids=[where for where, _ in PYTHON_BLOCKS])
def test_python_block_runs_as_written(where: str, code: str, workdir: Path, request: pytest.FixtureRequest) -> None:
    if NEEDS_APP in code:
        assert DEFAULT_URL in code, f"{where}: a block that needs the app must use {DEFAULT_URL}"
        code = code.replace(DEFAULT_URL, request.getfixturevalue("app_url"))
    exec(compile(code, where, "exec"), {"__name__": "__docs__"})


# ----------------------------------------------------------------------- commands


def _commands(code: str) -> Iterator[tuple[str, list[str]]]:
    """``(command, flags)`` for every ``-m exercise_rec.X`` or ``app.py`` command line of a shell block."""
    for line in code.replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0]
        if match := re.search(r"-m (exercise_rec(?:\.\w+)+)|python (app\.py)", line):
            yield match.group(1) or match.group(2), re.findall(r"(?<![\w-])--?[a-z][\w-]*", line[match.end() :])


SHELL_COMMANDS = [
    (where, command, flags)
    for page in LINKED_PAGES
    for where, code in _fenced(page, "bash")
    for command, flags in _commands(code)
]
CLI_TEXT = (DOCS / "cli.md").read_text()
CLI_SECTIONS = {
    match.group(1) or match.group(2): _section(CLI_TEXT, match.group(0).lstrip("# ").strip())
    for match in re.finditer(r"^## `(?:python -m (exercise_rec[\w.]*)|python (app\.py))`$", CLI_TEXT, re.M)
}
COMMANDS = sorted({command for _, command, _ in SHELL_COMMANDS} | set(CLI_SECTIONS))


@pytest.fixture(scope="module")
def helps() -> dict[str, subprocess.CompletedProcess[str]]:
    """Each command's real ``--help``, one process per command, two at a time."""

    def run(command: str) -> subprocess.CompletedProcess[str]:
        args = [str(REPO / APP_COMMAND)] if command == APP_COMMAND else ["-m", command]
        return subprocess.run([sys.executable, *args, "--help"], capture_output=True, text=True, timeout=120, cwd=REPO)

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(COMMANDS, pool.map(run, COMMANDS)))


def _help_flags(done: subprocess.CompletedProcess[str]) -> set[str]:
    return set(re.findall(r"(?<![\w-])--?[a-z][\w-]*", done.stdout))


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_named_in_the_docs_has_a_working_help(command: str, helps: dict) -> None:
    done = helps[command]
    assert done.returncode == 0 and "usage:" in done.stdout and done.stderr == "", done.stderr
    assert {"-v", "--verbose"} <= _help_flags(done)  # the shared shell's flag, on every command


def test_shell_examples_use_only_existing_flags(helps: dict) -> None:
    unknown = [(where, command, flag) for where, command, flags in SHELL_COMMANDS for flag in flags
               if flag not in _help_flags(helps[command])]  # fmt: skip
    assert not unknown, f"flags the commands do not have: {unknown}"


@pytest.mark.parametrize("command", sorted(CLI_SECTIONS))
def test_cli_doc_flags_are_the_commands_flags(command: str, helps: dict) -> None:
    documented = {flag for row in _rows(CLI_SECTIONS[command]) for flag in re.findall(r"--[a-z][\w-]*", " ".join(row))}
    assert documented, f"docs/cli.md lists no flags for {command}"
    assert documented <= _help_flags(helps[command]), documented - _help_flags(helps[command])


def test_every_command_of_the_code_is_in_cli_doc() -> None:
    sources = [*REPO.joinpath("exercise_rec").rglob("*.py"), REPO / APP_COMMAND]
    progs = {m for path in sources for m in re.findall(r'prog="python (?:-m )?([\w.]+)"', path.read_text())}
    assert progs and progs <= set(CLI_SECTIONS), f"undocumented commands: {progs - set(CLI_SECTIONS)}"


# ----------------------------------------------------------------------- Python names


def resolve(dotted: str) -> object:
    """The object ``dotted`` names: the longest importable module prefix, then attributes (a
    dataclass field without a class-level default counts as an attribute)."""
    parts = dotted.split(".")
    obj: Any = importlib.import_module(parts[0])
    cut = 1
    while cut < len(parts):
        module_name = ".".join(parts[: cut + 1])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:  # a module that exists but fails to import is a failure of its own
                raise
            break
        cut += 1
    for name in parts[cut:]:
        if hasattr(obj, name):
            obj = getattr(obj, name)
        elif dataclasses.is_dataclass(obj) and name in {f.name for f in dataclasses.fields(obj)}:
            obj = dataclasses.MISSING
        else:
            raise AssertionError(f"{dotted}: {name!r} not found")
    return obj


DOCUMENTED_NAMES = sorted(
    {span for page in PAGES for span in _code_spans(page.read_text()) if re.fullmatch(r"exercise_rec(\.\w+)+", span)}
)


def test_every_documented_name_exists() -> None:
    assert len(DOCUMENTED_NAMES) > 50
    missing = []
    for name in DOCUMENTED_NAMES:
        try:
            resolve(name)
        except AssertionError as err:
            missing.append(str(err))
    assert not missing, missing


def test_the_error_table_is_the_whole_family() -> None:
    """Every documented error is an ExerciseRecError, and every ExerciseRecError of the package is documented."""
    for module in pkgutil.walk_packages(exercise_rec.__path__, "exercise_rec."):
        if not module.name.endswith(".__main__"):  # importing one runs its command
            importlib.import_module(module.name)
    table = _rows(_section((DOCS / "api.md").read_text(), "Errors"))
    documented = {resolve(_code_spans(row[0])[0]) for row in table}
    assert all(isinstance(cls, type) and issubclass(cls, ExerciseRecError) for cls in documented)

    def family(cls: type) -> set[type]:
        return {cls}.union(*(family(sub) for sub in cls.__subclasses__()))

    ours = {cls for cls in family(ExerciseRecError) if cls.__module__.startswith("exercise_rec.")}
    assert ours <= documented, f"undocumented: {sorted(c.__qualname__ for c in ours - documented)}"


def test_the_model_table_lists_every_registered_model() -> None:
    rows = _rows(_section((DOCS / "api.md").read_text(), "Registered models"))
    kinds = {_code_spans(row[0])[0]: row[1] for row in rows}
    assert sorted(kinds) == list_models()
    assert {name: get_entry(name).input_kind for name in kinds} == kinds


# ----------------------------------------------------------------------- the app's API


def test_app_doc_endpoints_are_the_served_api(app_url: str) -> None:
    api = connect(app_url).view_api(return_format="dict", print_info=False)["named_endpoints"]
    rows = _rows(_section((DOCS / "app.md").read_text(), "Endpoints"))
    documented = {_code_spans(row[0])[0]: row for row in rows}
    assert set(documented) == set(api)
    for endpoint, (_, inputs, outputs) in documented.items():
        names = [p["parameter_name"] for p in api[endpoint]["parameters"]]
        assert re.findall(r"`(\w+)`", inputs) == names, endpoint
        assert re.findall(r"\((\d+)\)", outputs) == [str(k + 1) for k in range(len(api[endpoint]["returns"]))], endpoint


# ----------------------------------------------------------------------- formats


def _predict(args: tuple[str, ...]) -> str:
    """stdout of a real ``python -m exercise_rec.predict`` run that must succeed."""
    command = [sys.executable, "-m", "exercise_rec.predict", "--device", "cpu", "--top-k", "2", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_predict_says_when_one_label_covers_a_long_recording() -> None:
    """A 24 s recording with several exercises gets a note pointing to --timeline (text and JSON); a
    3 s clip does not, and its record has exactly the documented always-present fields."""
    runs = [("samples/long_recording.mp4",), ("samples/long_recording.mp4", "--json"),
            ("samples/squat.mp4",), ("samples/squat.mp4", "--json")]  # fmt: skip
    with ThreadPoolExecutor(2) as pool:
        long_text, long_json, short_text, short_json = pool.map(_predict, runs)
    fields = {_code_spans(row[0])[0]: row[1] for row in _rows(_section((DOCS / "formats.md").read_text(), "Predict"))}
    always = {name for name, present in fields.items() if present == "always"}
    assert "note" in fields and "timeline" in fields

    assert set(json.loads(short_json)) == always and "note:" not in short_text
    record = json.loads(long_json)
    assert set(record) == always | {"note"} and "--timeline 1" in record["note"] and "24 s" in record["note"]
    last = long_text.strip().splitlines()[-1]
    assert last.startswith("note: ") and "--timeline 1" in last


def test_cam_json_record_has_the_documented_fields(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from exercise_rec import cam

    assert cam.main(["samples/squat.mp4", "--json", "--device", "cpu"]) == 0
    record = json.loads(capsys.readouterr().out)
    documented = {_code_spans(row[0])[0] for row in _rows(_section((DOCS / "formats.md").read_text(), "CAM records"))}
    assert set(record) == documented


@pytest.mark.parametrize("path", sorted((REPO / "checkpoints").glob("*.pt")), ids=lambda p: p.name)
def test_checkpoint_keys_are_the_documented_ones(path: Path) -> None:
    rows = _rows(_section((DOCS / "formats.md").read_text(), "Checkpoints"))
    documented = {_code_spans(row[0])[0] for row in rows if _code_spans(row[0])}
    assert set(torch.load(path, weights_only=True)) == documented


# ----------------------------------------------------------------------- links


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", LINKED_PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_links_resolve_inside_the_repository(page: Path) -> None:
    """A clone has only this repository: no link or path in code may lead out of it."""
    text = page.read_text()
    outside = [span for span in _code_spans(text)
               if span.startswith("../") and not (page.parent / span.split()[0]).resolve().is_relative_to(REPO)]  # fmt: skip
    assert not outside, f"{page.name}: paths outside the repository: {outside}"
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s) and mailto links
        file, _, anchor = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        assert resolved.is_relative_to(REPO) and resolved.exists(), f"{page.name}: {target} is not in the repository"
        if anchor:
            headings = re.findall(r"^#+ (.*)$", resolved.read_text(), re.M)
            assert anchor in {_slug(h) for h in headings}, f"{page.name}: no heading for #{anchor} in {file}"
