#!/usr/bin/env bash
# The `--target` driver's own cost, side by side with a peer load generator (wrk), against one
# trivial endpoint: nginx serving static files on loopback (one worker, no access log).
#  (a) /plain.json, a 37-byte JSON answer: wrk and `ragperf run --protocol json`, interleaved
#      REPEAT times so drift hits both; req/s, each side's CPU, nginx's CPU, median ratio.
#  (b) /stream.sse, 20,000 token events then a done event, served as fast as TCP allows, so the
#      driver (one runtime thread) is the bottleneck: token events per second per driver core.
# Env: RAGPERF (default target/release/ragperf, built if missing), DURATION (10s), CONNS (50),
#      REPEAT (3), PORT (18090).  Needs wrk, nginx, jq (installed with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${RAGPERF:-target/release/ragperf}
dur=${DURATION:-10s} conns=${CONNS:-50} repeat=${REPEAT:-3} port=${PORT:-18090}
[ -x "$bin" ] || cargo build --release --bin ragperf
export PATH="$PATH:/usr/sbin"
need=()
for t in wrk:wrk nginx:nginx-light jq:jq; do command -v "${t%%:*}" >/dev/null || need+=("${t#*:}"); done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; fi

# --- fixtures and nginx (a non-daemon child, everything in a temp dir) ----------------------
tmp=$(mktemp -d) && chmod 755 "$tmp" && mkdir -p "$tmp/www"
printf '%s' '{"answer":"ok","citations":["doc-1"]}' >"$tmp/www/plain.json"
awk 'BEGIN { for (i = 0; i < 20000; i++) printf "data: {\"type\":\"token\",\"content\":\"x\"}\n\n"
             printf "data: {\"type\":\"done\",\"citations\":[\"doc-1\"]}\n\n" }' >"$tmp/www/stream.sse"
chmod 644 "$tmp"/www/*
cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/t1; proxy_temp_path $tmp/t2; fastcgi_temp_path $tmp/t3;
  uwsgi_temp_path $tmp/t4; scgi_temp_path $tmp/t5;
  keepalive_requests 100000; keepalive_timeout 75s; sendfile on; tcp_nopush on;
  types { application/json json; text/event-stream sse; }
  server { listen 127.0.0.1:$port; root $tmp/www; }
}
CONF
nginx -c "$tmp/nginx.conf" -p "$tmp" -g 'daemon off;' 2>"$tmp/nginx.stderr" &
ngx=$!
trap 'kill $ngx 2>/dev/null; wait $ngx 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
kill -0 $ngx 2>/dev/null || { cat "$tmp/nginx.stderr" "$tmp/error.log" >&2; exit 1; }
base=http://127.0.0.1:$port

# CPU ticks (1/CLK_TCK s) of nginx: master and workers.
ngx_ticks() { local s=0 p; for p in $ngx $(cat /proc/$ngx/task/*/children); do
  s=$((s + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $s; }
hz=$(getconf CLK_TCK)
# One ragperf run (its result.json kept as $1.json); prints "req/s tokens/s cpu_s window_s ok sent failed".
rp() { local out=$1; shift
  "$bin" run --no-progress --target "$@" -d "$dur" --warmup 1s --json --out "$out" >"$out.json"
  jq -r '.runs[0] | [.throughput.requests_per_s, .throughput.tokens_per_s,
    .process.cpu_user_s + .process.cpu_sys_s, .process.window_s,
    .counters.ok, .counters.sent, .counters.failed] | @tsv' "$out.json"; }

# --- (a) plain endpoint ------------------------------------------------------------------------
echo "(a) GET $base/plain.json, c=$conns, $dur per run, nginx 1 worker, $(nproc) cores"
printf '%-3s | %9s %7s %7s %6s | %9s %7s %7s %6s %-9s | %6s\n' rep "wrk r/s" "cpu s" "us/req" "nginx%" \
  "ragperf" "cpu s" "us/req" "nginx%" "ok==sent" ratio
ratios=() bad=0
for r in $(seq 1 "$repeat"); do
  n0=$(ngx_ticks) t0=$EPOCHREALTIME
  TIMEFORMAT='%U %S'
  { time wrk -t2 -c"$conns" -d"$dur" "$base/plain.json" >"$tmp/wrk$r.txt"; } 2>"$tmp/wrk$r.time"
  n1=$(ngx_ticks) t1=$EPOCHREALTIME
  w_rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk$r.txt")
  w_n=$(awk '/requests in/ {print $1}' "$tmp/wrk$r.txt")
  [ -n "$w_rps" ] || { cat "$tmp/wrk$r.txt" >&2; exit 1; }
  grep -E 'Non-2xx|Socket errors' "$tmp/wrk$r.txt" >&2 && bad=1
  w_cpu=$(awk '{print $1 + $2}' "$tmp/wrk$r.time")
  w_ngx=$(echo "$n0 $n1 $t0 $t1" | awk -v hz="$hz" '{printf "%.0f", 100 * ($2 - $1) / hz / ($4 - $3)}')
  n0=$(ngx_ticks) t0=$EPOCHREALTIME
  rp "$tmp/plain$r" "$base/plain.json" --method GET --protocol json -c "$conns" >"$tmp/row"
  read -r rps _ cpu win ok sent failed <"$tmp/row"
  n1=$(ngx_ticks) t1=$EPOCHREALTIME
  r_ngx=$(echo "$n0 $n1 $t0 $t1" | awk -v hz="$hz" '{printf "%.0f", 100 * ($2 - $1) / hz / ($4 - $3)}')
  okflag=yes; { [ "$ok" = "$sent" ] && [ "$failed" = 0 ]; } || { okflag="NO($failed)"; bad=1; }
  ratio=$(awk -v a="$rps" -v b="$w_rps" 'BEGIN {printf "%.3f", a / b}')
  ratios+=("$ratio")
  awk -v r="$r" -v wr="$w_rps" -v wc="$w_cpu" -v wn="$w_n" -v wg="$w_ngx" -v rr="$rps" -v rc="$cpu" \
    -v rw="$win" -v rg="$r_ngx" -v okf="$okflag" -v q="$ratio" 'BEGIN {
    printf "%-3s | %9.0f %7.2f %7.1f %5s%% | %9.0f %7.2f %7.1f %5s%% %-9s | %6s\n", r, wr, wc,
      1e6 * wc / wn, wg, rr, rc, 1e6 * rc / (rr * rw), rg, okf, q }'
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
echo "cpu s: wrk over its whole run (user+sys, 2 threads); ragperf over its measured window."
echo "median ratio ragperf/wrk req/s: $median; ragperf ok == sent, no failures: $([ $bad = 0 ] && echo yes || echo NO)"

# --- (b) SSE consumption: one runtime thread ---------------------------------------------------
echo
echo "(b) GET $base/stream.sse (20,000 token events each), --worker-threads 1, $dur per run"
printf '%5s | %12s %8s %7s %14s %7s | %s\n' conns "token ev/s" "cpu s" cores "ev/s per core" nginx% ok==sent
summary_b=()
for c in 1 4 16; do
  n0=$(ngx_ticks) t0=$EPOCHREALTIME
  rp "$tmp/sse$c" "$base/stream.sse" --method GET -c "$c" --worker-threads 1 >"$tmp/row"
  read -r _ tps cpu win ok sent failed <"$tmp/row"
  n1=$(ngx_ticks) t1=$EPOCHREALTIME
  g=$(echo "$n0 $n1 $t0 $t1" | awk -v hz="$hz" '{printf "%.0f", 100 * ($2 - $1) / hz / ($4 - $3)}')
  okflag=yes; { [ "$ok" = "$sent" ] && [ "$failed" = 0 ] && [ "$ok" -gt 0 ]; } || { okflag="NO($ok/$sent)"; bad=1; }
  line=$(awk -v c="$c" -v t="$tps" -v u="$cpu" -v w="$win" -v g="$g" -v o="$okflag" 'BEGIN {
    printf "%5s | %12.0f %8.2f %7.2f %14.0f %6s%% | %s", c, t, u, u / w, t * w / u, g, o }')
  echo "$line"; summary_b+=("$line")
done
echo "ev/s per core = token events in the window / driver CPU seconds (whole ragperf process)."

echo
echo "=== summary ($(nproc) cores, nginx 1 worker, loopback) ==="
echo "(a) plain.json c=$conns: ragperf/wrk req/s median $median over $repeat runs (goal >= 1.0)"
printf '(b) SSE c=%s\n' "${summary_b[@]}" | sed 's/ | /: /'
[ $bad = 0 ] || { echo "FAILURES: see above" >&2; exit 1; }
