# Two commands for a new user: `make demo` and `make test`. Each sets up what it
# needs (system simulators, .venv with the pinned Python packages) on first use.
VENV  ?= .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
JOBS  ?= auto
OUT   ?= out/demo

.PHONY: setup demo test test-full nightly lint bench clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml scripts/setup.sh
	bash scripts/setup.sh $(VENV)
	touch $(STAMP)

demo: setup
	$(BIN)/trtrl demo -o $(OUT)

test: setup
	$(BIN)/python -m pytest -n $(JOBS) -q

test-full: setup
	$(BIN)/python -m pytest -n $(JOBS) -q --full

# The full cocotb matrix (both simulators, slow cases, 12 random configurations) with a
# summary table and JUnit XML in out/nightly/; not part of `make test`. TB_SEED=N draws
# other random configurations.
nightly: setup
	$(BIN)/trtrl regress --full -j $(JOBS) -o out/nightly $(if $(TB_SEED),--seed $(TB_SEED))

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/trtrl bench model

clean:
	rm -rf out build sim_build .pytest_cache
