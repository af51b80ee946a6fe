# depthcam: `make source-direct` runs it, `make test` tests it. Both set up what they need first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 9000
DEVICE ?= scene
CHROMIUM ?= /usr/bin/chromium
FIREFOX ?= /usr/bin/firefox-esr

RUNTIME_STAMP := $(VENV)/.depthcam-runtime
DEV_STAMP := $(VENV)/.depthcam-dev
CLIENT_STAMP := client/node_modules/.depthcam-installed
TEST_CLIENT_STAMP := tests/client/node_modules/.depthcam-installed
CONTEXT_WASM := client/contextmodel.wasm

.PHONY: help setup source-direct source-push relay bench-relay test test-js test-py chromium firefox coder kinect realsense bench bench-colour vectors clean

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
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,redis]'
	@touch $@

$(CLIENT_STAMP): client/package.json client/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: see INSTALL.md (Debian: apt-get install nodejs npm)"; exit 1; }
	cd client && npm ci --no-audit --no-fund
	@touch $@

# Test-only npm packages: js-lzma (the 2012 client's decoder) and puppeteer-core, which drives the
# system's firefox-esr and must never download a browser of its own.
$(TEST_CLIENT_STAMP): tests/client/package.json tests/client/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: see INSTALL.md (Debian: apt-get install nodejs npm)"; exit 1; }
	cd tests/client && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund
	@touch $@

# classic-cm's decoder for the browser is the C coder itself, compiled to freestanding WebAssembly
# by Debian's clang and lld (no emscripten, no libc), installed as chromium is installed.
$(CONTEXT_WASM): codec/_contextmodel.c wasm_build.py
	@if ! command -v clang >/dev/null || ! command -v wasm-ld >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang lld; \
	  else \
	    echo "clang and lld build the browser's classic-cm decoder; run: sudo apt-get install clang lld"; exit 1; \
	  fi; \
	fi
	$(PYTHON) wasm_build.py $@

setup: $(RUNTIME_STAMP) $(CLIENT_STAMP) $(CONTEXT_WASM)

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

# Firefox runs headful on Xvfb (headless Firefox has no WebGL here): firefox-esr, xvfb and xauth.
firefox:
	@if [ ! -x $(FIREFOX) ] || ! command -v xvfb-run >/dev/null || ! command -v xauth >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq firefox-esr xvfb xauth; \
	  else \
	    echo "Debian's firefox-esr and xvfb are needed for the browser tests; run: sudo apt-get install firefox-esr xvfb xauth"; exit 1; \
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

# The Kinect tests drive the real freenect bindings and libfreenect through Debian's fakenect
# stand-in: the library and its fakenect build, gcc (for the test's C stub, and with the Python
# headers for building the bindings), then the bindings in the venv. Installed as chromium is;
# without them the Kinect tests skip, and the run's last line says so.
KINECT_DEBS := libfreenect-dev libfreenect-bin gcc python3-dev
kinect: $(DEV_STAMP)
	@if [ "$$(id -u)" = 0 ] && command -v dpkg >/dev/null && ! dpkg -s $(KINECT_DEBS) >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(KINECT_DEBS); \
	fi
	@if [ -f /usr/include/libfreenect.h ] && ! $(PY) -c 'import freenect' 2>/dev/null; then \
	  $(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,kinect]'; \
	fi

# The RealSense tests record and play back through Intel's SDK (pyrealsense2: PyPI wheels for
# Linux x86_64, nothing to build). Installed as the Kinect's bindings are; without a wheel for this
# machine the RealSense tests skip, and the run's last line says so.
realsense: $(DEV_STAMP)
	@$(PY) -c 'import pyrealsense2' 2>/dev/null \
	  || $(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,realsense]' \
	  || echo "no pyrealsense2 wheel for this machine: the RealSense tests will skip"

# node --test passes when it finds no test file (a rename is enough): the TAP copy of its report
# must count at least one test. A test still running after JS_TEST_TIMEOUT_MS fails (all of them
# take 2 s together on an idle machine).
JS_TEST_TAP := client/node_modules/.test-js.tap
JS_TEST_TIMEOUT_MS := 120000
test-js: $(CLIENT_STAMP) $(TEST_CLIENT_STAMP) $(CONTEXT_WASM)
	node --test --test-timeout=$(JS_TEST_TIMEOUT_MS) --test-reporter=spec --test-reporter-destination=stdout \
	  --test-reporter=tap --test-reporter-destination=$(JS_TEST_TAP) tests/client/
	@grep -q '^# tests [1-9]' $(JS_TEST_TAP) || { echo "node --test found no tests in tests/client/"; exit 1; }

test-py: $(DEV_STAMP) $(CLIENT_STAMP) $(TEST_CLIENT_STAMP) $(CONTEXT_WASM) chromium firefox coder kinect realsense
	$(PY) -m pytest

test: test-js test-py

bench: $(RUNTIME_STAMP)
	$(PY) bench/codec.py $(ARGS)

bench-colour: $(RUNTIME_STAMP)
	$(PY) bench/colour.py $(ARGS)

vectors: $(RUNTIME_STAMP)
	$(PY) -m depthcam.codec.vectors
	$(PY) -m depthcam.codec.handmade_vectors
	$(PY) -m depthcam.codec.edgevectors

clean:
	rm -rf $(VENV) client/node_modules tests/client/node_modules .pytest_cache .hypothesis build dist *.egg-info codec/_contextmodel*.so $(CONTEXT_WASM)
