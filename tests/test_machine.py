"""Host limits: cached when measured on a quiet host, used but not cached under load."""

import harness.machine as machine

FAKE = {"matmul_gflops_fp32": 1.0, "copy_bandwidth_gbs": 2.0, "memory_bytes": 3, "cpus": 2}


def _fake(monkeypatch, load):
    calls = []
    monkeypatch.setattr(machine, "measure_limits", lambda: calls.append(1) or {**FAKE, "load_avg_1min": load})
    monkeypatch.setattr(machine, "load_average", lambda: load)
    monkeypatch.setattr(machine.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(machine, "_UNCACHED", {})
    return calls


def test_limits_measured_under_load_are_not_cached(tmp_path, monkeypatch):
    calls = _fake(monkeypatch, load=1.5)
    limits = machine.machine_limits(tmp_path)
    assert limits["load_avg_1min"] == 1.5 and limits["cached"] is False
    assert not list(tmp_path.rglob("*.json"))
    machine.machine_limits(tmp_path)
    assert len(calls) == 1  # measured once per process even so


def test_limits_measured_on_a_quiet_host_are_cached(tmp_path, monkeypatch):
    calls = _fake(monkeypatch, load=0.5)
    limits = machine.machine_limits(tmp_path)
    assert limits["load_avg_1min"] == 0.5 and "cached" not in limits
    assert len(list(tmp_path.rglob("*.json"))) == 1
    assert machine.machine_limits(tmp_path) == limits and len(calls) == 1


def test_a_claims_run_reports_known_limits_without_measuring(tmp_path, monkeypatch):
    calls = _fake(monkeypatch, load=0.5)
    assert machine.cached_limits(tmp_path) is None and not calls  # nothing measured yet: nothing probed
    limits = machine.machine_limits(tmp_path)
    assert machine.cached_limits(tmp_path) == limits and len(calls) == 1


def fake_caches(root, sizes):
    for i, size in enumerate(sizes):
        (root / f"index{i}").mkdir()
        (root / f"index{i}" / "size").write_text(size + "\n")
    return root


def test_the_last_level_cache_is_the_largest_listed(tmp_path):
    assert machine.last_level_cache_bytes(fake_caches(tmp_path, ["48K", "32K", "2048K", "307200K"])) == 300 << 20
    assert machine.last_level_cache_bytes(tmp_path / "absent") is None


def test_copy_buffers_exceed_the_last_level_cache():
    for llc in (8 << 20, 32 << 20, 300 << 20, 1 << 30):
        sizes = machine.copy_megabytes(llc, memory=64 << 30)
        assert len(sizes) >= 2 and all(mb << 20 >= 2 * llc and mb >= 256 for mb in sizes), (llc, sizes)
    assert machine.copy_megabytes(0, memory=64 << 30) == machine.COPY_MEGABYTES_WITHOUT_CACHE_SIZE


def test_copy_buffers_leave_most_of_the_memory_free():
    assert machine.copy_megabytes(300 << 20, memory=24 << 30) == (600, 1200)
    assert machine.copy_megabytes(300 << 20, memory=8 << 30) == (600,)  # 2 x 1,200 MiB > 2 GiB
    assert machine.copy_megabytes(1 << 30, memory=4 << 30) == (2048,)  # none fits: the smallest stays
