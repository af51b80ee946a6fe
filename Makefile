# depthcam: `make source-direct` runs it, `make test` tests it. Both set up what they need first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 9000
DEVICE ?= scene
CHROMIUM ?= /usr/bin/chromium

RUNTIME_STAMP := $(VENV)/.depthcam-runtime
DEV_STAMP := $(VENV)/.depthcam-dev
CLIENT_STAMP := client/node_modules/.depthcam-installed

.PHONY: help setup source-direct source-push relay bench-relay test test-js test-py chromium coder bench bench-colour vectors clean

help:
	@echo "make source-direct   run the source with the built-in scene on http://localhost:$(PORT)/"
	@echo "make test            install what the tests need, then run them all"
	@echo "make source-push     push the built-in scene to a relay: make source-push RELAY=ws://HOST:9000/source/NAME"
	@echo "                     (token in relay-token.txt or DEPTHCAM_RELAY_TOKEN)"
	@echo "make relay           run the relay on 0.0.0.0:$(PORT) (token in relay-token.txt or DEPTHCAM_RELAY_TOKEN)"
	@echo "make bench-relay     relay load benchmark against a node.js ws relay"
	@echo "make bench           codec benchmark table (make bench ARGS='DIR ...' for other recordings)"
	@echo "make bench-colour    colour picture bytes and times beside the depth profiles"
	@echo "make vectors         rewrite tests/vectors/ from the codec"

$(RUNTIME_STAMP): setup.cfg setup.py pyproject.toml codec/_contextmodel.c
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(DEV_STAMP): $(RUNTIME_STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

$(CLIENT_STAMP): client/package.json client/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: see INSTALL.md (Debian: apt-get install nodejs npm)"; exit 1; }
	cd client && npm ci --no-audit --no-fund
	@touch $@

setup: $(RUNTIME_STAMP) $(CLIENT_STAMP)

# DEVICE: scene, kinect[:INDEX], file:PATH, fakenect:DIR or png:DIR; recordings loop.
source-direct: setup
	$(PY) -m depthcam.source serve --port $(PORT) --device $(DEVICE) --loop

# The token comes from a file or DEPTHCAM_RELAY_TOKEN, never from the command line.
TOKEN_FILE ?= relay-token.txt
RELAY_HOST ?= 0.0.0.0
relay: setup
	$(PY) -m depthcam.relay --host $(RELAY_HOST) --port $(PORT) $(if $(DEPTHCAM_RELAY_TOKEN),,--token-file $(TOKEN_FILE))

# Push mode: RELAY is the relay's ws://HOST:PORT/source/NAME (ws://HOST:PORT: the default stream).
RELAY ?= ws://localhost:$(PORT)/source/default
source-push: $(RUNTIME_STAMP)
	$(PY) -m depthcam.source push $(RELAY) --device $(DEVICE) $(if $(DEPTHCAM_RELAY_TOKEN),,--token-file $(TOKEN_FILE))

bench-relay: $(RUNTIME_STAMP) bench/node_modules/.depthcam-installed
	$(PY) bench/relay.py $(ARGS)

bench/node_modules/.depthcam-installed: bench/package.json bench/package-lock.json
	cd bench && npm ci --no-audit --no-fund
	@touch $@

chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "Debian's chromium is needed for the browser tests; run: sudo apt-get install chromium"; exit 1; \
	  fi; \
	fi

# The classic profile's context-mixing coder is C, built by pip when a compiler is there (else the
# source falls back to LZMA). The tests need it: build it, installing gcc as chromium is installed.
coder: $(RUNTIME_STAMP)
	@if ! $(PY) -c 'import depthcam.codec._contextmodel' 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && ! command -v gcc >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc python3-dev; \
	  fi; \
	  $(PY) -m pip install --quiet --disable-pip-version-check -e . ; \
	  $(PY) -c 'import depthcam.codec._contextmodel' 2>/dev/null || { \
	    echo "the C coder did not build: install a C compiler and Python's headers (Debian: sudo apt-get install gcc python3-dev), then make test"; exit 1; }; \
	fi

test-js: $(CLIENT_STAMP)
	node --test tests/client/

test-py: $(DEV_STAMP) $(CLIENT_STAMP) chromium coder
	$(PY) -m pytest

test: test-js test-py

bench: $(RUNTIME_STAMP)
	$(PY) bench/codec.py $(ARGS)

bench-colour: $(RUNTIME_STAMP)
	$(PY) bench/colour.py $(ARGS)

vectors: $(RUNTIME_STAMP)
	$(PY) -m depthcam.codec.vectors

clean:
	rm -rf $(VENV) client/node_modules .pytest_cache .hypothesis build codec/_contextmodel*.so
