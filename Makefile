# hpn-p4: P4 programs, controller and tests. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
P4C_BMV2 ?= p4c-bm2-ss
P4SRC := p4src
BMV2_OUT := $(P4SRC)/out/bmv2
P4_SOURCES := $(shell find $(P4SRC)/shared $(P4SRC)/v1model -name '*.p4' 2>/dev/null)
TOPO ?= topologies/hpn-mini.yaml
SETUP_STAMP := $(VENV)/.setup-done
# Tested versions of every Python dependency; `make setup CONSTRAINTS=` installs the newest allowed.
CONSTRAINTS ?= constraints.txt

.PHONY: help setup constraints system-packages p4 p4-tna lint test unit ptf demo shell clean

help:
	@echo "make setup    Python venv (.venv) with the project at the versions of constraints.txt, and on Debian/Ubuntu as root the system packages"
	@echo "make constraints   re-pin constraints.txt to the newest versions pyproject.toml allows"
	@echo "make p4       compile p4src/v1model/hpn.p4 for bmv2 into $(BMV2_OUT) (needs p4c)"
	@echo "make p4-tna   compile p4src/tna/hpn.p4 for Tofino into p4src/out/tofino (needs bf-p4c)"
	@echo "make lint     ruff + mypy"
	@echo "make test     lint, unit + integration tests (pytest), PTF suites; skips are printed with reasons"
	@echo "make ptf      PTF suites on bmv2 in a private network namespace (needs bmv2 + root)"
	@echo "make demo     the main job: emulated fabric up, programmed, checked, torn down"
	@echo "make shell SW=<switch> [TOPO=...]   p4runtime-shell on one switch of a running emulation"

$(SETUP_STAMP): pyproject.toml $(CONSTRAINTS)
	@$(MAKE) --no-print-directory system-packages
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e '.[dev,plot]'
	@touch $@

# Re-pin constraints.txt to the newest versions pyproject.toml allows (run the tests after).
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install -q --upgrade pip
	.venv-constraints/bin/python -m pip install -q -e '.[dev,plot]'
	{ sed -n '/^#/p' constraints.txt; .venv-constraints/bin/python -m pip freeze --exclude-editable | grep -v '^#'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .venv-constraints

# Mininet comes from apt: link just its package into the venv (not all of dist-packages).
MININET_PKG := /usr/lib/python3/dist-packages/mininet
setup: $(SETUP_STAMP)
	@site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))'); \
	  if [ -d $(MININET_PKG) ] && [ ! -e "$$site/mininet" ]; then ln -s $(MININET_PKG) "$$site/mininet"; fi

# System packages the emulation and tests use (not p4c/bmv2: see README).
system-packages:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  need=""; for p in iproute2 mininet python3-venv; do dpkg -s $$p >/dev/null 2>&1 || need="$$need $$p"; done; \
	  if [ -n "$$need" ]; then echo "apt-get install$$need"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$need >/dev/null) \
	    || echo "warning: could not install$$need; tests that need them will skip"; fi; \
	else echo "not root or no apt-get: skipping system packages (Mininet, iproute2)"; fi

p4: $(BMV2_OUT)/hpn.json

$(BMV2_OUT)/hpn.json: $(P4_SOURCES)
	@command -v $(P4C_BMV2) >/dev/null || { echo "error: $(P4C_BMV2) not found; install p4c (see README)"; exit 2; }
	@mkdir -p $(BMV2_OUT)
	$(P4C_BMV2) --arch v1model --std p4-16 \
	  -o $(BMV2_OUT)/hpn.json --p4runtime-files $(BMV2_OUT)/hpn.p4info.txtpb \
	  $(P4SRC)/v1model/hpn.p4

# P4Info, BF Runtime schema and a resource summary into $(P4SRC)/out/tofino (committed);
# TOFINO_BUILD=DIR keeps the binary and the compiler's logs.
p4-tna:
	$(PYTHON) tools/tofino_build.py $(if $(TOFINO_BUILD),--keep $(TOFINO_BUILD))

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

unit: setup
	$(VENV)/bin/pytest -m "not integration and not emulation"

ptf: setup
	$(PY) ptf_tests/run_ptf.py

# PTF first, so pytest's summary (with the per-suite RAN/SKIPPED lines) closes the run.
test: setup lint
	$(PY) ptf_tests/run_ptf.py
	$(VENV)/bin/pytest

demo: setup
	$(VENV)/bin/hpnctl demo $(TOPO)

shell: setup
	@test -n "$(SW)" || { echo "usage: make shell SW=<switch name> [TOPO=$(TOPO)]"; exit 2; }
	$(PY) tools/p4rt_shell.py $(TOPO) $(SW)

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache .hypothesis .venv-constraints
