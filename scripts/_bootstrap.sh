# shellcheck shell=bash
# Sourced by scripts/venue and scripts/test (not run on its own); the caller has already cd'd to
# the repository root. Defines ov_bootstrap, which makes sure .venv exists and holds the project:
#   - creates .venv with `python3 -m venv` on first use (PYTHON=... picks another interpreter;
#     Python >= 3.11 is required, and only venv and pip are assumed);
#   - (re)installs the project editable with its `test` extra whenever pyproject.toml is newer
#     than .venv/.install-stamp, and touches the stamp after a successful install.

ov_die() {
    printf 'openvenue: %s\n' "$*" >&2
    exit 1
}

ov_bootstrap() {
    local py="${PYTHON:-python3}"
    local version_ok='import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'
    local version='import platform; print(platform.python_version())'

    if [[ ! -x .venv/bin/python ]]; then
        command -v "$py" >/dev/null 2>&1 ||
            ov_die "'$py' not found: Python >= 3.11 is needed (set PYTHON=/path/to/python3.11+)"
        "$py" -c "$version_ok" ||
            ov_die "Python >= 3.11 is needed, but '$py' is $("$py" -c "$version"); set PYTHON=/path/to/python3.11+"
        printf '==> creating .venv with %s (Python %s)\n' "$py" "$("$py" -c "$version")"
        if ! "$py" -m venv .venv; then
            rm -rf .venv
            ov_die "'$py -m venv .venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
        fi
    fi
    .venv/bin/python -c "$version_ok" 2>/dev/null ||
        ov_die ".venv/bin/python is missing, broken or older than 3.11: remove .venv and rerun"

    if [[ ! -f .venv/.install-stamp || pyproject.toml -nt .venv/.install-stamp ]]; then
        printf '==> installing openvenue into .venv (editable, with the test extra)\n'
        .venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]' ||
            ov_die "pip install -e '.[test]' failed (see above); rerun once it is fixed"
        touch .venv/.install-stamp
    fi
}
