"""aichip.refruns: stored reference runs are labelled, read back unchanged, and rejected when
malformed."""

import json

import pytest

from aichip import refruns


def test_every_stored_run_is_labelled_and_at_least_two_machines_are_kept():
    records = refruns.stored()
    assert len(records) >= 2
    labels = {(r["machine"]["cpu"], r["machine"]["isa"]) for r in records}
    assert len(labels) == len(records)  # two different machines, not one stored twice
    assert {r["machine"]["isa"] for r in records} >= {"AVX2", "AVX-512"}
    for r in records:
        assert r["machine"]["cores"] >= 1 and r["machine"]["blas"] and r["source"]


def test_save_then_stored_round_trips(tmp_path):
    rec = {"machine": {"cpu": "Test CPU 9000", "isa": "AVX2", "cores": 4, "blas": "openblas"},
           "figures": {"triad_GBps": [20.0, 18.5], "dgemm_GFLOPs": [100.0, None]},
           "source": "synthetic", "note": "made up for the test"}
    path = refruns.save(rec, tmp_path)
    assert path.name == "test-cpu-9000-avx2-4cpu.json"
    assert json.loads(path.read_text()) == rec
    assert refruns.stored(tmp_path) == [rec]
    frame = refruns.table([rec], keys=["triad_GBps", "fma_GFLOPs"], own={"triad_GBps": 7.0})
    assert list(frame["STREAM triad, all cores (GB/s)"]) == [7.0, 20.0]
    assert frame["FMA peak kernel (numba), float64 (GFLOP/s)"].isna().all()
    assert "Test CPU 9000 (AVX2, 4 CPUs, openblas)" in list(frame["machine"])


@pytest.mark.parametrize("bad", [
    {"figures": {}, "source": "x"},                                          # no machine
    {"machine": {"cpu": "c", "isa": "i", "cores": 1}, "figures": {}, "source": "x"},  # no BLAS
    {"machine": {"cpu": "c", "isa": "i", "cores": 1, "blas": "b"},
     "figures": {"triad_GBps": [0.0, None]}, "source": "x"},                 # not a rate
    {"machine": {"cpu": "c", "isa": "i", "cores": 1, "blas": "b"},
     "figures": {"bogus": [1.0, None]}, "source": "x"},                      # unknown figure
])
def test_malformed_records_are_rejected(bad, tmp_path):
    with pytest.raises(ValueError):
        refruns.save(bad, tmp_path)
    with pytest.raises(ValueError, match="keys"):
        refruns.table([], keys=["bogus"])


def test_machines_that_differ_only_in_isa_are_stored_apart(tmp_path):
    # two VMs that both report "AMD EPYC" and 2 CPUs (an AVX2 one and an AVX-512 one) must not
    # overwrite each other's record
    label = {"cpu": "AMD EPYC", "cores": 2, "blas": "openblas"}
    for isa in ("AVX2", "AVX-512"):
        refruns.save({"machine": {**label, "isa": isa}, "figures": {"triad_GBps": [30.0, None]},
                      "source": "synthetic"}, tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [
        "amd-epyc-avx-512-2cpu.json", "amd-epyc-avx2-2cpu.json"]
    assert len(refruns.stored(tmp_path)) == 2


def test_the_label_names_the_microarchitecture_when_recorded():
    rec = {"machine": {"cpu": "AMD EPYC", "isa": "AVX-512", "cores": 2, "blas": "openblas",
                       "arch": "znver4"}, "figures": {}, "source": "synthetic"}
    frame = refruns.table([rec], keys=["triad_GBps"])
    assert list(frame["machine"]) == ["AMD EPYC (znver4, AVX-512, 2 CPUs, openblas)"]
    assert "arch" in refruns.machine_label()
