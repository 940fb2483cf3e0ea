# The two README commands are `make run` and `make test`; both set up first.
CARGO ?= cargo
export TZ = UTC
# Headless rendering for the GUI tests: Mesa's CPU Vulkan driver (lavapipe).
export WGPU_BACKEND ?= vulkan
export VK_DRIVER_FILES ?= /usr/share/vulkan/icd.d/lvp_icd.x86_64.json

.PHONY: setup model build run test bench soak screenshot fmt lint import-fixtures check-cuda check-vulkan fuzz

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
	$(CARGO) test --release --no-fail-fast -- --test-threads=1

soak: setup
	$(CARGO) bench --bench soak

bench: setup
	$(CARGO) bench --bench analysis
	$(CARGO) bench --bench ui_frames
	$(CARGO) bench --bench engine
	$(CARGO) bench --bench stats_pass
	$(CARGO) bench --bench remote
	$(CARGO) bench --bench import
	$(CARGO) bench --bench judge

# A screenshot of the real window under Xvfb (README image).
screenshot: build
	REASONSCOPE_VIEW=Methods REASONSCOPE_SCREENSHOT=docs/screenshot.png xvfb-run -a -s "-screen 0 1280x800x24" ./target/release/reasonscope sample_runs/apples-explained-n32.json.gz

fmt:
	$(CARGO) fmt

lint:
	$(CARGO) clippy --release --all-targets -- -D warnings

# Re-make tests/data/import/ with the real llama-server and lm_eval (pip,
# needs PyPI); the results are committed, so neither CI nor make test runs it.
import-fixtures:
	scripts/make-import-fixtures.sh

# The Vulkan build, and the engine tests on lavapipe (Mesa's CPU Vulkan;
# see scripts/check-vulkan.sh). Too long for CI: not in make test.
check-vulkan:
	scripts/check-vulkan.sh

# Proves the CUDA build compiles and links here (no GPU needed; see
# scripts/check-cuda.sh). About an hour of 2 cores for sm_90: not in make test.
check-cuda:
	scripts/check-cuda.sh

# Every reader fuzzed with 1 000 000 mutated inputs per target (tests/fuzz.rs;
# make test runs 2 000 per target). Prints inputs/s and what was found.
fuzz:
	FUZZ_INPUTS=1000000 FUZZ_THREADS=$$(nproc) $(CARGO) test --release --test fuzz -- --nocapture --test-threads=1
