# portreg — the two commands of the README, and the usual targets.
#   make run    install what is missing, build, run the main job
#   make test   install what is missing, build (plain, ASan+UBSan, fuzzers), run every suite
#   make, make install (PREFIX, DESTDIR), make deb (build/portreg_*.deb, lintian), make bench,
#   make fuzz, make clean
PREFIX ?= /usr/local
DESTDIR ?=
BUILD := build
BUILD_ASAN := build-asan
BUILD_FUZZ := build-fuzz
SERVE_STATE := $(BUILD)/serve-state
SERVE_LISTEN ?= 127.0.0.1:7678
FUZZ_SECONDS ?= 5
LONG_FUZZ_SECONDS ?= 300

.PHONY: all deps deps-test deps-bench deps-deb deb build build-asan build-fuzz run test install bench fuzz clean

all: build

deps:
	@scripts/install-deps.sh build

deps-test:
	@scripts/install-deps.sh test

deps-bench:
	@scripts/install-deps.sh bench

deps-deb:
	@scripts/install-deps.sh deb

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX) -Dwerror=true

build: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD)

$(BUILD_ASAN)/build.ninja:
	meson setup $(BUILD_ASAN) -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true -Dtests=enabled

build-asan: deps-test $(BUILD_ASAN)/build.ninja
	meson compile -C $(BUILD_ASAN)

$(BUILD_FUZZ)/build.ninja:
	CC=clang meson setup $(BUILD_FUZZ) -Dfuzz=true -Dtests=disabled -Db_sanitize=address,undefined \
	  -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link

build-fuzz: deps-test $(BUILD_FUZZ)/build.ninja
	meson compile -C $(BUILD_FUZZ)

# The main job: the registry's sources, a lookup, this host's listening sockets with the
# processes holding them, the audit; then the registry server (portreg serve) on
# $(SERVE_LISTEN) with its SQLite database under the build folder, until ^C.
run: build
	./$(BUILD)/portreg registry info
	@echo
	./$(BUILD)/portreg lookup 3306 53/udp
	@echo
	./$(BUILD)/portreg ls
	@echo
	./$(BUILD)/portreg audit || true
	@echo
	@mkdir -p $(SERVE_STATE) && chmod 700 $(SERVE_STATE)
	@token=$$(./$(BUILD)/portreg --state-dir $(SERVE_STATE) serve token create --role admin --name make-run) && \
	  echo "portreg serve: http://$(SERVE_LISTEN)/  (state and SQLite database in $(SERVE_STATE); ^C stops it)" && \
	  echo "admin token:   $$token" && \
	  echo "try:           curl -H 'Authorization: Bearer $$token' http://$(SERVE_LISTEN)/api/v1/registry/3306"
	./$(BUILD)/portreg --state-dir $(SERVE_STATE) serve --listen $(SERVE_LISTEN)

# The plain build's tests are `auto` (make run needs no test packages); make test enables them,
# so a missing cmocka or bats is an error here instead of a silently smaller suite.
test: deps-test build-asan build-fuzz $(BUILD)/build.ninja
	meson configure $(BUILD) -Dtests=enabled
	meson compile -C $(BUILD)
	@scripts/run-tests.sh $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(FUZZ_SECONDS)

# The Debian package (debian/): dpkg-buildpackage -us -uc -b in $(BUILD)/deb/ from a copy of
# the tree, the .deb copied into $(BUILD)/, then lintian on it (an error fails the target).
deb: deps-deb
	@deb=$$(scripts/build-deb.sh $(BUILD)) && echo "make deb: $$deb" && \
	  lintian --fail-on error --tag-display-limit 0 "$$deb"

install: build
	meson configure $(BUILD) --prefix=$(PREFIX)
	meson install -C $(BUILD) --destdir "$(DESTDIR)"

bench: deps-bench build
	bench/run.sh $(BUILD)/portreg
	bench/inspector.sh $(BUILD)/portreg
	bench/scan.sh $(BUILD)/portreg
	bench/plan_check.sh $(BUILD)/portreg
	bench/serve_registry.sh $(BUILD)/portreg
	bench/serve_leases.sh $(BUILD)/portreg

fuzz: build-fuzz
	scripts/fuzz.sh $(BUILD_FUZZ) $(LONG_FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
