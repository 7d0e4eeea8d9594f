# The two commands of the README: `make run` and `make test`. Each installs what it needs on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOME_DIR ?= $(or $(DATASPACE_HOME),var)
PORT ?= 8501

.PHONY: run test demo lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo is built when its last step (an approved release) is missing, so an interrupted build is redone.
DEMO_DONE := $(HOME_DIR)/approved/pneumonia_atlas/CURRENT

$(DEMO_DONE): | $(STAMP)
	$(BIN)/dataspace build --demo

demo: $(STAMP)
	$(BIN)/dataspace build --demo

run: $(STAMP) $(DEMO_DONE)
	$(BIN)/dataspace serve --port $(PORT)

test: $(STAMP)
	sh scripts/ensure-browser.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/dataspace bench

clean:
	rm -rf $(HOME_DIR) .pytest_cache test-artifacts
