# make setup  — idempotent: Debian packages (as root), .venv with the package and its dev extra, Kafka jars
# make demo   — the pipeline end to end on local Kafka and Redis (real clips and sensor data)
# make test   — unit and integration tests (integration starts its own Kafka and Redis on spare ports)
# make bench  — every benchmark in benchmarks/ (each prints machine, command, figures, baseline, ratio)
# make bench-ultralytics — the fire-lane detector side by side with Ultralytics' predictor (installs PyTorch)
# make bench-load — load and soak: largest sustained camera count, then a 10-minute soak (LOAD_ARGS=--long: 30)

VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
SCA    := $(VENV)/bin/sca

.PHONY: setup system-packages venv jars demo test bench bench-ultralytics bench-load infra-up infra-down clean

setup: system-packages venv jars

system-packages:
	@missing=""; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jre-headless"; \
	command -v mvn >/dev/null 2>&1 || missing="$$missing maven"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v ss >/dev/null 2>&1 || missing="$$missing iproute2"; \
	PATH="$$PATH:/usr/sbin" command -v mosquitto >/dev/null 2>&1 || missing="$$missing mosquitto"; \
	command -v espeak-ng >/dev/null 2>&1 || missing="$$missing espeak-ng"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	if [ -z "$$missing" ]; then echo "system packages: present"; \
	elif [ "$$(id -u)" = "0" ]; then \
	  echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "missing:$$missing — install them (Debian: sudo apt-get install$$missing) and run make setup again"; exit 1; fi

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

jars: venv
	$(SCA) infra jars

demo: setup
	$(SCA) demo

test: venv
	$(PY) -m pytest -q

bench: setup
	$(PY) -m benchmarks.bench_frames
	$(PY) -m benchmarks.bench_readings
	$(PY) -m benchmarks.bench_sensors
	$(PY) -m benchmarks.bench_firelane
	$(PY) -m benchmarks.bench_throws

# Side by side with Ultralytics' own predictor: PyTorch (several GB) goes into its own venv, only when asked.
ULTRA := .venv-ultra
bench-ultralytics: setup
	test -x $(ULTRA)/bin/python || $(PYTHON) -m venv $(ULTRA)
	$(ULTRA)/bin/python -m pip install -q -e '.[ultralytics]'
	YOLO_OFFLINE=1 $(ULTRA)/bin/python -m benchmarks.bench_firelane --only latency

# Curves to build/load/load.png need matplotlib and psutil (the `bench` extra), installed only when asked.
bench-load: setup
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m benchmarks.load.run_load $(LOAD_ARGS)

infra-up: setup
	$(SCA) infra up

infra-down:
	$(SCA) infra down

clean:
	-$(SCA) infra down
	rm -rf .sca
