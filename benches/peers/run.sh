#!/usr/bin/env bash
# Builds and runs the Go and Erlang peers of benches/processes.rs, one after
# the other, and prints their figures (README.md here). Not part of CI: run
# it by hand in the same sitting as `cargo bench -p ferrotp-benches --bench
# processes`, on an otherwise idle machine.
#
#   benches/peers/run.sh            # 1 warm-up + 5 runs of each workload
#   RUNS=9 benches/peers/run.sh     # more runs
#   ONLY=w2_ benches/peers/run.sh   # only the workloads whose name has w2_
set -euo pipefail
cd "$(dirname "$0")"

runs=${RUNS:-5}
only=${ONLY:-}

missing=0
if ! command -v go >/dev/null; then
  echo "Go is missing: install it ('apt-get install golang-go' on Debian, or see https://go.dev/dl/)" >&2
  missing=1
fi
if ! command -v erl >/dev/null || ! command -v erlc >/dev/null; then
  echo "Erlang/OTP (erl, erlc) is missing: install it ('apt-get install erlang-base' on Debian)" >&2
  missing=1
fi
if [ "${missing}" -ne 0 ]; then
  exit 1
fi

build=$(mktemp -d)
trap 'rm -rf "${build}"' EXIT

go build -o "${build}/peers-go" peers.go
erlc -o "${build}" peers.erl

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -sr)"
echo "# $(go version)"
echo "# Erlang/OTP $(erl -noshell -eval 'io:format("~s (erts ~s)", [erlang:system_info(otp_release), erlang:system_info(version)]), halt().')"
echo "# load before Go:     $(uptime)"
echo
echo "## Go"
"${build}/peers-go" -runs "${runs}" -only "${only}"
echo
echo "# load before Erlang: $(uptime)"
echo
echo "## Erlang"
# Two schedulers (the VM's two cores; W12 takes one offline for its
# one-worker runs) and a process limit above skynet's 1,111,111 processes
# (BEAM's default is 262,144).
erl +S 2:2 +P 4194304 -noshell -pa "${build}" -run peers main "${runs}" "${only}"
echo
echo "# load after:         $(uptime)"
