"""aichip.warmup: each entry compiles the kernel it names, and the shares split the entries.

The warm-up saves a fresh clone's book build the chapters' compilations only if each entry really
reaches its kernel: a renamed kernel or an entry calling another path would cost nothing visible
but the time. Each entry is run in a new process (where no kernel has been called yet) and must
leave its named kernel with a compiled signature, and no other entry's kernel.
"""

import json
import os
import subprocess
import sys

import pytest

from aichip import warmup

CHECK = """
import importlib, json
from aichip import warmup
def kernel(path):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)
kernels = {name: kernel(entry[2]) for name, entry in warmup.ENTRIES.items()}
report = {}
for name in warmup.ENTRIES:
    before = {k: len(d.signatures) for k, d in kernels.items()}
    warmup.run([name])
    report[name] = [k for k, d in kernels.items() if len(d.signatures) > before[k]]
print(json.dumps(report))
"""


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="nothing compiles")
def test_each_entry_compiles_the_kernel_it_names_and_no_other():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                         check=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    assert report == {name: [name] for name in warmup.ENTRIES}


def test_the_shares_hold_every_entry_once_and_balance_the_compile_time():
    for n in (1, 2, 3, len(warmup.ENTRIES), len(warmup.ENTRIES) + 2):
        parts = warmup.shares(n)
        assert len(parts) == n
        assert sorted(name for part in parts for name in part) == sorted(warmup.ENTRIES)
        loads = [sum(warmup.COMPILE_S[name] for name in part) for part in parts]
        # greedy longest-first: no share exceeds another by more than its largest entry
        assert max(loads) - min(loads) <= max(warmup.COMPILE_S.values()) + 1e-9


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="n must be >= 1"):
        warmup.shares(0)
    with pytest.raises(TypeError, match="n must be an int"):
        warmup.shares(True)
    with pytest.raises(ValueError, match="unknown warm-up entries"):
        warmup.run(["systolic", "nonsense"])
    for part in ("2/2", "x/2", "1"):
        with pytest.raises(SystemExit):
            warmup.main(["--part", part])
