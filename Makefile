# The two commands a new user needs (see README): `make golden` and `make test`.
# Each creates .venv and installs the project on first use, then runs pytest.
VENV ?= .venv
PYTHON ?= python3
# The torch build to install; these versions are the ones this project is tested with.
TORCH ?= torch==2.14.1 torchvision==0.29.1
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export YOLO_OFFLINE := 1

.PHONY: golden test lint install

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

golden: $(STAMP)
	$(BIN)/pytest cases/

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(VENV)/site
	$(BIN)/pytest tests/ -n 2

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
