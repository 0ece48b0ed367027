#!/usr/bin/env bash
# Install what keytrail's test suite needs, and nothing that is already there.
#
#   - rustfmt and clippy (rustup components), when `cargo fmt` / `cargo clippy` are missing;
#   - moto_server ('moto[server]>=5.1,<6' from PyPI), when it cannot be found;
#   - cfn-lint and checkov (PyPI), only when template.yaml exists at the repository root;
#   - duckdb and sqlglot (PyPI), for the usage-table SQL tests (scripts/usage-sql.py);
#   - headless Chromium (Debian package `chromium`, via apt-get as root or `sudo -n`),
#     for the HTML report test (shared/tests/html_browser.rs).
#
# Idempotent: a second run installs nothing.
#
# Two ways to use it:
#
#   scripts/install-test-deps.sh
#       Installs, then prints the `export PATH=...` / `export KEYTRAIL_MOTO_SERVER=...` /
#       `export KEYTRAIL_CHROMIUM=...` lines the caller needs when moto_server's
#       directory is not on PATH yet.
#       `eval "$(scripts/install-test-deps.sh --print-env)"` applies them (the
#       progress messages go to stderr, only the export lines to stdout).
#
#   source scripts/install-test-deps.sh && keytrail_install_test_deps
#       (what scripts/test.sh does) installs and exports PATH, KEYTRAIL_MOTO_SERVER
#       and KEYTRAIL_CHROMIUM into the calling shell directly.
#
# KEYTRAIL_MOTO_SERVER and KEYTRAIL_CHROMIUM, when already set to an executable, are
# used as is.

set -euo pipefail

# pip requirement strings; kept here so every caller installs the same versions.
KEYTRAIL_MOTO_REQUIREMENT='moto[server]>=5.1,<6'
KEYTRAIL_PYTHON="${KEYTRAIL_PYTHON:-python3}"

_kt_say() { printf 'install-test-deps: %s\n' "$*" >&2; }
_kt_die() {
    printf 'install-test-deps: ERROR: %s\n' "$*" >&2
    return 1
}

_kt_repo_root() {
    local here
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    (cd "$here/.." && pwd)
}

# Makes `tool` (found at `path`) callable by name: prepends its directory to PATH
# unless the name already resolves.
_kt_ensure_on_path() {
    command -v "$1" >/dev/null 2>&1 || _kt_path_prepend "$(dirname "$2")"
}

# Prepends a directory to PATH unless it is already there.
_kt_path_prepend() {
    case ":$PATH:" in
        *":$1:"*) ;;
        *) PATH="$1:$PATH" ;;
    esac
    export PATH
}

# --------------------------------------------------------------------------- Rust

_kt_rust_components() {
    command -v cargo >/dev/null 2>&1 \
        || _kt_die "cargo is not on PATH; install Rust with rustup (https://rustup.rs) first" \
        || return 1
    local missing=()
    cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
    cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
    if ((${#missing[@]} == 0)); then
        _kt_say "rustfmt and clippy: present"
        return 0
    fi
    command -v rustup >/dev/null 2>&1 \
        || _kt_die "missing ${missing[*]} and rustup is not on PATH to install them" \
        || return 1
    _kt_say "installing rustup components: ${missing[*]}"
    rustup component add "${missing[@]}" >&2 \
        || _kt_die "'rustup component add ${missing[*]}' failed (see its output above)" \
        || return 1
    cargo fmt --version >/dev/null 2>&1 \
        || _kt_die "rustfmt installed but 'cargo fmt --version' still fails" || return 1
    cargo clippy --version >/dev/null 2>&1 \
        || _kt_die "clippy installed but 'cargo clippy --version' still fails" || return 1
}

# --------------------------------------------------------------------------- Python

_kt_need_pip() {
    command -v "$KEYTRAIL_PYTHON" >/dev/null 2>&1 \
        || _kt_die "$KEYTRAIL_PYTHON is not on PATH (needed to pip-install test tools)" \
        || return 1
    "$KEYTRAIL_PYTHON" -m pip --version >/dev/null 2>&1 \
        || _kt_die "'$KEYTRAIL_PYTHON -m pip' does not work; install pip (Debian: apt-get install -y python3-pip)" \
        || return 1
}

# Directories where pip may have put console scripts, best first: the interpreter's
# own scripts dir (pyenv version dir, venv, /usr/local/bin), the user-scheme dir
# (pip --user, ~/.local/bin), then every pyenv version.
_kt_python_script_dirs() {
    if command -v "$KEYTRAIL_PYTHON" >/dev/null 2>&1; then
        "$KEYTRAIL_PYTHON" - <<'EOF' 2>/dev/null || true
import os, site, sysconfig
dirs = [sysconfig.get_path("scripts")]
try:
    dirs.append(sysconfig.get_path("scripts", f"{os.name}_user"))
except Exception:
    pass
try:
    dirs.append(os.path.join(site.getuserbase(), "bin"))
except Exception:
    pass
for d in dirs:
    if d:
        print(d)
EOF
    fi
    printf '%s\n' "$HOME/.local/bin"
    local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
    if [[ -d "$pyenv_root/versions" ]]; then
        local d
        for d in "$pyenv_root"/versions/*/bin; do
            [[ -d "$d" ]] && printf '%s\n' "$d"
        done
    fi
    return 0
}

# True when the given path is a moto_server that actually starts (a pyenv shim for a
# version without moto exists but fails).
_kt_moto_works() {
    [[ -n "$1" && -x "$1" ]] && "$1" -h >/dev/null 2>&1
}

# Prints the absolute path of a working moto_server, or nothing. A pyenv shim is
# resolved to the real script so the tests do not pay the shim on every start.
_kt_find_tool() {
    local tool="$1" cand real dir
    cand="$(command -v "$tool" 2>/dev/null || true)"
    if [[ -n "$cand" && "$cand" == */shims/* ]] && command -v pyenv >/dev/null 2>&1; then
        real="$(pyenv which "$tool" 2>/dev/null || true)"
        [[ -n "$real" ]] && cand="$real"
    fi
    if [[ -n "$cand" && -x "$cand" ]]; then
        printf '%s\n' "$cand"
        return 0
    fi
    while IFS= read -r dir; do
        if [[ -n "$dir" && -x "$dir/$tool" ]]; then
            printf '%s\n' "$dir/$tool"
            return 0
        fi
    done < <(_kt_python_script_dirs)
    return 0
}

_kt_find_moto_server() {
    local cand
    if [[ -n "${KEYTRAIL_MOTO_SERVER:-}" ]] && _kt_moto_works "$KEYTRAIL_MOTO_SERVER"; then
        printf '%s\n' "$KEYTRAIL_MOTO_SERVER"
        return 0
    fi
    cand="$(_kt_find_tool moto_server)"
    if _kt_moto_works "$cand"; then
        printf '%s\n' "$cand"
        return 0
    fi
    # The first hit did not start (e.g. a shim of another pyenv version): try the rest.
    local dir
    while IFS= read -r dir; do
        if _kt_moto_works "$dir/moto_server"; then
            printf '%s\n' "$dir/moto_server"
            return 0
        fi
    done < <(_kt_python_script_dirs)
    return 0
}

# pip install with a fallback for Debian's "externally managed" system Python.
_kt_pip_install() {
    _kt_need_pip || return 1
    _kt_say "pip install $*"
    local log
    log="$(mktemp)"
    if "$KEYTRAIL_PYTHON" -m pip install --disable-pip-version-check "$@" >"$log" 2>&1; then
        tail -n 3 "$log" >&2
        rm -f "$log"
    elif grep -q 'externally-managed-environment' "$log"; then
        _kt_say "system Python is externally managed; retrying with --user --break-system-packages"
        if ! "$KEYTRAIL_PYTHON" -m pip install --disable-pip-version-check \
            --user --break-system-packages "$@" >"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            _kt_die "'pip install --user $*' failed (output above)"
            return 1
        fi
        tail -n 3 "$log" >&2
        rm -f "$log"
    else
        cat "$log" >&2
        rm -f "$log"
        _kt_die "'pip install $*' failed (output above)"
        return 1
    fi
    if command -v pyenv >/dev/null 2>&1; then
        pyenv rehash >/dev/null 2>&1 || true
    fi
}

_kt_moto() {
    local moto
    moto="$(_kt_find_moto_server)"
    if [[ -z "$moto" ]]; then
        _kt_say "moto_server not found; installing $KEYTRAIL_MOTO_REQUIREMENT"
        _kt_pip_install "$KEYTRAIL_MOTO_REQUIREMENT" || return 1
        moto="$(_kt_find_moto_server)"
        [[ -n "$moto" ]] \
            || _kt_die "installed $KEYTRAIL_MOTO_REQUIREMENT but no working moto_server was found in: $(_kt_python_script_dirs | tr '\n' ' ')" \
            || return 1
    else
        _kt_say "moto_server: present"
    fi
    _kt_ensure_on_path moto_server "$moto"
    export KEYTRAIL_MOTO_SERVER="$moto"
    _kt_say "moto_server: $KEYTRAIL_MOTO_SERVER"
}

# Makes cfn-lint and checkov available (only called when template.yaml exists).
_kt_template_tools() {
    local tool path missing=()
    for tool in cfn-lint checkov; do
        path="$(_kt_find_tool "$tool")"
        if [[ -n "$path" ]]; then
            _kt_ensure_on_path "$tool" "$path"
        else
            missing+=("$tool")
        fi
    done
    if ((${#missing[@]} == 0)); then
        _kt_say "cfn-lint and checkov: present"
        return 0
    fi
    _kt_say "template.yaml found; installing: ${missing[*]}"
    _kt_pip_install "${missing[@]}" || return 1
    for tool in "${missing[@]}"; do
        path="$(_kt_find_tool "$tool")"
        [[ -n "$path" ]] \
            || _kt_die "installed $tool but cannot find its executable" || return 1
        _kt_ensure_on_path "$tool" "$path"
        _kt_say "$tool: $path"
    done
}

# The usage-table SQL's stand-in for Athena (DuckDB) and its Trino parser (sqlglot):
# shared/tests/usage_sql.rs, tests/usage_table.rs and scripts/bench.sh --org run
# scripts/usage-sql.py with them.
KEYTRAIL_SQL_REQUIREMENTS=('duckdb>=1.1' 'sqlglot>=25')

_kt_sql_tools() {
    if "$KEYTRAIL_PYTHON" -c 'import duckdb, sqlglot' >/dev/null 2>&1; then
        _kt_say "duckdb and sqlglot: present"
        return 0
    fi
    _kt_say "installing ${KEYTRAIL_SQL_REQUIREMENTS[*]}"
    _kt_pip_install "${KEYTRAIL_SQL_REQUIREMENTS[@]}" || return 1
    "$KEYTRAIL_PYTHON" -c 'import duckdb, sqlglot' >/dev/null 2>&1 \
        || _kt_die "installed duckdb and sqlglot but $KEYTRAIL_PYTHON cannot import them" || return 1
}

# --------------------------------------------------------------------------- Chromium

# Prints the path of a Chromium that starts, or nothing.
_kt_find_chromium() {
    local cand
    for cand in "${KEYTRAIL_CHROMIUM:-}" "$(command -v chromium 2>/dev/null || true)" \
        "$(command -v chromium-browser 2>/dev/null || true)" /usr/bin/chromium; do
        if [[ -n "$cand" && -x "$cand" ]] && "$cand" --version >/dev/null 2>&1; then
            printf '%s\n' "$cand"
            return 0
        fi
    done
    return 0
}

# apt-get as root, or through passwordless sudo.
_kt_apt_get() {
    if [[ "$(id -u)" == 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n env DEBIAN_FRONTEND=noninteractive apt-get "$@"
    else
        _kt_die "installing chromium needs root or passwordless sudo; as root run: apt-get update && apt-get install -y chromium"
        return 1
    fi
}

# Makes headless Chromium available and exports KEYTRAIL_CHROMIUM.
_kt_chromium() {
    local browser
    browser="$(_kt_find_chromium)"
    if [[ -z "$browser" ]]; then
        command -v apt-get >/dev/null 2>&1 \
            || _kt_die "chromium not found and apt-get is not available; install Chromium and set KEYTRAIL_CHROMIUM to its path" \
            || return 1
        _kt_say "chromium not found; installing it with apt-get (Debian package chromium)"
        local log
        log="$(mktemp)"
        if ! { _kt_apt_get update && _kt_apt_get install -y --no-install-recommends chromium; } >"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            _kt_die "'apt-get install -y chromium' failed (output above)"
            return 1
        fi
        tail -n 2 "$log" >&2
        rm -f "$log"
        browser="$(_kt_find_chromium)"
        [[ -n "$browser" ]] \
            || _kt_die "installed chromium but no working chromium binary was found" || return 1
    else
        _kt_say "chromium: present"
    fi
    export KEYTRAIL_CHROMIUM="$browser"
    _kt_say "chromium: $KEYTRAIL_CHROMIUM"
}

# Installs everything and exports PATH / KEYTRAIL_MOTO_SERVER / KEYTRAIL_CHROMIUM
# into the current shell.
keytrail_install_test_deps() {
    local root
    root="$(_kt_repo_root)"
    _kt_rust_components || return 1
    _kt_moto || return 1
    _kt_sql_tools || return 1
    _kt_chromium || return 1
    if [[ -f "$root/template.yaml" ]]; then
        _kt_template_tools || return 1
    else
        _kt_say "no template.yaml at the repository root: cfn-lint/checkov not needed"
    fi
}

# --------------------------------------------------------------------------- main

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    print_env=0
    case "${1:-}" in
        --print-env) print_env=1 ;;
        "") ;;
        -h | --help)
            sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            _kt_die "unknown argument: $1 (try --help)" || exit 2
            ;;
    esac
    original_path="$PATH"
    keytrail_install_test_deps || exit 1
    if ((print_env)); then
        printf 'export PATH=%q\n' "$PATH"
        printf 'export KEYTRAIL_MOTO_SERVER=%q\n' "$KEYTRAIL_MOTO_SERVER"
        printf 'export KEYTRAIL_CHROMIUM=%q\n' "$KEYTRAIL_CHROMIUM"
    else
        _kt_say "done"
        if [[ "$PATH" != "$original_path" ]]; then
            _kt_say "the test tools are not all on your PATH; run:"
            printf '  export PATH=%q\n' "$PATH" >&2
        fi
        _kt_say "the integration tests use:"
        printf '  export KEYTRAIL_MOTO_SERVER=%q\n' "$KEYTRAIL_MOTO_SERVER" >&2
        printf '  export KEYTRAIL_CHROMIUM=%q\n' "$KEYTRAIL_CHROMIUM" >&2
    fi
fi
