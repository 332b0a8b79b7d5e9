# Ping'an Command — the two commands of the README, and their helpers.
#   make run    the dashboard with the simulator at http://127.0.0.1:8050
#   make test   lint, type check and the whole test suite (installs what it needs)
#   make unit   the fast tests only (no Redis, no browser)
#   make test-ahead  the test suite with the calendar moved AHEAD (default +400d) by Debian's faketime
#   make bench  the benchmarks, printing their figures (BENCH=fanout: only the named ones)
#   make soak   the big screen left open 2 hours at SIM_SPEED=60, memory sampled (several simulated days)
#   make report KIND=weekly|daily|summary|monthly  a report as PDF and CSV under var/reports

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run test test-ahead unit lint typecheck node jslint jstest soak bench browser video setup grids devices-import devices-export clean faults faults-long audit user report
.PHONY: prod-deps prod-up prod-down prod-status prod-load prod-fanout prod-failover prod-smoke

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	@touch $@

browser:
	@bash scripts/ensure-chromium.sh

# Live video: Debian's Janus gateway with janus.js, and ffmpeg for the simulated cameras.
video:
	@bash scripts/ensure-video.sh

# The page scripts' tools (package.json, pinned in package-lock.json), with Node itself if missing.
node: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	@bash scripts/ensure-node.sh
	npm ci --no-audit --no-fund
	@touch $@

# Chromium prints the PDF reports; without it the dashboard still runs (PDFs answer 503).
run: setup
	-@bash scripts/ensure-chromium.sh || echo "  chromium missing: PDF reports are unavailable until it is installed"
	-@bash scripts/ensure-video.sh || echo "  janus or ffmpeg missing: live video is off until they are installed"
	$(PY) app.py

lint: setup
	$(VENV)/bin/ruff check .

# mypy --strict over the domain (the files are listed in pyproject.toml, [tool.mypy]).
typecheck: setup
	$(VENV)/bin/mypy

# The page scripts in assets/: eslint (eslint.config.js) and node's test runner (tests/js).
jslint: node
	npm run --silent lint

jstest: node
	npm test

# prod-deps: the Redis Cluster tests (tests/test_cluster.py) run on Debian's redis-server.
test: setup browser video prod-deps lint typecheck jslint jstest
	$(PY) -m pytest -q

# The suite on a day more than a year after its fixtures were written: every process it starts (Redis,
# Chromium, the app's subprocesses) sees the moved calendar; the PostgreSQL server (as in CI) keeps the
# real one. testkit/clock_ahead holds what libfaketime needs to get there: for Python only the wall
# clock moves (with the monotonic clock faked, every timed wait would sleep until the real clock caught
# up), for Chromium both do.
AHEAD ?= +400d
test-ahead: setup browser video
	@bash scripts/ensure-faketime.sh
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-$$(bash scripts/ensure-postgres.sh | tail -n 1)} \
	  CLOCK_AHEAD_CHROMIUM=$$(command -v chromium) PATH=$(CURDIR)/testkit/clock_ahead:$$PATH \
	  PYTHONPATH=$(CURDIR)/testkit/clock_ahead FAKETIME_DONT_FAKE_MONOTONIC=1 \
	  faketime -f $(AHEAD) $(PY) -m pytest -q -p no:cacheprovider

# Fast feedback: the tests that need neither Redis nor a browser, and the page scripts' (under a minute).
unit: setup jstest
	$(PY) -m pytest -q -m unit

bench: setup browser video
	$(PY) -m bench $(BENCH)

# The wall for several simulated days (2 h at SIM_SPEED=60): does every memory level off?
soak: setup browser
	$(PY) -m bench soak

grids: setup
	$(PY) -m geo.grids

# The device registry (docs/devices.md): make devices-import FILE=devices.csv [STRICT=1]; make devices-export FILE=out.csv
devices-import: setup
	$(PY) -m geo.devices import $(FILE) $(if $(STRICT),--strict)

devices-export: setup
	$(PY) -m geo.devices export $(FILE)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache node_modules

# Known vulnerabilities in the pinned dependencies fail the build (scripts/audit_deps.py).
audit: setup
	$(PY) scripts/audit_deps.py

# make user NAME=wang ROLE=duty_officer [STATION=PS-03]: prints the first password once.
user: setup
	$(PY) -m auth add $(NAME) --role $(ROLE) $(if $(STATION),--station $(STATION))

# make report KIND=weekly [DATE=2026-11-27 | FROM=2026-10-02 TO=2026-11-27] [FORMATS=pdf,csv,html,json]
report: setup browser
	$(PY) -m reports $(KIND) $(if $(DATE),--date $(DATE)) $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO)) \
		$(if $(FORMATS),--formats $(FORMATS))

faults: setup
	$(PY) -m pytest -q -s faults

faults-long: setup
	$(PY) -m pytest -q -s faults --long

# The production topology on this machine (docs/production.md): HAProxy on 127.0.0.1:8080, three gunicorn
# processes (8061-8063), a Redis Cluster (7100-7105; PROD_REDIS=single: one server on 7200), PostgreSQL's
# pingan_prod. State under var/prod. Beside `make run`, not instead of it.
prod-deps:
	@bash scripts/ensure-prod.sh

# The topology's smoke test (CI): up, health and stickiness through the proxy, one event end to end, an app and a
# Redis primary killed, down. A few minutes.
prod-smoke: setup prod-deps
	$(PY) -m pytest -q -p no:cacheprovider tests/prod

# Failover under 200 incidents/s (a Redis primary, an app process, PostgreSQL), with clients and pages attached.
prod-failover: setup browser prod-deps
	$(PY) -m bench failover

prod-up: setup
	@bash scripts/ensure-prod.sh
	$(PY) -m prod up

prod-down: setup
	@bash scripts/ensure-prod.sh
	$(PY) -m prod down

prod-status: setup
	@bash scripts/ensure-prod.sh
	@$(PY) -m prod status

# HTTP load with locust through the proxy of its own topology (proxy 8280, apps 8281-8283, Cluster 7250-7255,
# database pingan_load; torn down after): 100 duty officers and 20 chiefs for 60 s (bench/load_bench.py).
prod-load: setup
	@bash scripts/ensure-prod.sh
	$(PY) -m bench load

# Fan-out through the proxy of its own topology (proxy 8380, apps 8381-8383, Cluster 7350-7355, database
# pingan_fanout, var/bench-fanout; torn down after): clients per process with p95 <= 1 s at 10 and 100 ev/s,
# then 20 Chromium pages beside the clients (bench/fanout_bench.py).
prod-fanout: setup browser
	@bash scripts/ensure-prod.sh
	$(PY) -m bench fanout-prod
