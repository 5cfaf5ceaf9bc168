# Orthrus: `make install`, `make test`, `make demo`. Everything lands in .venv; nothing is
# installed system-wide except what the browser and peer tests need (Debian's chromium and
# MIT Kerberos, when root).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCKED := $(VENV)/.locked-stamp
LOCKS  := requirements/bootstrap.lock requirements/dev.lock
PIP    := $(BIN)/python -m pip --quiet --disable-pip-version-check
# Each module whole on one worker (its fixtures built once), the long ones first
# (tests/conftest.py).
PYTEST_ARGS ?= -n 2 --dist loadscope --no-loadscope-reorder
# What the tools need first: the locked venv. `make test-latest` empties it to use a venv of
# its own (the newest versions pyproject.toml allows) with the same targets.
READY ?= install
MUTATIONS_ARGS ?= --record docs/security.md

.PHONY: install lock test-latest lint typecheck docs test pytest test-slow fuzz mutations demo \
	walkthrough clean browser mit-peers bench bench-enumeration bytecode

install: $(STAMP)

# Exactly the versions of the locks (requirements/*.lock, `make lock`), checked against their
# hashes: first the installers (pip, setuptools, uv) with pip, then every dependency with the
# locked uv (~2 s from its warm cache where pip took ~55 s, most of it compiling bytecode on
# one core). Bytecode is compiled at install, on every core: where PYTHONDONTWRITEBYTECODE is
# set, each of the suite's hundreds of processes would otherwise compile what it imports. The
# venv is made anew when a lock changes, as an install would keep what a lock no longer names.
$(LOCKED): $(LOCKS)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes --no-deps -r requirements/bootstrap.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes --no-deps \
	  --compile-bytecode -r requirements/dev.lock
	@touch $@

# The project itself, without dependencies (built by the locked setuptools); then the check
# that the venv holds the locks and nothing else, and that they satisfy pyproject.toml's
# ranges (which users installing the package get): if not, run `make lock`.
$(STAMP): $(LOCKED) pyproject.toml
	$(PIP) install --no-deps --no-build-isolation -e . --config-settings editable_mode=compat
	$(BIN)/python scripts/lockdiff.py --check
	@touch $@

# Newest versions pyproject.toml allows, the whole suite and the mutations with them, then
# one commit of the locks alone (docs/security.md's mutation figures with them).
lock: install
	bash scripts/lock.sh

# The drift check a maintainer runs by hand (weekly): the newest versions allowed, in a
# scratch venv, the versions that moved, then lint, typecheck, tests and mutations there.
test-latest:
	bash scripts/test_latest.sh

lint: $(READY)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(READY)
	$(BIN)/mypy

# The documentation site (mkdocs.yml): docs/*.md and an API reference generated from the
# docstrings, into site/. Strict: a broken link, a missing page or a docstring mkdocstrings
# cannot read fails the build.
docs: $(READY)
	$(BIN)/mkdocs build --strict --quiet

# The static checks run beside the suite: they keep one core busy for ~18 s, the suite keeps
# two busy for minutes, so run one after the other they added their whole time. Their lines
# may land between the suite's progress dots; a failure of either fails `make test`.
test: browser mit-peers
	$(MAKE) --no-print-directory -j 4 lint typecheck docs pytest

pytest: $(READY) bytecode
	$(BIN)/pytest -q $(PYTEST_ARGS)

# The project's own modules compiled to bytecode before the suite starts its hundreds of
# Python processes (CLIs, servers, examples): where PYTHONDONTWRITEBYTECODE is set, each of
# them would otherwise compile every module it imports again (~0.1-0.2 s of CPU a start).
# Python reads these files whatever that variable says, and ignores one an edit made stale
# (its source's size and time no longer match); the next run refreshes it.
BYTECODE_DIRS := orthrus orthrus_io kdc client_lib service_lib service_demo labs bench scripts tests
bytecode: $(READY)
	$(BIN)/python -m compileall -q -j 0 $(BYTECODE_DIRS)

# The lab page's browser test drives Debian's chromium with playwright (never `playwright
# install`, whose download is blocked). Installed here only when missing and we are root; if
# that fails the test skips and says why.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	   >/dev/null) || echo "make: could not install chromium; the browser test will skip"; \
	fi

# MIT Kerberos's own programs for the peer tests (tests/peers, issue 14 §7): kinit, klist,
# kvno, ktutil (krb5-user), krb5kdc, kadmind, faketime, curl and tshark (lab exercise 16),
# from Debian; and for the Negotiate peers (issue 15 §4) Debian's Python bindings of MIT's
# GSS-API and requests' Kerberos auth, run by /usr/bin/python3 (no C build in the venv).
# Installed here only when one is missing and we are root; if that fails the peer tests
# skip and say why.
PY3_DIST := /usr/lib/python3/dist-packages
MIT_PEERS := krb5-user:/usr/bin/kinit krb5-kdc:/usr/sbin/krb5kdc \
	krb5-admin-server:/usr/sbin/kadmind faketime:/usr/bin/faketime curl:/usr/bin/curl \
	tshark:/usr/bin/tshark python3-gssapi:$(PY3_DIST)/gssapi/__init__.py \
	python3-requests-kerberos:$(PY3_DIST)/requests_kerberos/__init__.py
mit-peers:
	@missing=""; for pair in $(MIT_PEERS); do \
	  [ -e "$${pair#*:}" ] || missing="$$missing $${pair%%:*}"; \
	done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing \
	   >/dev/null) || echo "make: could not install$$missing; the MIT peer tests will skip"; \
	fi

test-slow: install bytecode
	$(BIN)/pytest -q -m slow $(PYTEST_ARGS)

# The long fuzz (docs/security.md): 10^6 inputs per endpoint, schemathesis, bit flips.
fuzz: install
	bash scripts/fuzz.sh

# Each attack test against the tree with its defence removed (docs/security.md): every test
# must then fail (or be covered by a library's own check, named in the list). Uses
# PostgreSQL/Redis when ORTHRUS_TEST_PG_URL/ORTHRUS_TEST_REDIS_URL are set. Writes its
# figures into docs/security.md.
mutations: $(READY)
	$(BIN)/python scripts/attack_mutations.py $(MUTATIONS_ARGS)

demo: install
	$(BIN)/python scripts/demo.py

# Orthrus beside MIT Kerberos on this machine (docs/performance.md): installs MIT's Debian
# packages when missing and root, else runs Orthrus alone and says why. Not part of `test`.
bench: install
	$(BIN)/python -m bench.run

# Can the AS's timing tell which names exist (hide_unknown_principals on)? Medians and
# two-sample KS tests of 2,000 interleaved requests per series (docs/security.md).
bench-enumeration: install
	$(BIN)/python -m bench.enumeration_timing --in-process

walkthrough: install
	bash scripts/walkthrough.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var site
