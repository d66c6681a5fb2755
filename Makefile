# botpool: `make up` starts the system locally, `make test` runs every test.
# Both install what they need first (Debian packages, the built HashiCorp binaries,
# the Python environment). `make help` lists every target.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo .botpool/uv/bin/uv)
RUN := $(UV) run --frozen
PY_SOURCES := botpool botpool_cli bot_runtime reconciler scaler sales_bot operator_bot devstack tests bench

.DEFAULT_GOAL := help
.PHONY: help deps binaries up down reset status doctor lint test bench bench-report texts clean

help: ## List the targets and what they do.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## Install Debian packages (PostgreSQL 15, Redis 7, Prometheus, Alertmanager), uv and the locked Python environment.
	@scripts/install-deps.sh

binaries: deps ## Build Nomad, Consul and Vault from the Go module proxy (cached; skipped if on PATH).
	@$(RUN) python -m devstack.binaries

up: binaries ## Start the whole system locally (stack, stand-ins, reconciler, warm pool, scaler, sales bot, operator bot, Prometheus, Alertmanager); print addresses.
	@$(RUN) botpool up

down: ## Stop the local stack and everything it started; keep its data (tenants, pool, secrets) for the next up.
	@$(RUN) botpool down

reset: ## Stop the local stack and delete its data: the next up starts from nothing.
	@$(RUN) botpool reset

status: ## Show the local stack's services, their health, and every pool slot.
	@$(RUN) botpool status

doctor: deps ## Check every dependency and say how to fix what is missing.
	@$(RUN) botpool doctor

lint: deps ## Run ruff, mypy (strict) and the import contracts (the one-way dependency rule) over all Python code.
	@$(RUN) ruff check $(PY_SOURCES)
	@$(RUN) mypy $(PY_SOURCES)
	@$(RUN) lint-imports --no-cache

test: binaries lint ## Run every test against the real services (installs what it needs first).
	@$(RUN) pytest

# Each bot's texts: <package dir>:<gettext domain>; the dir holds locales/babel.cfg and
# locales/<lang>/LC_MESSAGES/<domain>.po with the compiled .mo (committed; a test checks they match).
TEXT_DOMAINS := bot_runtime/booking:booking sales_bot:sales operator_bot:operator

texts: deps ## Sync every text catalog with the keys the code uses (new ones empty, unused ones dropped); compile.
	@set -euo pipefail; for entry in $(TEXT_DOMAINS); do \
	  src=$${entry%%:*}; domain=$${entry##*:}; pot=$$(mktemp --suffix=.pot); trap 'rm -f "$$pot"' EXIT; \
	  $(RUN) pybabel -q extract --no-location --sort-output -F $$src/locales/babel.cfg -o "$$pot" $$src; \
	  grep -q '^msgid "[a-z]' "$$pot" || { echo "no message keys found in $$src: check $$src/locales/babel.cfg"; exit 1; }; \
	  $(RUN) pybabel -q update -D $$domain -i "$$pot" -d $$src/locales --no-fuzzy-matching --ignore-obsolete; \
	  $(RUN) pybabel compile --statistics -D $$domain -d $$src/locales; \
	done

BENCHMARKS := bench/activation.py bench/scaling.py bench/booking.py bench/purchase.py bench/faults.py

bench: binaries ## Run the benchmarks (each on its own throwaway stack), save each one's JSON line in .bench/, print the table.
	@set -o pipefail; mkdir -p .bench; rm -f .bench/*.json; failed=0; \
	for b in $(BENCHMARKS); do name=$$(basename $$b .py); echo "== $$b"; \
	  $(RUN) python $$b | tee .bench/$$name.log || failed=1; tail -n 1 .bench/$$name.log > .bench/$$name.json; \
	done; \
	$(RUN) python -m bench.report .bench; exit $$failed

bench-report: ## Print the table of the last `make bench` again (from .bench/, markdown for docs/performance.md).
	@$(RUN) python -m bench.report .bench

clean: down ## Stop the stack, remove stacks interrupted test runs left in /tmp, and caches (not the binaries).
	@$(RUN) botpool clean
	@rm -rf .mypy_cache .ruff_cache .pytest_cache
