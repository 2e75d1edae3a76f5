"""The harness measures its own peak memory and REPORT.md shows it next to the run time."""

import subprocess
import sys
from pathlib import Path

import pytest

from harness.record import Recorder
from harness.render import run_time_section


def in_a_fresh_process(code: str, touch_mb: int) -> list[str]:
    """What `code` prints in a new interpreter (this session's own high-water mark may be above anything
    allocated now), its `# allocate` line replaced by `touch_mb` MB allocated and touched, as `block`."""
    before, after = code.split("# allocate\n")
    allocate = (f"block = bytearray({touch_mb} * 1_000_000)\n"
                "for i in range(0, len(block), 4096):\n"
                "    block[i] = 1\n")
    return subprocess.run([sys.executable, "-c", before + allocate + after], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[1]).stdout.split()


def test_peak_rss_grows_with_an_allocation():
    before, after = map(float, in_a_fresh_process(
        "from harness.memory import peak_rss_mb\nbefore = peak_rss_mb()\n# allocate\nprint(before, peak_rss_mb())\n",
        touch_mb=200))
    assert after >= before + 150  # 200 MB touched, resident


def test_workers_peaks_merge_by_maximum():
    main, worker = Recorder(profile="ci", model_set="packaged", seed=0, run_id="r"), \
        Recorder(profile="ci", model_set="packaged", seed=0, run_id="r")
    main.note_peak_rss("embeddings", 900.0)
    worker.note_peak_rss("embeddings", 1200.0)
    worker.note_peak_rss("lora", 2100.0)
    main.merge_dict(worker.to_dict())
    assert main.peak_rss == {"embeddings": 1200.0, "lora": 2100.0}


def test_the_run_time_table_shows_peak_rss_against_its_target():
    run = {"profile": "cpu", "suite_seconds": {"embeddings": 17.0, "lora": 115.0}, "session_seconds": 140.0,
           "suite_peak_rss_mb": {"embeddings": 1200.0, "lora": 2100.0}, "peak_rss_mb": 2100.0,
           "targets": {"session": 360, "peak_rss_mb": 2500}}
    text = run_time_section(run)
    assert "| lora | 115 |  |  | 2100 |" in text
    assert "| session | 140 | 360 | True | 2100 |" in text
    assert "Memory target: 2500 MB (met)" in text
    over = run_time_section({**run, "peak_rss_mb": 5350.0})
    assert "Memory target: 2500 MB (not met)" in over


def test_the_peak_restarts_so_an_experiment_reads_its_own():
    """After reset_peak_rss() the mark is the current RSS, not an earlier, freed allocation (Linux)."""
    high, restarted, after = in_a_fresh_process(
        "from harness.memory import peak_rss_mb, reset_peak_rss\n# allocate\n"
        "high = peak_rss_mb()\ndel block\nprint(high, reset_peak_rss(), peak_rss_mb())\n", touch_mb=300)
    if restarted != "True":
        pytest.skip("this system cannot restart the high-water mark (no writable /proc/self/clear_refs)")
    assert float(after) <= float(high) - 250  # 300 MB freed before the restart


def test_the_run_time_table_says_whose_peak_a_row_is():
    run = {"profile": "cpu", "suite_seconds": {"lora": 115.0}, "session_seconds": 140.0,
           "suite_peak_rss_mb": {"lora": 2100.0, "(outside experiments)": 2600.0}, "peak_rss_mb": 2600.0}
    per_experiment = run_time_section({**run, "peak_rss_per_experiment": True})
    assert "that experiment's own peak" in per_experiment and "| session | 140 |  |  | 2600 |" in per_experiment
    assert "(outside experiments)" not in per_experiment  # counted in the session's peak, not a row
    assert "the session's peak so far" in run_time_section(run)


def test_a_cold_run_is_held_to_the_cold_target_and_says_what_it_built():
    run = {"profile": "cpu", "suite_seconds": {"lora": 500.0}, "session_seconds": 700.0,
           "targets": {"session": 360, "session_cold": 720}}
    assert "This run" not in run_time_section(run)  # a run recorded before one-off work was kept
    warm = run_time_section({**run, "one_off_s": {}})
    assert "| session | 700 | 360 | False |" in warm and "This run built nothing into the harness cache" in warm
    built = {"one_off_s": {"lora fine-tuning": 401.0, "FLORES-200 token counts": 190.0}}
    cold = run_time_section({**run, **built})
    assert "| session | 700 | 720 | True |" in cold
    assert "This run was cold: it built FLORES-200 token counts (190 s); lora fine-tuning (401 s)" in cold
    no_cold_target = run_time_section({**run, **built, "targets": {"session": 360}})
    assert "| session | 700 |  |  |" in no_cold_target and "the profile names no cold target" in no_cold_target


def test_one_off_work_is_summed_and_crosses_from_workers():
    main, worker = (Recorder(profile="cpu", model_set="packaged", seed=0, run_id="r") for _ in range(2))
    main.note_load("base-lm", "causal-lm/eager", "Gemma", "pkg", 0.2, prepare_s=0.0)  # a cached entry
    assert main.one_off == {}
    main.note_load("base-lm", "causal-lm/eager", "Gemma", "pkg", 0.2, prepare_s=88.0)
    worker.note_one_off("FLORES-200 token counts", 10.0)
    worker.note_one_off("FLORES-200 token counts", 5.0)
    main.merge_dict(worker.to_dict())
    assert main.one_off == {"conversion of Gemma": 88.0, "FLORES-200 token counts": 15.0}
