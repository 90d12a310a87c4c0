# brandpulse developer entry points. `make demo` and `make test` are the README's quick start.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: install demo test test-fast test-long test-soak lint-imports bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements-nodeps.txt
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# The CPU build of torch that lies on these machines; pinned first so nothing pulls a CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test]'
	$(PIP) install -q --no-deps -r requirements-nodeps.txt
	touch $@

## The main job on the embedded default: local broker + chDB + default model (trained on first run).
demo: install
	$(VENV)/bin/brandpulse demo

## The layers contract (pyproject's [tool.importlinter]), then every tier: tests/unit, tests/integration
## and tests/e2e (starts a local Tansu broker, and says so, if none listens on 127.0.0.1:9092).
## Two pytest-xdist workers, a test file each at a time: most of an end-to-end test is waiting (group
## joins, workers starting), so two overlap well even on two cores.
## The short soak is in (`make test-soak` runs it alone). Apart, to keep CI (this command) within its
## 30 minutes: tests marked `long` (fine-tunes of the training recipe, three more phases of the
## trainer-kill test: `make test-long`).
## A worker that dies in native code ends the run and names its test: xdist's replacement worker
## waited for ever on the dead one's file (a rehearsal hung 4 min until stopped).
test: install lint-imports
	$(PY) -m pytest -q -n 2 --dist loadfile --max-worker-restart 0 -m "not long"

## The tests `make test` leaves out for time: real fine-tunes (distillation, the bootstrap's quality
## floor, the tiny fine-tune) and the trainer killed in its evaluation, upload and announcement phases.
test-long: install
	$(PY) -m pytest -q -n 2 --dist loadfile --max-worker-restart 0 -m long

## The soak benchmark's short run alone (also in `make test`): broker, worker, trainer and annotator over two domains.
test-soak: install
	$(PY) -m pytest -q -m soak tests/e2e/test_bench_soak.py

## models <- drift <- streams, and no import cycle between the modules of a package.
lint-imports: install
	$(VENV)/bin/lint-imports

## tests/unit only: no broker, no chDB, no network (a unit test that tries fails), no worker processes.
test-fast: install lint-imports
	$(PY) -m pytest -q tests/unit

## Benchmarks on a checkpoint: make bench MODEL=path/to/checkpoint
bench: install
	$(VENV)/bin/brandpulse bench scoring --model $(MODEL)
	$(VENV)/bin/brandpulse bench pipeline --model $(MODEL)

clean:
	rm -rf .brandpulse .pytest_cache
