"""The layers' import rules (ARCHITECTURE.md, "Layout"), read from the source with `ast`:

- `domain/` imports nothing else of replay;
- `services/` never imports the faces (`web/`, `cli`, `live/`), nor aiohttp;
- `web/` reaches `replay.jobs` only through the queue port (`jobs.queue`), except the
  app factory that wires the workers (`web/app.py`, `web/keys.py`);
- `cli.py` and `jobs/tasks.py` reach the business rules through `services/`: they import
  no rule module of `domain/` (publication, cut planning, captions, boundaries) and no
  caption or user repository directly.

`KNOWN` lists the imports that still break a rule, each with where it should go; the test
fails when one is added, and also when one listed is gone (so the list only shrinks).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "replay"

#: What `web/` may import of `replay.jobs`: the queue port.
WEB_MAY_USE_OF_JOBS = {"replay.jobs.queue"}
#: The composition root: it builds the workers, so it wires the jobs' adapters.
COMPOSITION = {"replay.web.app", "replay.web.keys"}
#: Rule modules that the CLI and the tasks reach only through services; their data shapes
#: (`SHAPES`) may be named.
RULES = {"replay.domain.publication", "replay.domain.cutplan", "replay.domain.boundaries",
         "replay.domain.captions", "replay.store.captions"}
SHAPES = {"replay.domain.cutplan.Cut", "replay.domain.publication.Release",
          "replay.domain.publication.PublicationRule", "replay.domain.captions.CaptionStatus"}

#: (importer, imported) pairs that still break a rule; to be moved behind `services/`.
KNOWN: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[str, str]]:
    """(the module imported from, the full name imported) for every import."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield from ((node.module, f"{node.module}.{alias.name}") for alias in node.names)


def _scan() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Each module's replay imports: the modules it uses, and the names it imports."""
    modules, names = {}, {}
    for path in sorted(PACKAGE.rglob("*.py")):
        found = [pair for pair in _imports(path) if pair[0].split(".")[0] == "replay"]
        modules[_module_name(path)] = {module for module, _ in found} | {
            name for _, name in found}
        names[_module_name(path)] = {name for _, name in found}
    return modules, names


MODULES, NAMES = _scan()


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _is_module(name: str) -> bool:
    """`name` is a module of replay (not a name imported from one)."""
    return name in MODULES


def _breaks() -> set[tuple[str, str]]:
    broken = set()
    for importer, imported in MODULES.items():
        for name in filter(_is_module, imported):
            if _within(importer, "replay.domain") and not _within(name, "replay.domain"):
                broken.add((importer, name))
            if _within(importer, "replay.services") and any(
                    _within(name, face) for face in ("replay.web", "replay.cli", "replay.live")):
                broken.add((importer, name))
            if _within(importer, "replay.web") and importer not in COMPOSITION and \
                    _within(name, "replay.jobs") and name not in WEB_MAY_USE_OF_JOBS:
                broken.add((importer, name))
        if importer in {"replay.cli", "replay.jobs.tasks"}:
            broken |= {(importer, name) for name in NAMES[importer] if _is_rule(name)}
    return broken


def _is_rule(name: str) -> bool:
    """`name` is a rule module, or a rule (not a shape) imported from one."""
    return name in RULES or (name.rpartition(".")[0] in RULES and name not in SHAPES)


def test_the_scan_sees_the_package() -> None:
    assert "replay.services.admission" in MODULES
    assert "replay.domain.model" in MODULES
    assert "replay.jobs.queue" in MODULES["replay.web.ingest"]


def test_services_know_no_web_framework() -> None:
    """Services answer with `services.errors`, never HTTP: no aiohttp below the faces."""
    for path in sorted((PACKAGE / "services").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        used = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
        used |= {node.module or "" for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
        assert not {name for name in used if name.split(".")[0] == "aiohttp"}, path


def test_no_new_import_breaks_a_layer_rule() -> None:
    new = sorted(_breaks() - KNOWN)
    assert not new, "imports that break a layer rule (go through services/): " + ", ".join(
        f"{importer} -> {imported}" for importer, imported in new)


def test_the_known_breaks_only_shrink() -> None:
    fixed = sorted(KNOWN - _breaks())
    assert not fixed, "no longer broken, remove from KNOWN: " + ", ".join(
        f"{importer} -> {imported}" for importer, imported in fixed)
