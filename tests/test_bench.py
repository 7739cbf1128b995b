"""The benchmark scripts of bench/ run with one command and write well-formed results.

Smoke tests: every script in its --quick mode, its results written to a temporary folder
(--out). No timing is asserted: the numbers depend on the machine and on its neighbours.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import nn

from dlcourse import training
from dlcourse.models import LeNet

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _run(script: str, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python bench/<script> --quick --out <out> ARGS`` with one torch thread (a smoke run
    of two threads on a busy 2-core machine can take ten times longer)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--quick", "--out", str(out), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"bench/{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _report(out: Path, name: str, stdout: str) -> dict[str, Any]:
    """The results file pair exists and records the circumstances of the run."""
    md = (out / f"{name}.md").read_text()
    report = json.loads((out / f"{name}.json").read_text())
    assert report["script"] == f"bench/{name}.py"
    assert f"bench/{name}.py --quick --out" in report["command"]
    for key in ("load_average_start", "load_average_end"):
        assert len(report[key]) == 3 and all(x >= 0 for x in report[key])
    assert report["machine"]["cpu"] and report["machine"]["logical_cpus"] >= 1
    assert report["versions"]["python"] and report["versions"]["torch"] == torch.__version__.split("+")[0]
    assert report["started"] <= report["finished"]
    for field in ("**date**", "**command**", "**machine**", "**versions**", "**load average**"):
        assert field in md
    assert report["table"] in md and report["table"] in stdout  # the one table, printed and written
    return report


def _table_rows(table: str) -> list[list[str]]:
    lines = table.splitlines()
    assert set(lines[1].replace("|", "").split()) <= {"---", "---:"}, "second line must be the header rule"
    width = lines[0].count("|")
    assert all(line.count("|") == width for line in lines), "every row must have the header's columns"
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def test_forward_macs_match_a_hand_count_of_lenet() -> None:
    throughput = _load("throughput")
    by_hand = {
        "conv1": 6 * 28 * 28 * (3 * 5 * 5),  # 6 maps of 28×28, each value 3×5×5 MACs
        "conv2": 16 * 10 * 10 * (6 * 5 * 5),
        "fc1": 16 * 5 * 5 * 120,
        "fc2": 120 * 84,
        "fc3": 84 * 10,
    }
    assert throughput.forward_macs(LeNet()) == by_hand
    assert sum(by_hand.values()) == 651_720
    assert throughput.lenet_flops() == 3 * 2 * 651_720


def test_forward_macs_count_groups_strides_and_nested_layers() -> None:
    throughput = _load("throughput")
    model = nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, groups=2), nn.Sequential(nn.Flatten(), nn.Linear(8 * 4 * 4, 5)))
    assert throughput.forward_macs(model, (4, 9, 9)) == {"0": 8 * 4 * 4 * (2 * 3 * 3), "1.1": 128 * 5}


@pytest.mark.slow
def test_throughput_quick_writes_its_table(tmp_path: Path) -> None:
    done = _run("throughput.py", tmp_path, "--threads", "1")
    report = _report(tmp_path, "throughput", done.stdout)
    results = report["results"]
    rows = results["rows"]
    assert {"fit", "floor", "tutorial_mem_w0", "tutorial_mem_w1", "tutorial_mem_w2", "tutorial_mem_w3",
            "fit_fp32_128", "as_written"} <= set(rows)
    assert all(r["images_per_second"] > 0 and r["extrapolated"] for r in rows.values())
    derived = results["derived"]
    assert set(derived["pass"]) == {"vs_in_memory", "overhead"}
    assert all(isinstance(v, bool) for v in derived["pass"].values())
    # the baseline is the fastest worker count of the in-memory tutorial
    mem = {k: v["images_per_second"] for k, v in rows.items() if k.startswith("tutorial_mem_w")}
    assert derived["baseline"] == max(mem, key=mem.get)
    assert derived["fit_vs_in_memory"] == pytest.approx(rows["fit"]["images_per_second"] / max(mem.values()))
    assert derived["fit_settings"] == training.fast_settings(LeNet(), "cpu")
    assert rows["fit"]["batch"] == 512 and rows[derived["baseline"]]["batch"] == 128
    assert 0 < derived["floor_share_of_peak"] < 1
    assert results["flops_per_image"] == 3 * 2 * 651_720
    table = _table_rows(report["table"])
    assert len(table) == len(rows) + len(results["matmul_peak_gflops"])
    verdicts = [row[10] for row in table]
    assert verdicts.count("PASS") + verdicts.count("FAIL") == 2, verdicts


@pytest.mark.slow
def test_memory_quick_measures_the_child(tmp_path: Path) -> None:
    done = _run("memory.py", tmp_path, "--threads", "1")
    report = _report(tmp_path, "memory", done.stdout)
    run = report["results"]["runs"]["cached"]
    phases = run["phases"]
    imported = phases["torch and dlcourse imported"]["rss_bytes"]
    loaded = phases["CIFAR-10 loaded"]["rss_bytes"]
    assert 0 < imported < loaded <= run["peak_rss_bytes"]
    assert loaded - imported > 150 * 2**20  # the 60,000 uint8 images alone are 176 MiB
    assert isinstance(run["pass"], bool)
    assert len(_table_rows(report["table"])) == 1


@pytest.mark.slow
def test_build_quick_runs_cold_then_warm(tmp_path: Path) -> None:
    done = _run("build.py", tmp_path)
    report = _report(tmp_path, "build", done.stdout)
    builds = report["results"]["builds"]
    assert builds["cold"]["exit_status"] == 0 and builds["warm"]["exit_status"] == 0
    assert list(builds["cold"]["executed"]) == ["book/intro.md"]  # empty cache: executed
    assert builds["warm"]["executed"] == {}  # nothing changed: nothing executed
    assert report["results"]["partial"] is True
    assert len(_table_rows(report["table"])) == 2


def test_conv_speed_quick_times_three_implementations_that_agree(tmp_path: Path) -> None:
    done = _run("conv_speed.py", tmp_path)
    report = json.loads((tmp_path / "conv-speed.json").read_text())
    assert report["script"] == "bench/conv_speed.py" and "--quick" in report["command"]
    assert report["table"] in (tmp_path / "conv-speed.md").read_text() and report["table"] in done.stdout
    rows = report["results"]["rows"]
    assert [name.split()[0] for name in rows] == ["loops", "im2col", "PyTorch"]
    for row in rows.values():
        assert row["seconds"] > 0 and row["max_abs_diff_from_pytorch"] < 1e-3
    assert report["results"]["columns_vs_input_size"] > 1  # the column matrix copies pixels
    assert len(_table_rows(report["table"])) == 3


def test_build_reads_its_logs() -> None:
    build = _load("build")
    log = ("\x1b[01mupdating environment: \x1b[39;49;00m[new config] 3 added, 0 changed, 0 removed\n"
           f"{ROOT}/book/mlp.md: Executed notebook in 12.50 seconds [mystnb]\n"
           f"{ROOT}/book/intro.md: Using cached notebook: ID=1 [mystnb]\n"
           f"\x1b[91m{ROOT}/book/intro.md:138: WARNING: Unknown source document 'book/x'\x1b[39;49;00m\n"
           "[IPKernelApp] WARNING | Kernel is running over TCP\n"
           "build succeeded.\n")
    parsed = build.parse_log(log)
    assert parsed == {"executed": {"book/mlp.md": 12.5}, "from_cache": 1, "pages_read": 3, "warnings": 1,
                      "succeeded": True}
    assert "  - file: book/perceptron\n  - file: book/references\n" in build.partial_toc(["book/perceptron.md"])
    with pytest.raises(FileNotFoundError, match="book/nope"):
        build.partial_toc(["book/nope"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present: gpu.py would train")
def test_gpu_without_cuda_says_skipped_and_exits_0(tmp_path: Path) -> None:
    done = _run("gpu.py", tmp_path)
    assert done.stdout.splitlines()[0] == "skipped: no CUDA device"
    report = _report(tmp_path, "gpu", done.stdout)
    assert report["results"] == {"skipped": True}


@pytest.mark.slow
def test_gpu_script_trains_on_the_cpu_when_asked(tmp_path: Path) -> None:
    done = _run("gpu.py", tmp_path, "--device", "cpu", "--threads", "1")
    report = _report(tmp_path, "gpu", done.stdout)
    result = report["results"]
    assert result["skipped"] is False and result["epochs"] == 1 and result["train_images_per_epoch"] == 2048
    assert result["images_per_second"] > 0 and 0 <= result["test_acc"] <= 1
    assert len(_table_rows(report["table"])) == 1


def test_the_readmes_results_tables_match_the_recorded_results() -> None:
    """README.md and bench/README.md quote bench/results/*.json as benchenv writes them."""
    benchenv = _load("benchenv")
    for path, begin, end, table in ((ROOT / "README.md", benchenv.COURSE_BEGIN, benchenv.COURSE_END,
                                     benchenv.course_table()),
                                    (ROOT / "bench" / "README.md", benchenv.BEGIN, benchenv.END,
                                     benchenv.readme_table())):
        text = path.read_text()
        assert begin in text and end in text, f"{path.name} lost its results markers"
        quoted = text.split(begin, 1)[1].split(end, 1)[0].strip()
        assert quoted == table.strip(), (
            f"{path.relative_to(ROOT)} does not quote bench/results/ as it is: run "
            "`.venv/bin/python bench/benchenv.py` and commit the result")


def test_others_busy_looks_at_the_start_load_only() -> None:
    benchenv = _load("benchenv")
    assert not benchenv.others_busy([0.2, 0.5, 0.5], 2)
    assert benchenv.others_busy([1.5, 0.5, 0.5], 2)
