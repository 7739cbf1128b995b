"""The Chinese graded exercises (``book-zh/exercises/<a>/<a>.ipynb``), made from the English
release and a translation file that a person edits.

``make exercises`` generates the English release (``exercises/<a>/``) from ``solutions/<a>/``
with nbgrader, then runs this module, which writes ``book-zh/exercises/<a>/``: the English
notebook with the text of its cells replaced by ``book-zh/exercise-translations/<a>.yml``,
and every other released file copied. Never edit ``book-zh/exercises/`` by hand. Alone::

    .venv/bin/python -m dlcourse.exercises_zh              # every assignment in exercises/
    .venv/bin/python -m dlcourse.exercises_zh perceptron   # one
    .venv/bin/python -m dlcourse.exercises_zh --check      # compare with the files, write nothing

A translation file is a YAML list with one entry per translated cell of the English release::

    - grade_id: mistakes_task    # the cell's nbgrader grade_id; a cell without one: id: <cell id>
      en_hash: 0123456789ab      # english_hash() of the English source that zh translates
      zh: |-
        ## 1. 统计错误（2 分）
        ...

``common.yml`` translates cells whose whole text recurs in the releases (the install cell,
"# When graded, hidden tests here check ..."): entries with ``en_hash`` and ``zh`` only, used
for every cell whose English text has that hash and no entry of its own.

The rules, checked here; the generator stops, naming the file, the cell and what to do, when

* a Markdown cell has no entry (the students' answer cells excepted: they stay as released,
  ``YOUR ANSWER HERE``, by which nbgrader knows an unanswered cell), or its text no Chinese;
* a code cell with a comment or a docstring has no entry (other code cells are copied);
* an entry's ``en_hash`` is not the hash of the English cell now: the English changed since
  it was translated (``git log -p exercises/<a>/<a>.ipynb`` shows how);
* a translated code cell differs from the English in more than comments and string literals
  (a changed string must contain Chinese: values the code compares stay English);
* an entry names no cell of the notebook, or a cell twice, or an answer cell; an entry of
  ``common.yml`` fits no cell of any release (checked when every assignment is built).

The Chinese notebook keeps the English cells' ids, order, types and metadata. Where a cell's
text changed, so does its nbgrader checksum (``nbgrader.utils.compute_checksum``, as
``generate_assignment`` computes it): nbgrader's validator (the Validate button) reports a
locked cell whose checksum does not match its text as changed. Everything else (grade_id,
points, the grade/solution/locked flags) is the English release's. A Chinese notebook is
submitted and graded as the English assignment, with its gradebook: autograding puts the
English text back into the locked cells (they are the instructor's, the hidden tests
included), so the autograded copy and the feedback show the English task text.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import io
import re
import sys
import tokenize
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RELEASE = "exercises"
OUT = "book-zh/exercises"
TRANSLATIONS = "book-zh/exercise-translations"
COMMON = "common"  # common.yml: cells whose whole text recurs, by the hash of that text
MARKER = "# YOUR CODE HERE"  # nbgrader's, stays English (like raise NotImplementedError())

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

__all__ = ["TranslationError", "build", "code_differences", "english_hash", "files", "main",
           "translate", "wants_translation"]


class TranslationError(Exception):
    """The translation does not fit the English release; ``problems`` says where and why."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def english_hash(source: str) -> str:
    """What a translation entry records of the English text it translates."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


def has_chinese(text: str) -> bool:
    return bool(_HAN.search(text))


# ------------------------------------------------------------------ cells
def _nbgrader(cell: Any) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def cell_key(cell: Any) -> tuple[str, str]:
    """How an entry names a cell: its grade_id, else its cell id."""
    gid = _nbgrader(cell).get("grade_id")
    return ("grade_id", gid) if gid else ("id", cell.get("id", ""))


def _label(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]!r}"


def is_answer(cell: Any) -> bool:
    """A Markdown cell the student writes in (nbgrader solution cell): kept as released."""
    return cell.cell_type == "markdown" and bool(_nbgrader(cell).get("solution"))


def _python(source: str) -> str:
    """A cell's code as Python (IPython's magics turned into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def wants_translation(cell: Any) -> bool:
    """Does the cell hold text for a reader: Markdown (not an answer cell), or a code cell
    with a comment or a docstring."""
    if cell.cell_type == "markdown":
        return not is_answer(cell)
    if cell.cell_type != "code":
        return False
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(cell.source + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return True
    if any(tok.type == tokenize.COMMENT and tok.string.strip() != MARKER for tok in tokens):
        return True
    try:
        tree = ast.parse(_python(cell.source))
    except SyntaxError:
        return True
    nodes = [tree, *(n for n in ast.walk(tree)
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))]
    return any(ast.get_docstring(n, clean=False) for n in nodes)


# ------------------------------------------------------------------ code: only text changes
class _Blank(ast.NodeTransformer):
    """String literals emptied (an f-string keeps its expressions, in any order)."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant(value="") if isinstance(node.value, str) else node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        parts = [self.visit(v) for v in node.values if isinstance(v, ast.FormattedValue)]
        return ast.JoinedStr(values=sorted(parts, key=ast.dump))

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        node.value = self.visit(node.value)  # the format spec (":.3f") stays as it is
        return node


def _texts(node: ast.AST) -> list[str]:
    """Every string literal of the code, in order (an f-string as its literal parts)."""
    if isinstance(node, ast.JoinedStr):
        own = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        inner = [t for v in node.values if isinstance(v, ast.FormattedValue) for t in _texts(v.value)]
        return [own, *inner]
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) else []
    return [t for child in ast.iter_child_nodes(node) for t in _texts(child)]


def code_differences(english: str, chinese: str) -> list[str]:
    """How a translated code cell differs from the English beyond comments and the text of
    its string literals (empty: it does not); a changed string must contain Chinese."""
    try:
        en, zh = ast.parse(_python(english)), ast.parse(_python(chinese))
    except SyntaxError as error:
        return [f"not valid Python: {error}"]
    if ast.dump(_Blank().visit(copy.deepcopy(en))) != ast.dump(_Blank().visit(copy.deepcopy(zh))):
        return ["its code differs from the English (only comments and string literals may change)"]
    return [f"the string {a!r} became {b!r}, which has no Chinese (strings the code uses stay English)"
            for a, b in zip(_texts(en), _texts(zh)) if a != b and not has_chinese(b)]


# ------------------------------------------------------------------ translation files
def load(path: Path, common: bool = False) -> dict:
    """The entries of one translation file by the cell they name (``common``: by en_hash);
    none when the file is missing."""
    import yaml

    if not path.is_file():
        return {}
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    fields = "en_hash and zh" if common else "grade_id (or id), en_hash and zh"
    if not isinstance(entries, list):
        raise TranslationError([f"{path}: expected a YAML list of entries, each with {fields}"])
    out, problems = {}, []
    for n, entry in enumerate(entries, start=1):
        names = [] if common else [k for k in ("grade_id", "id") if isinstance(entry, dict) and k in entry]
        if (not isinstance(entry, dict) or len(names) != (0 if common else 1)
                or set(entry) != {*names, "en_hash", "zh"} or not all(isinstance(v, str) for v in entry.values())):
            problems.append(f"{path}: entry {n} needs exactly {fields}, all strings: {entry!r:.200}")
            continue
        key = entry["en_hash"] if common else (names[0], entry[names[0]])
        if key in out:
            problems.append(f"{path}: {key if common else _label(key)} has two entries")
        out[key] = entry
    if problems:
        raise TranslationError(problems)
    return out


def translate(nb: Any, entries: dict[tuple[str, str], dict], where: str,
              common: dict[str, dict] | None = None, used_common: set[str] | None = None) -> Any:
    """The Chinese notebook: ``nb`` (the English release, left as it is) with the texts of
    ``entries`` (one assignment's file, named ``where``) and of ``common`` (common.yml, by
    en_hash, for cells without an entry); the hashes of the common entries used are added
    to ``used_common``."""
    from nbgrader.utils import compute_checksum

    zh = copy.deepcopy(nb)
    problems, used = [], set()
    common = common or {}
    for cell in zh.cells:
        key, now = cell_key(cell), english_hash(cell.source)
        entry, label = entries.get(key), f"{where}: {_label(key)}"
        if entry is None and now in common and not is_answer(cell):
            entry, label = common[now], f"{where}: {_label(key)} (by {COMMON}.yml)"
            if used_common is not None:
                used_common.add(now)
        elif entry is not None:
            used.add(key)
        if entry is None:
            if wants_translation(cell):
                problems.append(
                    f"{label} ({cell.cell_type}) has no translation: add an entry with "
                    f"{key[0]}: {key[1]}, en_hash: {now} and its Chinese text (zh)")
            continue
        if is_answer(cell):
            problems.append(f"{label} is a student's answer cell, which stays as released: remove the entry")
            continue
        if entry["en_hash"] != now:
            problems.append(
                f"{label}: the English cell changed since it was translated (en_hash {entry['en_hash']}, "
                f"now {now}): translate the change (git log -p {RELEASE}/{Path(where).stem}/), then set en_hash: {now}")
            continue
        text = entry["zh"]
        if cell.cell_type == "markdown" and not has_chinese(text):
            problems.append(f"{label}: the translation has no Chinese")
            continue
        if cell.cell_type == "code":
            differ = code_differences(cell.source, text)
            if differ:
                problems += [f"{label}: {p}" for p in differ]
                continue
        if text != cell.source:
            cell.source = text
            if "checksum" in _nbgrader(cell):
                cell.metadata.nbgrader.checksum = compute_checksum(cell)
    problems += [f"{where}: {_label(key)} is no cell of the notebook: remove the entry"
                 for key in entries if key not in used]
    if problems:
        raise TranslationError(problems)
    return zh


# ------------------------------------------------------------------ files
def files(assignment: str, root: Path | None = None, used_common: set[str] | None = None) -> dict[str, bytes]:
    """Every file of ``book-zh/exercises/<assignment>/`` (its path in that folder → content)."""
    import nbformat

    root = root or ROOT
    release = root / RELEASE / assignment
    notebook = release / f"{assignment}.ipynb"
    if not notebook.is_file():
        raise TranslationError([f"{RELEASE}/{assignment}/{notebook.name} does not exist: "
                                "run `make exercises` (nbgrader generates it)"])
    path = root / TRANSLATIONS / f"{assignment}.yml"
    where = f"{TRANSLATIONS}/{path.name}"
    if not path.is_file():
        raise TranslationError([f"{where}: no translation file for {assignment} "
                                "(one entry per cell, see dlcourse/exercises_zh.py)"])
    nb = nbformat.read(notebook, as_version=4)
    common = load(root / TRANSLATIONS / f"{COMMON}.yml", common=True)
    zh = translate(nb, load(path), where, common, used_common)
    out = {notebook.name: (nbformat.writes(zh).rstrip("\n") + "\n").encode("utf-8")}
    for p in sorted(release.rglob("*")):
        parts = p.relative_to(release).parts
        if p.is_file() and p != notebook and not any(s.startswith(".") or s == "__pycache__" for s in parts):
            out["/".join(parts)] = p.read_bytes()
    return out


def assignments(root: Path | None = None) -> list[str]:
    """Every released assignment (a folder of exercises/ holding <name>/<name>.ipynb)."""
    root = root or ROOT
    return sorted(p.name for p in (root / RELEASE).iterdir() if (p / f"{p.name}.ipynb").is_file())


def build(names: list[str] | None = None, root: Path | None = None, check: bool = False) -> list[str]:
    """Write (with ``check``: only compare) ``book-zh/exercises/<a>/`` for every name (none:
    every released assignment); returns the paths written or removed (with ``check``: those
    that would be). Raises TranslationError, listing every problem of every assignment,
    before it writes anything."""
    root = root or ROOT
    everything = set(names or []) >= set(assignments(root))
    names = names or assignments(root)
    wanted, problems, used_common = {}, [], set()
    for name in names:
        try:
            wanted[name] = files(name, root, used_common)
        except TranslationError as error:
            problems += error.problems
    if everything and not problems:
        unused = set(load(root / TRANSLATIONS / f"{COMMON}.yml", common=True)) - used_common
        problems += [f"{TRANSLATIONS}/{COMMON}.yml: the entry with en_hash {h} fits no cell of any "
                     "release (its English changed or went): update or remove it" for h in sorted(unused)]
    if problems:
        raise TranslationError(problems)
    changed = []
    for name, content in wanted.items():
        folder = root / OUT / name
        for relpath, data in content.items():
            target = folder / relpath
            if not (target.is_file() and target.read_bytes() == data):
                changed.append(target.relative_to(root).as_posix())
                if not check:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
        if folder.is_dir():
            for extra in sorted(p for p in folder.rglob("*") if p.is_file()):
                if extra.relative_to(folder).as_posix() not in content:
                    changed.append(extra.relative_to(root).as_posix())
                    if not check:
                        extra.unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    names = [a for a in args if not a.startswith("--")]
    try:
        changed = build(names or None, check=check)
    except TranslationError as error:
        print(f"The Chinese exercises ({OUT}/) cannot be generated:", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    if check and changed:
        print(f"out of date (run `make exercises`): {', '.join(changed)}", file=sys.stderr)
        return 1
    for path in changed:
        print(f"wrote {path}" if (ROOT / path).exists() else f"removed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
