# redsql — the two commands a newcomer needs:
#   make run    install Redis if needed, build, start redsql with the demo dataset
#   make test   install Redis if needed, start a private Redis, run every test
#
# One cargo target directory that survives between runs (polars is slow to build).
CARGO_TARGET_DIR ?= $(HOME)/.cache/redsql-target
export CARGO_TARGET_DIR
LISTEN ?= 127.0.0.1:5433

.PHONY: run test redis build build-release bench-load bench-pushdown fmt clippy clean-redis

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

## Load benchmark: redsql load vs redis-benchmark HSET, same run (ROWS=200000 RUNS=3).
bench-load:
	@scripts/bench-load.sh $(or $(ROWS),200000) $(or $(RUNS),3)

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
