# shellcheck shell=bash
# Sourced by scripts/setup and scripts/test: which Python versions the project supports, and where this machine
# keeps each one.

# Every minor version that `requires-python` admits and that CI tests (the newest first would be as good; the oldest
# goes first because it is the default environment, .venv).
SUPPORTED_PYTHONS=(3.11 3.12 3.13)

# find_python VERSION: print the path of an interpreter of that minor version, or nothing.
# A `pythonX.Y` on PATH is taken when it runs (a pyenv shim of a version that pyenv does not have active does not);
# otherwise the newest pyenv installation of that version.
find_python() {
    local version=$1 candidate
    if candidate=$(command -v "python$version" 2>/dev/null) && "$candidate" -c 'import sys' >/dev/null 2>&1; then
        "$candidate" -c 'import sys; print(sys.executable)'
        return
    fi
    if command -v pyenv >/dev/null 2>&1; then
        for candidate in $(ls -d "$(pyenv root)/versions/$version".* 2>/dev/null | sort -V -r); do
            if [ -x "$candidate/bin/python$version" ]; then
                echo "$candidate/bin/python$version"
                return
            fi
        done
    fi
}

# venv_for VERSION: the environment directory for that version (the first supported one is plain .venv).
venv_for() {
    if [ "$1" = "${SUPPORTED_PYTHONS[0]}" ]; then echo .venv; else echo ".venv-$1"; fi
}
