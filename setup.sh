#!/usr/bin/env bash
# One entry point for a fresh machine; safe to run again (it skips what is done).
#   ./setup.sh render   install everything, render routines/neck-and-back.yaml to output/
#   ./setup.sh test     install the same, then run lint, type checks and tests
set -euo pipefail
cd "$(dirname "$0")"

usage() { echo "usage: ./setup.sh render|test" >&2; exit 2; }
[ $# -eq 1 ] || usage
case "$1" in render|test) ;; *) usage ;; esac

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# System packages: espeak-ng (the voices pyttsx3 uses on Linux, and the espeak-ng engine)
# and Python's venv support, which Debian ships separately.
missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if command -v python3 >/dev/null 2>&1 && ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
# The tests open the published page in a real browser: Debian's chromium and its driver.
if [ "$1" = test ] && command -v apt-get >/dev/null 2>&1; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
fi
# The tests run against every ffmpeg present, so `test` also installs the system's (render uses
# the imageio-ffmpeg wheel's binary when there is none).
if [ "$1" = test ] && ! command -v ffmpeg >/dev/null 2>&1; then
  missing+=(ffmpeg)
fi
# The encoding tests decode every MP3 as a second player does, with mpg123 as well as ffmpeg.
if [ "$1" = test ] && ! command -v mpg123 >/dev/null 2>&1; then
  missing+=(mpg123)
fi
# The handout tests render its pages to pixels with poppler's pdftoppm, to scan the QR code.
if [ "$1" = test ] && command -v apt-get >/dev/null 2>&1; then
  command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "Installing system packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v brew >/dev/null 2>&1; then
    brew install "${missing[@]/python3-venv/}"
  else
    echo "Please install: ${missing[*]} (then run this again)" >&2
    exit 1
  fi
fi

# Python packages in .venv (the same set for both commands, with the neural extra, so the default
# `auto` engine speaks English with the Piper voice); reinstalled when pyproject.toml changes.
[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=$(cksum < pyproject.toml)
if [ "$(cat .venv/.voiceguide-installed 2>/dev/null)" != "$stamp" ]; then
  echo "Installing Python packages into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet --editable ".[test,neural]"
  echo "$stamp" > .venv/.voiceguide-installed
fi

if [ "$1" = render ]; then
  .venv/bin/voiceguide render routines/neck-and-back.yaml
else
  .venv/bin/ruff check .
  .venv/bin/ruff format --check .
  .venv/bin/mypy
  .venv/bin/pytest
fi
