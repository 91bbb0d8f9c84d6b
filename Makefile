# The two commands (see README): `make run` and `make test`. Everything else is a helper.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py

.PHONY: run test setup setup-dev vendor chromium migrate seed bench lifecycle-doc clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev

# Browser libraries (Swagger UI, …): from npm as package-lock.json pins them, no install scripts;
# scripts/vendor_static.py copies the files it lists into the git-ignored static/vendor/.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
static/vendor/.stamp: node_modules/.package-lock.json scripts/vendor_static.py
	$(PY) scripts/vendor_static.py
vendor: static/vendor/.stamp

migrate: setup
	$(BIN)/flask db upgrade

seed: migrate
	$(BIN)/flask demo seed

## make run: set up, migrate, seed the demo (once) and serve http://127.0.0.1:5000 on SQLite.
run: vendor seed
	$(BIN)/flask run --host 127.0.0.1 --port 5000

## make test: set up and run the whole suite (PostgreSQL too when TEST_POSTGRES_URL is set), on 2 workers.
PYTEST_ARGS ?= -n 2
test: setup-dev vendor chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser tests drive Debian's chromium (never a downloaded build): installed with apt-get when
# missing and running as root, else the one command to run is named.
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y --no-install-recommends chromium; \
	  else echo "Chromium is missing: run  sudo apt-get install -y chromium  then make test again"; exit 1; fi; }
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  if [ "$$(id -u)" = 0 ]; then { apt-get install -y --no-install-recommends fonts-wqy-microhei || { apt-get update -qq && apt-get install -y --no-install-recommends fonts-wqy-microhei; }; }; \
	  else echo "No Chinese font: the zh-CN screenshots show boxes (sudo apt-get install -y fonts-wqy-microhei)"; fi; }

bench: setup-dev
	$(BIN)/python bench/ecard.py

lifecycle-doc: setup
	$(BIN)/flask lifecycle table > docs/lifecycle.md

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis node_modules static/vendor
