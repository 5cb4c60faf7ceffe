# Frontier: `make run` starts the dashboard for one person, `make serve` for a team, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501
HOST ?= 127.0.0.1
APT_TEST_PACKAGES := chromium fonts-liberation postgresql

.PHONY: install run serve test test-fast lint samples bench clean apt-test-deps

install: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# One person, embedded: listens on this machine only, no sign-in (you act as the local user).
run: install
	$(PY) -m streamlit run dashboard/app.py --server.address 127.0.0.1 --server.port $(PORT) --server.headless true

# The team deployment: listens on HOST:PORT, requires sign-in (.streamlit/secrets.toml), hardened settings;
# refuses to start when sign-in, XSRF protection or the upload limit are off or too high.
serve: install
	$(PY) -m dashboard.serve --host $(HOST) --port $(PORT)

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
