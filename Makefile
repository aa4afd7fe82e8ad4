# Clearwatch: `make demo` and `make test` each set themselves up from a fresh clone.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed
DEMO_SECONDS ?= 60
PYTEST_ARGS ?=
APT_PACKAGES := python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly \
	chromium fonts-dejavu-core fonts-dejavu-extra nats-server

.PHONY: demo test test-fast lint apt-deps venv bench clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -r requirements.lock
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

venv: $(STAMP)

apt-deps:
	@scripts/apt-deps.sh $(APT_PACKAGES)

demo: $(STAMP)
	$(VENV)/bin/clearwatch demo --duration $(DEMO_SECONDS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

# the rules alone (zones, lines, counters, machines, NMS, units, the audit chain, config resolution): seconds
test-fast: $(STAMP)
	$(VENV)/bin/pytest -q tests/unit

test: $(STAMP) apt-deps lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: $(STAMP) apt-deps
	$(VENV)/bin/python benchmarks/startup.py
	$(VENV)/bin/python benchmarks/recording.py
	$(VENV)/bin/python benchmarks/live.py
	$(VENV)/bin/python benchmarks/pipeline.py
	$(VENV)/bin/python benchmarks/faces.py
	$(VENV)/bin/python benchmarks/api.py
	$(VENV)/bin/python benchmarks/fingerprints.py
	$(VENV)/bin/python benchmarks/plates.py
	$(VENV)/bin/python benchmarks/alarms.py
	$(VENV)/bin/python benchmarks/accountability.py
	$(VENV)/bin/python benchmarks/federation.py

clean:
	rm -rf $(VENV) clearwatch-data .pytest_cache build *.egg-info src/*.egg-info
