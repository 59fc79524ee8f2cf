# Switchboard: `make run` sets up, builds and starts the server; `make test` runs every suite.
.PHONY: all deps test-deps build run test unit unit-asan integration fuzz e2e browser format clean conformance \
        bench-micro install install-files deploy-check

BUILD_DIR ?= build
JOBS ?= $(shell nproc)
PORT ?= 5000
SIGNALR_BUNDLE := web/lib/signalr.min.js

all: build

deps:
	@scripts/install-deps

test-deps:
	@scripts/install-deps --test

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DSWITCHBOARD_WERROR=ON

# The npm packages, from the lock file, when they are missing or older than it (the stamp is the
# one scripts/install-deps keeps, so neither installs twice).
node_modules/.package-lock.stamp: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

node_modules/@microsoft/signalr/dist/browser/signalr.min.js: node_modules/.package-lock.stamp

# The browser bundle of the official client, served by the demo page (never a CDN).
$(SIGNALR_BUNDLE): node_modules/@microsoft/signalr/dist/browser/signalr.min.js
	@mkdir -p web/lib
	cp $< $@

build: $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)
	@$(MAKE) --no-print-directory $(SIGNALR_BUNDLE)

run: deps build
	$(BUILD_DIR)/switchboard serve --listen 0.0.0.0:$(PORT) --static-dir web --backplane memory

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

browser: build
	@scripts/run-tests browser

# FHS places (deploy/systemd): `sudo make install`, then `systemctl enable --now switchboard`.
# PREFIX=/usr for a package; DESTDIR stages the tree; WEB_DIR is the demo app's built files.
PREFIX ?= /usr/local
WEB_DIR ?= web
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
	rm -rf build build-asan build-fuzz web/lib
