# Switchboard: `make run` sets up, builds and starts the server; `make test` runs every suite.
.PHONY: all deps test-deps build web run demo test unit unit-asan integration fuzz e2e faults browser \
        web-check format clean conformance bench-micro screenshots install install-files deploy-check

BUILD_DIR ?= build
JOBS ?= $(shell nproc)
PORT ?= 5000
DEMO_PORT ?= 8080
WEB_DIST := web/dist
# What the app is built from: a change to any of these rebuilds it.
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts \
               web/tsconfig.json web/package-lock.json
# The REST API key `make run` starts the server with, so the app's "create tenant" form can act as
# the job worker (web/src/lib/notifications.ts). Public: development only.
DEV_ACCESS_KEY := switchboard-development-access-key-make-run

all: build

deps:
	@scripts/install-deps

test-deps:
	@scripts/install-deps --test

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DSWITCHBOARD_WERROR=ON

# The demo app's packages, from its own lock file (offline-safe: npm ci never resolves anew).
web/node_modules/.package-lock.stamp: web/package-lock.json
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	touch $@

# The demo app (Vite + React), rebuilt only when its sources changed.
$(WEB_DIST)/index.html: web/node_modules/.package-lock.stamp $(WEB_SOURCES)
	npm run --prefix web --silent build

web: $(WEB_DIST)/index.html

build: $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)
	@$(MAKE) --no-print-directory web

# One instance on the in-memory bus, with what the app's panels use in development: the relay hub
# /hubs/notifications, the REST API on the development key, open event publishing.
run: deps build
	$(BUILD_DIR)/switchboard serve --listen 0.0.0.0:$(PORT) --static-dir $(WEB_DIST) --backplane memory \
	  --server-name local --hub /hubs/notifications --access-key $(DEV_ACCESS_KEY) --events-open

# Redis, two instances with the app's flags and nginx in front on DEMO_PORT
# (examples/multi-instance/run.sh; stop one instance and the app moves to the other).
demo: deps build
	INSTANCES=2 NGINX_PORT=$(DEMO_PORT) STATIC_DIR=$(WEB_DIST) examples/multi-instance/run.sh \
	  --hub /hubs/notifications --access-key $(DEV_ACCESS_KEY) --events-open

# Type-check, lint and unit-test the app (also part of `make test`, suite "web").
web-check: web/node_modules/.package-lock.stamp
	@scripts/run-tests web

# The screenshots in docs/images/, taken from the browser test's screens.
screenshots: test-deps build
	SCREENSHOTS=docs/images node --test --test-concurrency=1 tests/browser/app.test.mjs

# The server app of the ASP.NET SignalR JS functional tests (tests/conformance/README.md).
conformance: $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS) --target switchboard-conformance
	$(BUILD_DIR)/switchboard-conformance --listen 127.0.0.1:5005

# Google Benchmark micro-benchmarks of the codecs and the router (bench/micro/README.md);
# extra flags through BENCH_ARGS, e.g. BENCH_ARGS=--benchmark_repetitions=5.
bench-micro: $(BUILD_DIR)/build.ninja
	cmake -S . -B $(BUILD_DIR) -DSWITCHBOARD_BENCH=ON >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS) --target switchboard-micro
	$(BUILD_DIR)/switchboard-micro $(BENCH_ARGS)

test: test-deps build
	@scripts/run-tests

unit: build
	@scripts/run-tests unit

unit-asan:
	@scripts/run-tests unit-asan

integration: test-deps build
	@scripts/run-tests integration

fuzz:
	@scripts/run-tests fuzz

e2e: build
	@scripts/run-tests e2e

# The fault-injection harness (docs/reliability.md): each fault under steady traffic, with its ledger.
faults: test-deps build
	@scripts/run-tests faults

browser: build
	@scripts/run-tests browser

# FHS places (deploy/systemd): `sudo make install`, then `systemctl enable --now switchboard`.
# PREFIX=/usr for a package; DESTDIR stages the tree; WEB_DIR is the demo app's built files.
PREFIX ?= /usr/local
WEB_DIR ?= $(WEB_DIST)
install: build install-files

install-files:
	install -D -m 0755 $(BUILD_DIR)/switchboard $(DESTDIR)$(PREFIX)/bin/switchboard
	install -d $(DESTDIR)$(PREFIX)/share/switchboard/web
	cp -R $(WEB_DIR)/. $(DESTDIR)$(PREFIX)/share/switchboard/web/
	sed 's|/usr/local/|$(PREFIX)/|g' deploy/systemd/switchboard.service > switchboard.service.tmp
	install -D -m 0644 switchboard.service.tmp $(DESTDIR)/etc/systemd/system/switchboard.service
	rm -f switchboard.service.tmp
	@# The settings file is the operator's: never overwritten.
	test -e $(DESTDIR)/etc/switchboard/switchboard.env || \
	  sed 's|/usr/local/|$(PREFIX)/|g' deploy/systemd/switchboard.env | \
	  install -D -m 0640 /dev/stdin $(DESTDIR)/etc/switchboard/switchboard.env

# Static checks of deploy/ (nginx -t, systemd-analyze verify, manifests, dashboards).
deploy-check: build
	@scripts/run-tests deploy

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp')

clean:
	rm -rf build build-asan build-fuzz $(WEB_DIST)
