# redsql — the two commands a newcomer needs:
#   make run    install Redis if needed, build, start redsql with the demo dataset
#   make test   install Redis if needed, start a private Redis, run every test
#
# One cargo target directory that survives between runs (polars is slow to build).
CARGO_TARGET_DIR ?= $(HOME)/.cache/redsql-target
export CARGO_TARGET_DIR
LISTEN ?= 127.0.0.1:5433
DEFAULT_BENCH_ROWS := 100000,1000000

.PHONY: run test redis build build-release bench bench-load bench-pushdown bench-cluster fmt clippy clean-redis

## Install Redis 8.2 + RediSearch + RedisJSON into .redis/ (idempotent).
redis:
	@scripts/install-redis.sh

## Release build of the redsql binary.
build-release:
	cargo build --release --bin redsql

## Debug build (dependencies optimised), the same build `make test` uses:
## with --tests, so dev-dependencies unify features the same way and polars
## is not compiled a second time.
build:
	cargo build --tests

## Start redsql on $(LISTEN) with an embedded Redis and the demo dataset.
run: redis build-release
	@echo ""
	@echo "Starting redsql on $(LISTEN) with an embedded Redis and the demo dataset (Ctrl-C stops both)."
	@echo "Connect with:   psql -h $(word 1,$(subst :, ,$(LISTEN))) -p $(word 2,$(subst :, ,$(LISTEN)))"
	@echo "Try:"
	@echo "  SELECT region, sum(amount) FROM sale WHERE status = 'completed' GROUP BY region ORDER BY region;"
	@echo "  SELECT * FROM redsql.columns WHERE table_name = 'sale';"
	@echo "  SELECT status, count(*), avg(qty) FROM sale GROUP BY status ORDER BY count DESC;"
	@echo ""
	$(CARGO_TARGET_DIR)/release/redsql serve --listen $(LISTEN) --demo

## The benchmark: load, scan, aggregate/filter (scan path, pushdown vs raw FT),
## point lookups and memory, each redsql figure next to its Redis baseline
## measured in the same run (ROWS=100000,1000000 RUNS=3 LOOKUP_SECONDS=10).
## Measures the release binary (what `make run` runs); the driver
## (examples/bench) is built with the dev profile `make test` uses.
bench: BENCH_ROWS = $(or $(ROWS),$(DEFAULT_BENCH_ROWS))
bench: redis build-release
	@scripts/ensure-command.sh redis-benchmark redis-tools
	@scripts/ensure-command.sh psql postgresql-client
	@scripts/ensure-command.sh pgbench postgresql-client
	cargo build --tests --example bench
	$(CARGO_TARGET_DIR)/debug/examples/bench --redsql $(CARGO_TARGET_DIR)/release/redsql \
	  --rows $(BENCH_ROWS) --runs $(or $(RUNS),3) --lookup-seconds $(or $(LOOKUP_SECONDS),10)

## Load benchmark: redsql load vs redis-benchmark HSET, same run (ROWS=200000 RUNS=3).
bench-load:
	@scripts/bench-load.sh $(or $(ROWS),200000) $(or $(RUNS),3)

## Cluster benchmark: load and full scan on 1 node vs a 3-master cluster (ROWS=200000 RUNS=3).
bench-cluster:
	@scripts/bench-cluster.sh $(or $(ROWS),200000) $(or $(RUNS),3)

## Pushdown benchmark: an indexed GROUP BY and a 1% filter, redsql vs the raw
## FT.AGGREGATE vs the scan path (pushdown off), same run (ROWS=1000000 RUNS=5).
bench-pushdown:
	@scripts/bench-pushdown.sh $(or $(ROWS),1000000) $(or $(RUNS),5)

## Every test against a private Redis with modules and a plain one without.
test: redis
	@scripts/test.sh

fmt:
	cargo fmt --all

clippy:
	cargo clippy --all-targets -- -D warnings
