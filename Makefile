# 从零开始大模型开发与微调 — the executable course.
#   make course              execute every chapter (PROFILE=cpu by default; PROFILE=smoke for the fast run)
#   make course CHAPTERS="ch03 ch06"   only these chapters (stems, unique prefixes or notebook paths)
#   make test                unit tests + every notebook in the smoke profile + result bands
# Every target creates the virtual environment (.venv) first when it is missing.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= cpu
# Chapters for `make course`: empty means all. NOTEBOOKS= is accepted as another name for it.
NOTEBOOKS ?=
CHAPTERS ?= $(NOTEBOOKS)
STAMP   := $(VENV)/.installed
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup course lab test unit-test notebook-test browser-test student student-test bench bench-gpt check-env verify clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	$(PY) -m bigmodel_helpers.assets fetch --quiet
	touch $@

setup: $(STAMP)

course: $(STAMP)
	$(PY) -m bigmodel_helpers.notebooks --profile $(PROFILE) $(CHAPTERS)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=chapters $(ROOT_FLAG)

# nbval then re-executes every executed smoke copy (the shell expands the glob after the first run wrote
# them) and compares the outputs of cells marked NBVAL_CHECK_OUTPUT: the run must reproduce itself.
NBVAL_NOTEBOOKS ?= build/smoke/executed/ch*.ipynb build/smoke/executed/app*.ipynb

test: $(STAMP)
	$(VENV)/bin/ruff check .
	BIGMODEL_STUDENT_RUNS=ch01_overview $(PY) -m pytest -q --durations=15 -m "not browser" tests
	$(PY) -m pytest -q --durations=5 -p no:cacheprovider --nbval-lax --nbval-current-env $(NBVAL_NOTEBOOKS)

unit-test: $(STAMP)
	$(PY) -m pytest -q -m "not browser and not notebooks" tests

notebook-test: $(STAMP)
	$(PY) -m pytest -q -m notebooks tests

browser-test: $(STAMP)
	$(PY) -m pytest -q -m browser tests

# The student build executes each chapter once per recorded profile (smoke: about a minute per chapter).
STUDENT_PROFILES ?= smoke

student: $(STAMP)
	$(PY) -m bigmodel_helpers.student chapters student --profiles $(STUDENT_PROFILES)

student-test: $(STAMP)
	$(VENV)/bin/ruff check .
	BIGMODEL_STUDENT_RUNS=1 $(PY) -m pytest -q -m notebooks tests/test_student.py

bench: $(STAMP)
	$(PY) bench/bench_trainer.py

bench-gpt: $(STAMP)
	$(PY) bench/bench_gpt.py

check-env: $(STAMP)
	$(PY) -m bigmodel_helpers.env

verify: $(STAMP)
	$(PY) -m bigmodel_helpers.assets verify

clean:
	rm -rf build student .pytest_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
