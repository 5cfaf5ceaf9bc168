# Orthrus: `make install`, `make test`, `make demo`. Everything lands in .venv; nothing is
# installed system-wide except what the browser tests need (Debian's chromium, when root).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?= -n 2 --dist loadscope

.PHONY: install lint typecheck test test-slow fuzz mutations demo walkthrough clean browser bench \
	bench-enumeration

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	@touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: install lint typecheck browser
	$(BIN)/pytest -q $(PYTEST_ARGS)

# The lab page's browser test drives Debian's chromium with playwright (never `playwright
# install`, whose download is blocked). Installed here only when missing and we are root; if
# that fails the test skips and says why.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	   >/dev/null) || echo "make: could not install chromium; the browser test will skip"; \
	fi

test-slow: install
	$(BIN)/pytest -q -m slow $(PYTEST_ARGS)

# The long fuzz (docs/security.md): 10^6 inputs per endpoint, schemathesis, bit flips.
fuzz: install
	bash scripts/fuzz.sh

# Each attack test against the tree with its defence removed (docs/security.md): every test
# must then fail. Uses PostgreSQL/Redis when ORTHRUS_TEST_PG_URL/ORTHRUS_TEST_REDIS_URL are set.
mutations: install
	$(BIN)/python scripts/attack_mutations.py

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var
