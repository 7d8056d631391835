#!/usr/bin/env bash
# W11 (BENCHMARKS.md): the key-value server of examples/kv_server loaded by
# redis-benchmark beside its tokio twin (benches/kv/tokio_server.rs) and a
# real redis-server, all on loopback, in one run: GET and SET with 50
# connections, then again with pipelines of 16; requests/s, p50 and p99.
# benches/kv/README.md says how to read the table, and keeps the last one.
#
# Usage: benches/kv/run.sh            (from anywhere in the repository)
# Settings, from the environment:
#   REPEATS=5            runs of each (server, workload); the table shows
#                        medians and the min-max spread
#   REQUESTS=200000      requests per test without pipelining
#   PIPELINED=1000000    requests per test with pipelining
#   SERVERS="ferrotp tokio redis"   which servers, in this order; also
#                        tokio-tasks: the twin with shard tasks (--store
#                        tasks), the like-for-like peer of ferrotp's actors
#   KEYSPACE=100000      redis-benchmark -r: keys drawn from this many (0:
#                        redis-benchmark's default, one key for all)
#   SHARDS=4             shards of the ferrotp and tokio key spaces: a
#                        pipeline's commands go to a ferrotp shard in one
#                        message per shard touched, so more shards than
#                        about twice the cores cost messages and buy no
#                        parallelism (16 random keys over 8 shards touch
#                        7 of them: 0.73x the throughput of 4 shards)
#   PORT_BASE=6380       ferrotp on PORT_BASE, tokio +1, redis-server +2
#
# It installs redis-tools (redis-benchmark, redis-cli) and redis-server
# with apt-get if they are missing, and says so. It builds the two Rust
# servers in release mode; a server that does not build or does not
# start listening within 10 s is skipped with the reason. Logs and the
# raw CSV are kept in $CARGO_TARGET_DIR/kv-bench (default target/).
set -euo pipefail
cd "$(dirname "$0")/../.."

REPEATS=${REPEATS:-5}
REQUESTS=${REQUESTS:-200000}
PIPELINED=${PIPELINED:-1000000}
SERVERS=${SERVERS:-"ferrotp tokio redis"}
SHARDS=${SHARDS:-4}
PORT_BASE=${PORT_BASE:-6380}
KEYSPACE=${KEYSPACE:-100000}
CLIENTS=50
PIPELINE=16
TARGET_DIR=${CARGO_TARGET_DIR:-target}
OUT="$TARGET_DIR/kv-bench"
mkdir -p "$OUT"

say() { echo "== $*" >&2; }

# --- tools --------------------------------------------------------------
missing=()
command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
if [[ " $SERVERS " == *" redis "* ]] && ! command -v redis-server >/dev/null 2>&1; then
  missing+=(redis-server)
fi
if ((${#missing[@]})); then
  packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  say "installing ${packages}with apt-get (W11 needs redis-benchmark, and redis-server as a peer)"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends $packages >&2
fi

bench_version=$(redis-benchmark --version | awk '{print $2}')
bench_major=${bench_version%%.*}
if ((bench_major < 7)); then
  # 6.2 and later print percentiles in --csv; older ones only requests/s.
  say "redis-benchmark $bench_version: latency percentiles need 6.2 or later (only requests/s if absent)"
fi

# --- servers ------------------------------------------------------------
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

port_of() {
  case $1 in
    ferrotp) echo "$PORT_BASE" ;;
    tokio) echo $((PORT_BASE + 1)) ;;
    redis) echo $((PORT_BASE + 2)) ;;
    tokio-tasks) echo $((PORT_BASE + 3)) ;;
  esac
}

answers_ping() { [[ $(redis-cli -p "$1" ping 2>/dev/null) == PONG ]]; }

# start NAME COMMAND...: starts a server on its port and waits until it
# answers PING; returns 1 (and says why) if it does not.
start() {
  local name=$1 port
  port=$(port_of "$name")
  shift
  if answers_ping "$port"; then
    say "$name: port $port already answers PING: something else is running there (set PORT_BASE)"
    return 1
  fi
  "$@" >"$OUT/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    if answers_ping "$port"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      local status=0
      wait "$pid" || status=$?
      say "$name: skipped, its server exited with status $status before listening on $port: $(tail -n 1 "$OUT/$name.log")"
      return 1
    fi
    sleep 0.1
  done
  say "$name: skipped, not answering PING on port $port after 10 s (log: $OUT/$name.log)"
  return 1
}

running=()
for server in $SERVERS; do
  port=$(port_of "$server")
  case $server in
    ferrotp)
      say "ferrotp: building examples/kv_server (release)"
      if cargo build --release --example kv_server >"$OUT/ferrotp-build.log" 2>&1; then
        start ferrotp "$TARGET_DIR/release/examples/kv_server" --port "$port" --shards "$SHARDS" &&
          running+=(ferrotp)
      else
        say "ferrotp: skipped, the example does not build (log: $OUT/ferrotp-build.log)"
      fi
      ;;
    tokio | tokio-tasks)
      say "$server: building kv_tokio (release)"
      cargo build --release -p ferrotp-benches --bin kv_tokio >"$OUT/tokio-build.log" 2>&1 ||
        { say "$server: the twin does not build (log: $OUT/tokio-build.log)"; exit 1; }
      store=mutex
      if [[ $server == tokio-tasks ]]; then store=tasks; fi
      start "$server" "$TARGET_DIR/release/kv_tokio" --port "$port" --shards "$SHARDS" \
        --threads 2 --store "$store" && running+=("$server")
      ;;
    redis)
      start redis redis-server --port "$port" --save '' --appendonly no \
        --bind 127.0.0.1 --protected-mode no && running+=(redis)
      ;;
    *)
      say "unknown server '$server' in SERVERS (ferrotp, tokio, tokio-tasks, redis)"
      exit 2
      ;;
  esac
done
if ((${#running[@]} == 0)); then
  say "no server is running: nothing to measure"
  exit 1
fi

# --- runs ---------------------------------------------------------------
# One CSV line per test: server,workload,test,rps,p50,p99 (ms).
raw="$OUT/raw.csv"
: >"$raw"
run_bench() {
  local server=$1 workload=$2 port
  port=$(port_of "$server")
  local args=(-p "$port" -t set,get -c "$CLIENTS" --csv)
  if ((KEYSPACE > 0)); then args+=(-r "$KEYSPACE"); fi
  if [[ $workload == pipelined ]]; then
    args+=(-n "$PIPELINED" -P "$PIPELINE")
  else
    args+=(-n "$REQUESTS")
  fi
  # redis-benchmark warns on stderr that our servers have no CONFIG GET.
  redis-benchmark "${args[@]}" 2>>"$OUT/redis-benchmark.stderr" |
    tr -d '"\r' |
    awk -F, -v server="$server" -v workload="$workload" '
      NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
      {
        p50 = ("p50_latency_ms" in col) ? $col["p50_latency_ms"] : "";
        p99 = ("p99_latency_ms" in col) ? $col["p99_latency_ms"] : "";
        print server "," workload "," $1 "," $col["rps"] "," p50 "," p99
      }' >>"$raw"
}

say "measuring ${running[*]}: $REPEATS repeats, $CLIENTS connections, -n $REQUESTS, and -n $PIPELINED with -P $PIPELINE"
for repeat in $(seq "$REPEATS"); do
  # Servers interleaved within each repeat, so that drift on the shared
  # machine spreads over all of them.
  for workload in plain pipelined; do
    for server in "${running[@]}"; do
      run_bench "$server" "$workload"
    done
  done
  say "repeat $repeat of $REPEATS done"
done

# --- table --------------------------------------------------------------
versions="redis-benchmark $bench_version"
if command -v redis-server >/dev/null 2>&1; then
  versions+=", $(redis-server --version | awk '{print $3}' | sed 's/v=/redis-server /')"
fi
echo
echo "W11 on $(nproc) CPUs, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $versions"
keys="-r $KEYSPACE"
if ((KEYSPACE == 0)); then keys="one key"; fi
echo "redis-benchmark -t set,get -c $CLIENTS $keys: -n $REQUESTS, and -n $PIPELINED -P $PIPELINE; $SHARDS shards; tokio: 2 worker threads"
echo "each cell: requests/s median (min-max of $REPEATS) · p50 · p99 in ms, medians"
echo
awk -F, -v servers="${running[*]}" '
  function median(list,    n, a, i, j, t) {
    n = split(list, a, " ");
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
    if (n == 0) return "";
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2;
  }
  function extreme(list, want_max,    n, a, i, m) {
    n = split(list, a, " "); m = a[1];
    for (i = 2; i <= n; i++) if (want_max ? a[i] + 0 > m + 0 : a[i] + 0 < m + 0) m = a[i];
    return m;
  }
  function k(x) { return sprintf("%.0fk", x / 1000) }
  {
    key = $2 SUBSEP $3 SUBSEP $1;
    rps[key] = rps[key] " " $4; p50[key] = p50[key] " " $5; p99[key] = p99[key] " " $6;
    if (!(($2 SUBSEP $3) in seen)) { seen[$2 SUBSEP $3] = 1; order[++rows] = $2 SUBSEP $3 }
  }
  END {
    ns = split(servers, s, " ");
    header = "| workload |"; rule = "|---|";
    for (i = 1; i <= ns; i++) { header = header " " (s[i] == "redis" ? "redis-server" : s[i]) " |"; rule = rule "---|" }
    print header; print rule;
    for (r = 1; r <= rows; r++) {
      split(order[r], wt, SUBSEP);
      label = wt[2] ", " (wt[1] == "pipelined" ? "50 conns, pipeline 16" : "50 conns");
      line = "| " label " |";
      for (i = 1; i <= ns; i++) {
        key = order[r] SUBSEP s[i];
        if (!(key in rps)) { line = line " - |"; continue }
        cell = k(median(rps[key])) " (" k(extreme(rps[key], 0)) "-" k(extreme(rps[key], 1)) ")";
        if (p50[key] ~ /[0-9]/) cell = cell " · " median(p50[key]) " · " median(p99[key]);
        line = line " " cell " |";
      }
      print line;
    }
  }' "$raw"
