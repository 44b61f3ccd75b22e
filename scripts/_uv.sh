# Sourced by the scripts in this folder: puts a `uv` on PATH, installing it into .tools/ if missing.
# Only Python 3.11+ is assumed on the machine.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v uv >/dev/null 2>&1; then
    if [ ! -x "$ROOT/.tools/bin/uv" ]; then
        echo "installing uv into $ROOT/.tools (one time)" >&2
        PY=$(command -v python3 || command -v python)
        if "$PY" -m venv "$ROOT/.tools" >/dev/null 2>&1; then
            "$ROOT/.tools/bin/python" -m pip install --quiet --disable-pip-version-check uv
        else
            # Debian/Ubuntu without python3-venv: a user-level install is the fallback.
            "$PY" -m pip install --quiet --user uv 2>/dev/null \
                || "$PY" -m pip install --quiet --user --break-system-packages uv
            mkdir -p "$ROOT/.tools/bin"
            ln -sf "$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts", "posix_user"))')/uv" "$ROOT/.tools/bin/uv"
        fi
    fi
    PATH="$ROOT/.tools/bin:$PATH"
    export PATH
fi
cd "$ROOT"

# Installs the workspace's locked packages into .venv without removing anything else there: a
# plugin a user installed into .venv stays installed (a plain `uv sync` would uninstall it).
sync_workspace() {
    uv sync --all-packages --locked --inexact --quiet
}
