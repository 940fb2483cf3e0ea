# The two README commands are `make run` and `make test`; both set up first.
CARGO ?= cargo
export TZ = UTC

.PHONY: setup model build run test bench sample-runs fmt lint

setup:
	scripts/setup.sh

model:
	scripts/fetch-model.sh

build: setup
	$(CARGO) build --release

# Opens the app on the bundled sample run.
run: build
	./target/release/reasonscope

# Every test, on the real default model. One test thread: llama.cpp's
# compute threads already use every core, and ggml's spinning threads
# starve each other when several engines run at once.
test: setup
	$(CARGO) build --release --all-targets
	$(CARGO) test --release -- --test-threads=1

bench: setup
	$(CARGO) bench --bench analysis
	$(CARGO) bench --bench engine

fmt:
	$(CARGO) fmt

lint:
	$(CARGO) clippy --release --all-targets -- -D warnings
