# minigapt: every target sets up what it needs, and only what is missing or out of date.
#   make test              the whole test suite (unit + notebook smoke runs)
#   make course            run notebooks 01..07 at course scale into build/course/
#   SCALE=smoke make course   the same, fast
#   make lab | make bench | make clean | make distclean
#   make test-browser      opt-in: the live jam widget in headless Chromium (installs chromium)

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SCALE ?= course
PYTEST_ARGS ?=
COURSE_ARGS ?=
# The install stamp holds a hash of what was installed from: edit requirements.txt or
# pyproject.toml and the next target reinstalls; otherwise nothing is reinstalled.
STAMP := $(VENV)/.minigapt-installed
KERNEL := $(VENV)/share/jupyter/kernels/minigapt/kernel.json

# Tests and the course use the real datasets in a data folder beside the repo when there
# (development machines and CI keep them in ../shared/data). Elsewhere the course downloads
# them, or runs on the embedded default with no network: `MINIGAPT_DATA= make course`
# forces that path here too.
ifeq ($(origin MINIGAPT_DATA),undefined)
  ifneq ($(wildcard ../shared/data),)
    test course: export MINIGAPT_DATA := $(abspath ../shared/data)
  endif
endif

.PHONY: heldout setup python-env audio test test-browser browser-deps course lab bench clean distclean

setup: python-env audio

python-env:
	@[ -x $(PY) ] || { echo "minigapt: creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@want=$$(cat requirements.txt pyproject.toml | sha256sum | cut -c1-16); \
	if [ "$$(cat $(STAMP) 2>/dev/null)" = "$$want" ] && [ -f $(KERNEL) ]; then \
	  echo "minigapt: $(VENV) is up to date"; \
	else \
	  echo "minigapt: installing requirements.txt and minigapt (editable) into $(VENV)"; \
	  start=$$SECONDS; \
	  $(PY) -m pip install --quiet -r requirements.txt && \
	  $(PY) -m pip install --quiet --no-deps -e . && \
	  $(PY) -m ipykernel install --sys-prefix --name minigapt --display-name "Python (minigapt)" >/dev/null && \
	  echo "$$want" > $(STAMP) && \
	  echo "minigapt: installed in $$((SECONDS - start)) s; kernel 'minigapt' -> $(abspath $(PY))"; \
	fi

# FluidSynth renders audio; without it minigapt uses its numpy synth, so this never fails.
audio:
	@if { { ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | grep -q 'libfluidsynth\.so'; } && ls /usr/share/sounds/sf2/*.sf2 >/dev/null 2>&1; then \
	  :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "minigapt: FluidSynth not found and no apt-get: audio uses the numpy synth"; \
	else \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else echo "minigapt: FluidSynth not found (not root, no sudo): audio uses the numpy synth"; exit 0; fi; \
	  install="$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fluidsynth"; \
	  echo "minigapt: installing Debian's fluidsynth"; \
	  $$install </dev/null >/dev/null 2>&1 || \
	  { $$sudo apt-get update -qq </dev/null >/dev/null 2>&1 && $$install </dev/null >/dev/null 2>&1; } || \
	  echo "minigapt: could not install fluidsynth: audio uses the numpy synth"; \
	fi

# pytest exits 5 when it collects no test: not a failure of the project.
# MINIGAPT_BROWSER_TEST=1 adds the browser test (and installs chromium for it); CI sets it.
test: setup $(if $(filter 1,$(MINIGAPT_BROWSER_TEST)),browser-deps)
	@$(PY) -m pytest $(if $(filter 1,$(MINIGAPT_BROWSER_TEST)),-m "not slow") $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "minigapt: pytest collected no tests"; rc=0; fi; exit $$rc

# Opt-in: the live jam widget in headless Chromium (tests/test_browser.py). Installs Debian's
# chromium + chromium-driver when missing (~120 MB download); `make test` never pays for them.
browser-deps:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
	  :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "minigapt: the browser test needs chromium and chromedriver (no apt-get here)"; exit 1; \
	else \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else echo "minigapt: the browser test needs chromium and chromium-driver (apt-get, as root)"; exit 1; fi; \
	  install="$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver"; \
	  echo "minigapt: installing Debian's chromium and chromium-driver"; \
	  $$install </dev/null >/dev/null 2>&1 || \
	  { $$sudo apt-get update -qq </dev/null >/dev/null 2>&1 && $$install </dev/null >/dev/null 2>&1; } || \
	  { echo "minigapt: could not install chromium"; exit 1; }; \
	fi

test-browser: setup browser-deps
	@MINIGAPT_BROWSER_TEST=1 MINIGAPT_BENCH_DIR=$(abspath build/bench) $(PY) -m pytest -m browser tests/test_browser.py $(PYTEST_ARGS)

course: setup
	$(PY) -m minigapt.course --scale $(SCALE) $(COURSE_ARGS)

# the shipped chord policies on 497 melody-only folk tunes no model trained on (minigapt/data/heldout.py)
HELDOUT_MODELS ?= online-mle realchords gapt-no-adv gapt
heldout: setup
	@$(PY) -m minigapt.data.heldout copy build/heldout/melodies
	@for m in $(HELDOUT_MODELS); do echo "evaluate $$m"; \
	  $(PY) -m minigapt evaluate --model assets/checkpoints/$$m.pt --melodies build/heldout/melodies \
	    --max-frames 256 --json > build/heldout/$$m.json || exit 1; done
	@set -o pipefail; $(PY) -m minigapt.data.heldout table build/heldout $(HELDOUT_MODELS) \
	  | tee build/heldout/table.md

lab: setup
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks

bench: setup
	$(PY) -m minigapt bench --json

clean:
	rm -rf build .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
