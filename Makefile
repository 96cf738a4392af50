# Amtsweg front door. Quick start on a fresh machine with only Python and pip:
#   make run    install, migrate, load demo data, print demo logins, serve on SQLite
#   make test   install what the tests need (Debian packages when root) and run every suite
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
export AMTSWEG_DATABASE_URL ?= sqlite:///$(CURDIR)/var/amtsweg.db

.PHONY: run test uv deps test-deps system-deps serve migrate demo lint bench migration i18n clean

uv:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

deps: uv
	@$(UV) sync --frozen --no-dev --quiet

test-deps: uv
	@$(UV) sync --frozen --quiet

system-deps:
	@scripts/install-system-deps.sh

migrate: deps
	@$(UV) run --no-dev amtsweg db upgrade

demo: migrate
	@$(UV) run --no-dev amtsweg demo

run: demo
	@$(UV) run --no-dev amtsweg serve

serve: deps
	@$(UV) run --no-dev amtsweg serve

test: test-deps system-deps
	@scripts/run-tests.sh

lint: test-deps
	@$(UV) run ruff check .

bench: test-deps
	@for b in bench/*.py; do echo "== $$b"; $(UV) run python $$b || exit 1; done

migration: test-deps
	@test -n "$(m)" || (echo 'usage: make migration m="what changed"'; exit 2)
	@$(UV) run alembic revision --autogenerate -m "$(m)"

# After changing page texts: extract the German message ids and merge them into the English
# catalog; then translate the new entries in locale/en/LC_MESSAGES/messages.po (the test
# suite fails while any is untranslated).
i18n: test-deps
	@$(UV) run pybabel extract -F babel.cfg --no-location --sort-output -o locale/messages.pot .
	@$(UV) run pybabel update -i locale/messages.pot -d locale -l en --no-fuzzy-matching --width 100

clean:
	rm -rf var .pytest_cache test-results
