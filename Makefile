# Two commands on a fresh machine with Python >= 3.10:
#   make demo   -> create .venv, install fldp_teach, run the main job
#   make test   -> create .venv, install fldp_teach[test] (+ Chromium for the browser test), run all tests
#   make book   -> the course as a static HTML book (both editions, full mode): artifacts/book/html
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: demo privacy test bench clean book

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/fldp-teach demo

privacy: $(VENV)/.installed
	$(VENV)/bin/fldp-teach privacy --sampling-rate 0.004267 --noise-multiplier 1.1 --steps 14063 --delta 1e-5

test: $(VENV)/.installed
	bash scripts/ensure_chromium.sh
	$(PY) -m pytest tests

bench: $(VENV)/.installed
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

# The course as a static HTML site, both editions, executed in full mode (cached per notebook in
# artifacts/book/cache-full: a Markdown edit re-executes nothing, a code edit only its notebook).
book: $(VENV)/.installed
	$(PY) scripts/build_book.py

clean:
	rm -rf $(VENV) artifacts .pytest_cache

# Cross-check against TF Privacy 0.9.0 in a separate pinned venv (.venv-tfp: TF 2.15, needs
# Python 3.9-3.11; skipped with a message where none is found). Not part of `make test`.
.PHONY: tfp-check
tfp-check: $(VENV)/.installed
	nice -n 5 $(PY) scripts/tfp_check/tfp_check.py
