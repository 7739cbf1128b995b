"""What every benchmark of ``bench/`` records beside its table, and how it writes it.

A number without its circumstances says little: each results file names the machine (CPU
model, cores), the versions (Python, torch, torchvision), the load average at the start
and at the end of the run (on a shared machine the neighbours' work shows up in every
wall-clock time), the command line and the date. ``write`` puts the table and these facts
into ``<out>/<name>.md`` (for people) and ``<out>/<name>.json`` (for scripts and tests).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SCRATCH = ROOT / "bench" / "scratch"  # git-ignored: where --quick runs write by default


def loadavg() -> list[float]:
    """The 1-, 5- and 15-minute load averages (``os.getloadavg()``), rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        found = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        if found:
            return found.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The matrix-relevant instruction-set extensions the CPU reports (AVX-512, AMX...)."""
    try:
        found = re.search(r"flags\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    except OSError:
        return []
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_int8")
    return [f for f in wanted if found and f in found.group(1).split()]


def machine() -> dict[str, Any]:
    """CPU model, cores (physical when known, logical, usable by this process), memory, OS."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    physical = None
    memory_gib = None
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
        memory_gib = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "physical_cores": physical,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "memory_gib": memory_gib,
        "os": f"{platform.system()} {platform.release()}",
    }


def versions() -> dict[str, str]:
    """Python, torch and torchvision versions, from the installed packages' metadata
    (without importing torch, which takes seconds)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("torch", "torchvision"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def command_line(script: str, argv: list[str] | None) -> str:
    """How this run was started, as a shell command (relative to the repository root)."""
    args = sys.argv[1:] if argv is None else argv
    python = Path(sys.executable)
    try:
        python_text = str(python.relative_to(ROOT))
    except ValueError:
        python_text = str(python)
    return shlex.join([python_text, f"bench/{script}", *args])


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def markdown_table(header: list[str], rows: list[list[Any]], align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table; ``align`` is one letter per column (l/r)."""
    align = align or "l" * len(header)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def context(script: str, argv: list[str] | None, started: str, load_start: list[float],
            extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The circumstances of a run: call at its end (it reads the end load average)."""
    info = {
        "script": f"bench/{script}",
        "command": command_line(script, argv),
        "started": started,
        "finished": now(),
        "load_average_start": load_start,
        "load_average_end": loadavg(),
        "machine": machine(),
        "versions": versions(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "DLCOURSE_DATA")
                if k in os.environ},
    }
    info.update(extra or {})
    return info


def context_lines(info: dict[str, Any]) -> list[str]:
    """The circumstances as Markdown bullet points."""
    m, v = info["machine"], info["versions"]
    cores = f"{m['physical_cores']} physical cores, " if m.get("physical_cores") else ""
    flags = f" ({', '.join(m['cpu_flags'])})" if m.get("cpu_flags") else ""
    memory = f", {m['memory_gib']} GiB RAM" if m.get("memory_gib") else ""
    env = ", ".join(f"{k}={val}" for k, val in info.get("env", {}).items()) or "none set"
    s, e = info["load_average_start"], info["load_average_end"]
    cpus = m["usable_cpus"]
    busy = others_busy(s, cpus)
    return [
        f"- **date**: {info['started']} → {info['finished']} (UTC)",
        f"- **command**: `{info['command']}`",
        f"- **machine**: {m['cpu']}{flags}; {cores}{m['logical_cpus']} logical CPUs "
        f"({cpus} usable){memory}; {m['os']}",
        f"- **versions**: Python {v['python']}, torch {v['torch']}, torchvision {v['torchvision']}",
        f"- **environment**: {env}",
        f"- **load average** (1/5/15 min): start {s[0]:.2f} / {s[1]:.2f} / {s[2]:.2f}, "
        f"end {e[0]:.2f} / {e[1]:.2f} / {e[2]:.2f} on {cpus} CPUs (the start is other programs' load; "
        "the end includes the benchmark's own threads)"
        + (" — **the machine was busy with other work: wall-clock times are inflated**" if busy else ""),
    ]


def write(out: Path, name: str, title: str, table: str, info: dict[str, Any],
          results: Any, notes: list[str] | None = None) -> tuple[Path, Path]:
    """Write ``<out>/<name>.md`` (title, circumstances, table, notes) and ``<name>.json``."""
    out.mkdir(parents=True, exist_ok=True)
    md = [f"# {title}", "", *context_lines(info), "", table, ""]
    if notes:
        md += ["Notes:", "", *[f"- {n}" for n in notes], ""]
    md_path, json_path = out / f"{name}.md", out / f"{name}.json"
    md_path.write_text("\n".join(md))
    json_path.write_text(json.dumps({"title": title, **info, "table": table, "notes": notes or [],
                                     "results": results}, indent=1) + "\n")
    if out.resolve() == RESULTS.resolve():  # a recorded result: the README's table follows it
        update_readme()
    return md_path, json_path


def others_busy(load_start: list[float], cpus: int) -> bool:
    """Were other programs using half the CPUs or more when the benchmark started?

    Only the start counts: during the run the load average rises with the benchmark's
    own threads (and DataLoader workers), whatever the neighbours do.
    """
    return load_start[0] >= cpus / 2


def busy_warning(threads: int) -> str | None:
    """A warning to print when other programs already keep half the CPUs or more busy."""
    load, cpus = os.getloadavg()[0], len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if not others_busy([load], cpus):
        return None
    advice = ""
    if threads > 1 and os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        advice = (" PyTorch's OpenMP threads spin while they wait and lose their cores to the other"
                  " programs: rerun with OMP_WAIT_POLICY=PASSIVE in the environment or --threads 1.")
    return f"warning: load average {load:.1f} on {cpus} CPUs: other programs are busy, timings will be inflated.{advice}"


def default_out(quick: bool) -> Path:
    """Recorded results go to bench/results; smoke runs (--quick) to the git-ignored scratch."""
    return SCRATCH if quick else RESULTS


# --------------------------------------------------------------------------- README summary

README = ROOT / "bench" / "README.md"
BEGIN, END = "<!-- results: begin (written by bench/benchenv.py from bench/results/*.json) -->", "<!-- results: end -->"


def _summary(name: str, report: dict[str, Any]) -> tuple[str, str]:
    """Key results and verdicts of one results file, in a line each."""
    r = report["results"]
    if name == "throughput":
        d, rows = r["derived"], r["rows"]
        fit, base = rows["fit"], rows[d["baseline"]]
        ok = d["pass"]
        settings = "bf16, channels-last" if d["fit_settings"]["bf16"] else "fp32"
        key = (f"fit (default settings: {settings}; batch {fit['batch']}) {fit['images_per_second']:,.0f} images/s, "
               f"{fit['epoch_seconds']:.1f} s/epoch: {d['fit_vs_in_memory']:.1f}× the tutorial as users run it "
               f"(in memory, batch {base['batch']}, {base['workers']} workers: {base['images_per_second']:,.0f} "
               f"images/s); data overhead {d['overhead_percent']:+.1f} % over the compute floor"
               + (f"; information: {d['fit_vs_folder']:.1f}× the tutorial on the JPEG folder" if "fit_vs_folder" in d else "")
               + (f", {d['fit_vs_as_written']:.1f}× the tutorial as written" if "fit_vs_as_written" in d else ""))
        verdicts = (f"≥ {r['targets']['vs_in_memory']:g}× in memory: {'PASS' if ok['vs_in_memory'] else 'FAIL'}; "
                    f"overhead ≤ {r['targets']['overhead_percent']:g} %: {'PASS' if ok['overhead'] else 'FAIL'}")
        return key, verdicts
    if name == "memory":
        parts, verdicts = [], []
        for run, v in r["runs"].items():
            parts.append(f"{run}: peak {v['peak_rss_bytes'] / 2**20:,.0f} MiB")
            verdicts.append(f"{run} ≤ 2 GiB: {'PASS' if v['pass'] else 'FAIL'}")
        return "; ".join(parts), "; ".join(verdicts)
    if name == "build":
        parts, verdicts = [], []
        for build, v in r["builds"].items():
            parts.append(f"{build} {v['seconds']:.0f} s ({len(v['executed'])} notebooks executed, exit {v['exit_status']})")
            verdicts.append(f"{build}: " + ("n/a (partial build)" if v["pass"] is None else ("PASS" if v["pass"] else "FAIL")))
        scope = "partial build (" + ", ".join(report.get("pages") or ["root page"]) + "): " if r["partial"] else "whole book: "
        return scope + "; ".join(parts), "; ".join(verdicts)
    if name == "gpu":
        if r.get("skipped"):
            return "skipped: no CUDA device", "–"
        return (f"{r['device']}: {r['epochs']} epochs in {r['wall_seconds']:.1f} s "
                f"({r['images_per_second']:,.0f} images/s, test accuracy {100 * r['test_acc']:.2f} %)"), "–"
    return "", ""


def readme_table(results: Path = RESULTS) -> str:
    """The README's table of the latest recorded results, from the JSON results files."""
    rows = []
    for name in ("throughput", "memory", "build", "gpu"):
        path = results / f"{name}.json"
        if not path.exists():
            rows.append([f"`{name}.py`", "not recorded yet", "", "", "", ""])
            continue
        report = json.loads(path.read_text())
        key, verdicts = _summary(name, report)
        s, e = report["load_average_start"][0], report["load_average_end"][0]
        rows.append([f"`{name}.py`", key, verdicts, f"{s:.1f} → {e:.1f} ({report['machine']['usable_cpus']} CPUs)",
                     report["started"][:10], f"[{name}.md](results/{name}.md)"])
    return markdown_table(["script", "latest result", "targets", "load avg (1 min) start → end", "date", "details"], rows)


COURSE_README = ROOT / "README.md"
COURSE_BEGIN = "<!-- course results: begin (written by bench/benchenv.py from bench/results/*.json) -->"
COURSE_END = "<!-- course results: end -->"


def _mean_std(values: list[float]) -> str:
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
    return f"{mean:.2f} % ± {std:.2f}"


def course_table(results: Path = RESULTS) -> str:
    """The top-level README's summary for readers: accuracy, speed, memory, build time."""
    rows: list[list[Any]] = []
    path = results / "cifar10-ablation.json"
    if path.exists():
        r = json.loads(path.read_text())["results"]
        for group, what in (("seeds", "the chapter's recipe"), ("long", "the same recipe, longer"),
                            ("fast", "the fast recipe (batch 512, bf16)")):
            if group not in r:
                continue
            runs = list(r[group].values())
            epochs = len(runs[0]["test_acc_per_epoch"])
            accs = [x["test_acc"] for x in runs]
            tta = sum(x["test_acc_flip_tta"] for x in runs) / len(runs)
            minutes = max(x["wall_seconds"] for x in runs) / 60
            rows.append([f"CIFAR-10, the study note's LeNet (62,006 parameters): {what}, {epochs} epochs",
                         f"test accuracy {_mean_std(accs)} over {len(accs)} seeds "
                         f"({', '.join(f'{a:.2f}' for a in accs)}); with flip test-time augmentation "
                         f"{tta:.2f} %; at most {minutes:.1f} min per run (1 thread)",
                         "the study note: 66.05 %", "[cifar10-ablation.json](bench/results/cifar10-ablation.json)"])
    path = results / "mnist-lenet5.json"
    if path.exists():
        r = json.loads(path.read_text())["results"]
        rows.append(["MNIST: faithful LeNet-5 (1998) and the modern LeNet",
                     f"test error {r['lenet5']['test_error_percent']:.2f} % (faithful, 2-pixel shifts), "
                     f"{r['lenet5_plain']['test_error_percent']:.2f} % (faithful, no distortions), "
                     f"{r['lenet']['test_error_percent']:.2f} % (modern, 2-pixel shifts)",
                     "the paper: 0.8 % with distortions, 0.95 % without",
                     "[mnist-lenet5.json](bench/results/mnist-lenet5.json)"])
    for name, what in (("throughput", "Training speed, CIFAR-10 with augmentation"),
                       ("memory", "Peak memory of a CIFAR-10 training run"), ("build", "Book build")):
        path = results / f"{name}.json"
        if path.exists():
            report = json.loads(path.read_text())
            key, verdicts = _summary(name, report)
            s, e = report["load_average_start"][0], report["load_average_end"][0]
            rows.append([what, f"{key} (load average {s:.1f} → {e:.1f} on {report['machine']['usable_cpus']} CPUs)",
                         verdicts, f"[{name}.md](bench/results/{name}.md)"])
    return markdown_table(["what", "measured", "compared with", "details"], rows)


def _rewrite(path: Path, begin: str, end: str, table: str) -> bool:
    if not path.exists():
        return False
    text = path.read_text()
    if begin not in text or end not in text:
        return False
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{table}\n{end}{tail}")
    return True


def update_readme(results: Path = RESULTS, readme: Path = README, course_readme: Path = COURSE_README) -> bool:
    """Rewrite the results tables between the markers of bench/README.md and README.md.

    False if bench/README.md has no markers.
    """
    _rewrite(course_readme, COURSE_BEGIN, COURSE_END, course_table(results))
    return _rewrite(readme, BEGIN, END, readme_table(results))


if __name__ == "__main__":  # python bench/benchenv.py: refresh the README's results table
    print("updated" if update_readme() else "no markers in", README)
