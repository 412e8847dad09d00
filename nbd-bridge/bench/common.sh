# Shared by peer-bench.sh and ab-bench.sh (sourced, not run). Expects OUT (a scratch dir, removed on exit)
# and SRC (the 1 GiB source image, removed on exit); servers started go into PIDS and are killed on exit.
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$OUT" "$SRC"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 600); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; cat "$OUT"/*.log >&2; exit 1; }
fio_iops() { # uri rw depth
  fio --output-format=terse --name=j --ioengine=nbd --uri="$1" --rw="$2" --bs=4k --iodepth="$3" \
      --time_based --runtime="$RUNTIME" --size=1g --randrepeat=0 2>/dev/null \
    | awk -F';' -v rw="$2" '/^3;/{print (rw=="randread") ? $8 : $49}'
}
