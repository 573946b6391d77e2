# AI Chips & GPU Communication: build, test and benchmark the book.
# `make book` and `make test` bootstrap .venv from requirements.txt; nothing else is assumed.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
STAMP  := $(VENV)/.installed
JOBS   ?= 2

.PHONY: help venv vendor book pdf lint test test-unit test-nojit test-notebooks test-browser test-mpi bench refrun stress mutate lab clean distclean

help:
	@echo "make book   - set up .venv, execute every chapter, build the HTML book in _build/html (English) and _build/html/zh (Chinese)"
	@echo "make pdf    - the book as PDF, one per edition (English, Chinese), in _build/pdf"
	@echo "make test   - set up .venv, lint, unit tests (with and without JIT), MPI runs, notebooks (nbmake), book build (reusing nbmake's executions), browser tests"
	@echo "make lab    - JupyterLab on chapters/ with live widgets"
	@echo "make bench  - benchmarks (kernels vs reference implementations), printed as tables"
	@echo "make refrun - measure chapters 3-4's reference figures here and store them in code/aichip/data/machines/"
	@echo "make stress - execute every chapter ROUNDS times under load; fails if any execution stalls"
	@echo "make mutate - mutation testing (cosmic-ray) of every model module and data table; survivors in tests/mutation/"
	@echo "make clean  - remove build products (keeps .venv; 'make distclean' removes it too)"

# (Re)create the environment when it is missing or requirements changed.
$(STAMP): requirements.txt constraints.txt code/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

venv: $(STAMP)

# MathJax, RequireJS and the ipywidgets manager from npm, served by the book itself (offline HTML);
# falls back to public CDNs, and says so, where npm is missing.
vendor: $(STAMP)
	$(PY) _ext/vendor_js.py _vendor

# jupyter-cache re-executes a chapter only when its cells change, not when the aichip code or the
# pinned packages it runs change; a fingerprint of those drops the cache when they do, so a page
# never shows results of code that is gone.
SOURCES_ID = $(shell cat requirements.txt constraints.txt \
	$$(find code/aichip -type f \( -name '*.py' -o -name '*.csv' \) | LC_ALL=C sort) | cksum | tr ' ' -)

# Sphinx rebuilds a page when its source changes, not when an extension or the Chinese phrase table
# does; a change to either rebuilds every Chinese page.
ZH_ID = $(shell cat _ext/*.py zh/glue_phrases.yml | cksum | tr ' ' -)

# Every build precomputes the explorers over their grids (AICHIP_STATIC_EXPLORERS=1), so they
# respond in the HTML with no kernel; `make lab` stays live. tools/execute_chapters.py executes the
# chapters the cache lacks, one at a time with nothing else running (the chapters measure the
# machine); then the two editions' Sphinx builds, which execute nothing, run side by side (one per
# core), each one's output shown when both are done. Sphinx does not re-copy html_extra_path files
# when no source changed: after (re-)vendoring, a full rebuild (--all) puts the new files in
# _build/html. Executed notebooks stay cached unless the fingerprint above changed.
book: vendor
	@full=""; \
	if [ "$$(cat _build/.sources-id 2>/dev/null)" != "$(SOURCES_ID)" ]; then \
	  if [ "$$(cat _build/.primed-id 2>/dev/null)" != "$(SOURCES_ID)" ]; then \
	    echo "aichip or requirements changed since the last build: re-executing every chapter"; \
	    rm -rf _build/.jupyter_cache; \
	  fi; \
	  full="--all"; \
	fi; \
	if [ -f _vendor/vendor/manifest.json ] && \
	    ! cmp -s _vendor/vendor/manifest.json _build/html/vendor/manifest.json; then \
	  echo "vendored JavaScript changed: rebuilding every page"; full="--all"; \
	fi; \
	mkdir -p _build && $(PY) tools/execute_chapters.py || exit 1; \
	echo "the Chinese edition (zh/, see zh/README.md), from the same executions, in _build/html/zh"; \
	$(PY) tools/translation.py assemble --out _build/zh_src || exit 1; \
	zh_full="$$full"; [ "$$(cat _build/.zh-id 2>/dev/null)" = "$(ZH_ID)" ] || zh_full="--all"; \
	$(JB) build $$full -W -n --keep-going . > _build/en-build.log 2>&1 & en=$$!; \
	$(JB) build $$zh_full -W -n --keep-going _build/zh_src > _build/zh-build.log 2>&1; zh_rc=$$?; \
	wait $$en; en_rc=$$?; \
	echo "== English edition (_build/en-build.log)"; cat _build/en-build.log; \
	echo "== Chinese edition (_build/zh-build.log)"; cat _build/zh-build.log; \
	[ $$en_rc -eq 0 ] && [ $$zh_rc -eq 0 ] || exit 1; \
	rm -rf _build/html/zh && cp -r _build/zh_src/_build/html _build/html/zh && \
	echo "$(ZH_ID)" > _build/.zh-id && echo "$(SOURCES_ID)" > _build/.sources-id
	@echo "Chapter execution times (jupyter-cache; tools/chapter_times.py):"
	@$(PY) tools/chapter_times.py || true
	@echo "The book is at file://$(CURDIR)/_build/html/index.html"

# The PDF editions (tools/pdf.py): each edition as one HTML page (Sphinx's singlehtml, from the HTML
# build's executions), printed by the browser tests' Chromium with an outline, page numbers and
# internal links, then read back and checked (outline, internal links, CJK font for the Chinese one).
PDF_NAME := ai-chips-gpu-communication
pdf: book
	$(JB) build --builder singlehtml -n --keep-going .
	$(JB) build --builder singlehtml -n --keep-going _build/zh_src
	$(PY) tools/pdf.py _build/singlehtml/chapters/intro.html _build/html \
		_build/pdf/$(PDF_NAME).pdf --edition en
	$(PY) tools/pdf.py _build/zh_src/_build/singlehtml/chapters/intro.html _build/html/zh \
		_build/pdf/$(PDF_NAME)-zh.pdf --edition zh

test-unit: $(STAMP)
	$(PY) -m pytest -n $(JOBS) tests --ignore=tests/browser --durations=10

# The unit tests once more with numba's JIT off: every kernel runs as plain Python, so a bug that
# compiles away (or only shows in Python semantics) and coverage of kernel bodies are seen.
# Tests marked slow_without_jit (registered in tests/conftest.py) are deselected.
test-nojit: $(STAMP)
	NUMBA_DISABLE_JIT=1 $(PY) -m pytest -n $(JOBS) tests --ignore=tests/browser \
		-m "not slow_without_jit" --durations=5

# One chapter at a time: chapters measure the machine (bandwidth, FLOP/s, MPI), and two at once
# skew each other's figures. nbmake runs copies of the chapters in $(NBEXEC) with --overwrite, so
# the copies keep their outputs, and with the explorers precomputed as the book build has them;
# tools/prime_cache.py then stores those executions in the book's jupyter-cache, so the book
# build that follows in `make test` reuses them instead of executing every chapter a second time
# (about 260 s on 2 cores). -p _ext.zmq_rearm loads the client-side fix for the stall where
# nbclient missed a cell's execute_reply and waited out the whole cell timeout (see the file).
# (nbmake skips any path with a _build part, so the copies live in .nbexec, which git and the book
# ignore.)
NBEXEC := .nbexec
test-notebooks: $(STAMP)
	rm -rf $(NBEXEC) && mkdir -p $(NBEXEC) && cp chapters/*.ipynb $(NBEXEC)/
	AICHIP_STATIC_EXPLORERS=1 $(PY) -m pytest -p _ext.zmq_rearm -v --nbmake --nbmake-timeout=300 \
		--overwrite $(NBEXEC)/*.ipynb
	$(PY) tools/prime_cache.py $(NBEXEC) --sources-id "$(SOURCES_ID)"

# The MPI collective benchmark on 2 real processes (MPICH from its wheel): every delivery is checked,
# a wrong one makes it exit non-zero; then the all-reduce once per algorithm MPICH can be forced to
# run (its MPIR_CVAR_* variables); then the one-sided (MPI RMA) benchmark on 2 ranks and the
# key-value store on 3, each checking every result; then data-parallel training on 2 ranks, whose
# weights must equal one process's on the combined batch; then a planted wrong result must end the
# run with exit status 1; last, the skewed all-to-all-v of a mixture-of-experts dispatch (counts
# from aichip.moe's seeded router, every delivered element checked against its sender and offset,
# the model's time beside it), and a planted wrong delivery in it must also exit 1. All of them
# run in aichip.mpiharness (one thread policy: a node's cores shared among its ranks). On a cluster run them under srun (see README).
test-mpi: $(STAMP)
	$(VENV)/bin/mpiexec -n 2 $(PY) -m aichip.mpibench --max-bytes 64K --iters 5 \
		--ops pingpong,allreduce,allgather,reduce_scatter,broadcast,reduce,alltoall
	for alg in ring recursive_doubling rabenseifner pipelined_tree; do \
		$(VENV)/bin/mpiexec -n 2 $(PY) -m aichip.mpibench --max-bytes 64K --iters 3 \
			--ops allreduce --algorithm $$alg || exit 1; \
	done
	$(VENV)/bin/mpiexec -n 2 $(PY) -m aichip.rmabench --max-bytes 64K --iters 5
	$(VENV)/bin/mpiexec -n 3 $(PY) -m aichip.kvstore --keys 1000 --ops 2000
	$(VENV)/bin/mpiexec -n 2 $(PY) -m aichip.ddp --steps 20
	$(VENV)/bin/mpiexec -n 2 $(PY) -m aichip.mpibench --max-bytes 1K --iters 1 --ops allreduce \
		--inject-error > /dev/null; test $$? -eq 1
	$(VENV)/bin/mpiexec -n 2 $(PY) -m aichip.mpibench --max-bytes 64K --iters 5 \
		--ops pingpong,alltoallv --skew 1.5
	$(VENV)/bin/mpiexec -n 2 $(PY) -m aichip.mpibench --max-bytes 1K --iters 1 --ops alltoallv \
		--skew 1.5 --inject-error > /dev/null; test $$? -eq 1

# Every page of the built book, both editions, in headless Chromium (skips, saying why, without
# Chromium). One process: two on 2 cores raced the widget manager (a Lumino message to a view
# being torn down, as a console error) and stalled a heavy page, each in one of four CI runs.
test-browser: book
	$(PY) -m pytest tests/browser -rs

# ruff over the package, tests, benchmarks, tools and build helpers (configuration: ruff.toml),
# then the size report: no aichip function over 80 lines of code (docstrings and comments not
# counted), no module over 600 lines, except the entries of tools/sizes_allow.txt (see tools/sizes.py).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) tools/sizes.py

# Every chapter is executed once, by nbmake; the book build reuses those executions (see
# test-notebooks).
test: lint test-unit test-nojit test-mpi test-notebooks book test-browser

bench: $(STAMP)
	$(PY) bench/run.py

# This machine's reference run (roofline and GEMM figures, labelled with CPU, ISA, cores and BLAS),
# stored beside the other machines' that chapters 3 and 4 show; run it on a quiet machine (the
# record carries its own verdict: a disturbed run says so).
refrun: $(STAMP)
	$(PY) -m aichip.refruns --save

# Every chapter executed ROUNDS times with nbclient under a CPU busy loop and a dd conv=fsync loop;
# fails if any execution takes longer than twice the chapter's fastest plus 30 s (a stall takes
# the whole 300 s cell timeout). Not part of `make test`: it takes about ROUNDS x 5 minutes.
ROUNDS ?= 8
stress: $(STAMP)
	mkdir -p _build
	$(PY) tools/stress_notebooks.py --load --rounds $(ROUNDS) --json _build/stress.json

# Mutation testing (cosmic-ray, tools/mutate.py) of every module that models, measures or computes
# (the SCOPE table of tools/mutation_scope.py: module -> the test files that cover it, the only
# ones run, with numba's JIT and then without it, as make test runs them),
# a seeded sample of 20 mutants per module, and of the data tables (one numeric cell of a CSV
# changed at a time, 20 cells per table, against the tests that load it). Survivors go to
# tests/mutation/after.txt, compared with tests/mutation/before.txt. Not part of `make test`: it
# takes hours on 2 cores; narrow it with MUTATE_ARGS, e.g.
#   make mutate MUTATE_ARGS="--modules gemm,data/cuda_limits.csv --out /tmp/m.txt"
MUTATE_ARGS ?= --data
mutate: $(STAMP)
	$(PY) tools/mutate.py --out tests/mutation/after.txt --compare tests/mutation/before.txt \
		$(MUTATE_ARGS)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab chapters

clean:
	rm -rf _build .nbexec _vendor bench/build .pytest_cache .hypothesis
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
