# workprint - `make demo` and `make test` set up everything they need (idempotent).
.PHONY: setup demo test bench clean

setup:
	@scripts/setup.sh

demo: setup
	.venv/bin/python scripts/demo.py

test: setup
	@.venv/bin/python -m pytest -q --durations=30; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: no tests were collected - failing"; exit 1; fi; exit $$rc

bench: setup
	.venv/bin/python bench/run_all.py

clean:
	rm -rf .venv build *.egg-info .pytest_cache demo-data
