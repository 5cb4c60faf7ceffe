# Frontier: `make run` starts the dashboard, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501
APT_TEST_PACKAGES := chromium fonts-liberation

.PHONY: install run test test-fast lint samples bench clean apt-test-deps

install: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

run: install
	$(PY) -m streamlit run dashboard/app.py --server.port $(PORT) --server.headless true

# Installs the Debian packages the browser tests need when they are missing.
apt-test-deps:
	@missing=""; for p in $(APT_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

test: install apt-test-deps
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not browser and not slow"

lint: install
	$(VENV)/bin/ruff check .

samples: install
	$(PY) -m sample_models.build

bench: install
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
