"""How long the book takes to build: cold (every chapter executed) and warm (nothing changed).

    .venv/bin/python bench/build.py                              # the whole book (many minutes)
    .venv/bin/python bench/build.py --pages book/perceptron      # the root page, these chapters, references
    .venv/bin/python bench/build.py --quick                      # smoke test: the root page only

Both builds run ``jupyter-book build`` on the repository with its own ``_config.yml`` and
``_toc.yml`` and the Makefile's flags (``-W -n --keep-going``), into a fresh temporary
``--path-output`` folder, so the jupyter-cache starts empty and nothing in ``_build/`` is
touched or reused:

1. **cold**: empty cache, so every chapter is executed;
2. **warm**: the same command again with nothing changed: Sphinx re-reads no page and
   jupyter-cache executes no notebook.

Targets: cold at most 20 minutes, warm at most 60 seconds (for the whole book; a
``--pages`` build shows the times but no verdict). A partial book is built without
``-W``: its root page links to chapters left out, which Sphinx warns about.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import benchenv  # noqa: E402

TARGETS = {"cold": 20 * 60.0, "warm": 60.0}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def partial_toc(pages: list[str]) -> str:
    """A table of contents with the root page, ``pages`` and the references (as scripts/build-pages)."""
    names = [p.removesuffix(".md") for p in pages]
    chapters = [n for n in dict.fromkeys([*names, "book/references"]) if n != "book/intro"]
    for name in chapters:
        if not (ROOT / f"{name}.md").is_file():
            raise FileNotFoundError(f"--pages: {ROOT / name}.md does not exist (give paths like book/perceptron)")
    return "format: jb-book\nroot: book/intro\nchapters:\n" + "".join(f"  - file: {n}\n" for n in chapters)


def parse_log(text: str) -> dict[str, Any]:
    """What a build log says: notebooks executed (and how long each took), taken from the
    cache, pages Sphinx (re-)read, warnings."""
    text = ANSI.sub("", text)
    executed = {Path(m.group(1)).relative_to(ROOT).as_posix() if Path(m.group(1)).is_absolute()
                and Path(m.group(1)).is_relative_to(ROOT) else m.group(1): float(m.group(2))
                for m in re.finditer(r"^(\S+?):?\s*Executed notebook in ([\d.]+) seconds", text, re.M)}
    updating = re.search(r"updating environment: (?:\[[^\]]*\] )?(\d+) added, (\d+) changed", text)
    return {
        "executed": executed,
        "from_cache": len(re.findall(r"Using cached notebook", text)),
        "pages_read": sum(map(int, updating.groups())) if updating else 0,
        "warnings": len(re.findall(r": WARNING: ", text)),
        "succeeded": "build succeeded" in text,
    }


def build(cmd: list[str], log: Path, env: dict[str, str], timeout: float | None) -> dict[str, Any]:
    """Run one build, its output into ``log``; wall time, exit status, what the log says, load."""
    load_before = benchenv.loadavg()[0]
    start = time.perf_counter()
    with open(log, "w") as f:
        try:
            rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "exit_status": rc, **parse_log(log.read_text(errors="replace")),
            "load_before": load_before, "load_after": benchenv.loadavg()[0], "log": str(log)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", nargs="+", default=None, metavar="PAGE",
                        help="build only the root page, these chapters (e.g. book/perceptron) and the references")
    parser.add_argument("--quick", action="store_true", help="smoke test: the root page (and references) only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary build folder (its path is printed)")
    parser.add_argument("--timeout", type=float, default=None, help="give up on a build after this many seconds")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default: bench/results, --quick: bench/scratch)")
    args = parser.parse_args(argv)
    pages = [] if args.quick else args.pages
    partial = pages is not None
    out = args.out or benchenv.default_out(args.quick)
    started, load_start = benchenv.now(), benchenv.loadavg()
    print(f"load average at start: {load_start}", flush=True)
    warning = benchenv.busy_warning(1)
    if warning:
        print(warning, flush=True)

    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    if not jupyter_book.exists():
        jupyter_book = Path(shutil.which("jupyter-book") or "jupyter-book")
    tmp = Path(tempfile.mkdtemp(prefix="dlcourse-book-"))
    cmd = [str(jupyter_book), "build", str(ROOT), "--path-output", str(tmp), "-n", "--keep-going"]
    if partial:
        toc = tmp / "_toc.yml"
        toc.write_text(partial_toc(pages))
        cmd += ["--toc", str(toc)]
    else:
        cmd += ["-W"]
    env = {**os.environ, "DLCOURSE_DATA": os.environ.get("DLCOURSE_DATA", str(ROOT / "data")),
           "PYTHONUNBUFFERED": "1"}
    builds: dict[str, dict[str, Any]] = {}
    try:
        for name in ("cold", "warm"):
            print(f"{name} build: {' '.join(cmd)}", flush=True)
            builds[name] = build(cmd, tmp / f"{name}.log", env, args.timeout)
            b = builds[name]
            print(f"  {b['seconds']:.1f} s, exit status {b['exit_status']}, {len(b['executed'])} notebook(s) executed, "
                  f"{b['from_cache']} from the cache, {b['warnings']} warning(s)", flush=True)
            if b["exit_status"] not in (0, 1) or (b["exit_status"] == 1 and not partial):
                print(f"  the build failed: see {b['log']}" + ("" if args.keep else " (kept)"), flush=True)
                args.keep = True
    finally:
        kept_logs = out / "build-logs" if args.quick else None
        if not args.keep:
            if kept_logs:  # a smoke run keeps its logs beside its results
                kept_logs.mkdir(parents=True, exist_ok=True)
                for log in tmp.glob("*.log"):
                    shutil.copy(log, kept_logs / log.name)
            shutil.rmtree(tmp, ignore_errors=True)

    scope = "whole book (_toc.yml)" if not partial else "root page + " + "".join(f"{p} + " for p in pages) + "references"
    header = ["build", "pages", "notebooks executed", "taken from cache", "pages re-read", "warnings",
              "exit status", "wall time", "target", "pass", "load 1-min before→after"]
    rows = []
    for name, b in builds.items():
        target = TARGETS[name]
        ok = b["exit_status"] == 0 and b["seconds"] <= target
        b["pass"] = None if partial else ok
        verdict = "n/a (partial build)" if partial else ("PASS" if ok else "FAIL")
        wall = f"{b['seconds'] / 60:.1f} min" if b["seconds"] >= 120 else f"{b['seconds']:.1f} s"
        rows.append([f"{name} ({'empty cache' if name == 'cold' else 'nothing changed'})", scope,
                     len(b["executed"]), b["from_cache"], b["pages_read"], b["warnings"], b["exit_status"], wall,
                     f"≤ {target / 60:g} min" if target >= 120 else f"≤ {target:g} s", verdict,
                     f"{b['load_before']:.1f}→{b['load_after']:.1f}"])
    table = benchenv.markdown_table(header, rows, "llrrrrrrlll")
    cold = builds.get("cold", {}).get("executed", {})
    notes = [
        "Command (both builds): `" + " ".join(cmd).replace(str(ROOT), ".").replace(str(tmp), "$TMP") + "`, "
        f"DLCOURSE_DATA={env['DLCOURSE_DATA']}; $TMP is a new empty folder, so the jupyter-cache "
        "($TMP/_build/.jupyter_cache) starts empty.",
        "Execution time of each notebook in the cold build (from the build log): "
        + (", ".join(f"{k} {v:.1f} s" for k, v in sorted(cold.items(), key=lambda kv: -kv[1])) or "none"),
    ]
    if partial:
        notes.append("Partial build (--pages/--quick): built without -W, since the root page links to chapters "
                     "left out; the targets are for the whole book.")
    info = benchenv.context("build.py", argv, started, load_start, {"quick": args.quick, "pages": pages})
    md, _ = benchenv.write(out, "build", "Book build time: cold and warm", table, info,
                           {"builds": builds, "targets_seconds": TARGETS, "partial": partial,
                            "command": cmd}, notes)
    print(table)
    print(f"\nload average: start {load_start}, end {info['load_average_end']}; wrote {md}"
          + (f"; build folder kept: {tmp}" if args.keep else ""))
    return builds


if __name__ == "__main__":
    main()
