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
tmp=$(mktemp -d) && chmod 755 "$tmp" && mkdir -p "$tmp/www" && ngx_pid=
trap 'set +e; [ -z "$ngx_pid" ] || { kill $ngx_pid; wait $ngx_pid; } 2>/dev/null; rm -rf "$tmp"' EXIT
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
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { echo "port $port is in use: set PORT" >&2; exit 1; }
nginx -c "$tmp/nginx.conf" -p "$tmp" -g 'daemon off;' 2>"$tmp/nginx.stderr" &
ngx_pid=$!
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
kill -0 $ngx_pid 2>/dev/null || { cat "$tmp/nginx.stderr" "$tmp/error.log" >&2; exit 1; }
base=http://127.0.0.1:$port

# CPU ticks (1/CLK_TCK s) of nginx (master and workers), and of the whole machine (busy).
ngx_ticks() { local s=0 p; for p in $ngx_pid $(cat /proc/$ngx_pid/task/*/children); do
  s=$((s + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $s; }
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
hz=$(getconf CLK_TCK)
# `timed CMD...` runs CMD and sets tcpu (its user+sys s), ngx (nginx's CPU, % of one core) and
# other (CPU of every other process on the machine, % of one core: high = a disturbed run).
timed() { local n0 b0 t0 u; n0=$(ngx_ticks) b0=$(busy_ticks) t0=$EPOCHREALTIME
  { time "$@"; } 2>"$tmp/time"
  kill -0 $ngx_pid || { echo "nginx died" >&2; exit 1; }
  u=$(tail -1 "$tmp/time") && tcpu=$(echo "$u" | awk '{print $1 + $2}')
  read -r ngx other < <(echo "$n0 $(ngx_ticks) $b0 $(busy_ticks) $t0 $EPOCHREALTIME $u" | awk -v hz="$hz" \
    '{w = $6 - $5; printf "%.0f %.0f\n", 100 * ($2 - $1) / hz / w, 100 * (($4 - $3 - $2 + $1) / hz - $7 - $8) / w}'); }
TIMEFORMAT='%U %S'
# One ragperf run (result.json in $1.json) -> $1.tsv "req/s tokens/s cpu_s window_s ok sent failed"
# (cpu_s over window_s: the whole ragperf process, warm-up included; req/s: the measured window).
rp() { local out=$1; shift
  "$bin" run --no-progress --target "$@" -d "$dur" --warmup 1s --json --out "$out" >"$out.json"
  jq -r '.runs[0] | [.throughput.requests_per_s, .throughput.tokens_per_s,
    .process.cpu_user_s + .process.cpu_sys_s, .process.window_s,
    .counters.ok, .counters.sent, .counters.failed] | @tsv' "$out.json" >"$out.tsv"; }
run_wrk() { wrk -t2 -c"$conns" -d"$dur" "$base/plain.json" >"$tmp/wrk$1.txt"; }

# --- (a) plain endpoint: wrk and ragperf interleaved, order alternating -------------------------
echo "(a) GET $base/plain.json, c=$conns, $dur per run, nginx 1 worker, $(nproc) cores"
echo "    cpu s = user+sys (wrk: whole run; ragperf: its window incl. the 1s warm-up); us/req = that"
echo "    over its requests; nginx%/other% = nginx / all other processes, in % of one core"
printf '%-3s | %8s %6s %6s %6s %6s | %8s %6s %6s %6s %6s %-5s | %5s\n' rep "wrk r/s" "cpu s" us/req \
  nginx% other% "ragperf" "cpu s" us/req nginx% other% ok ratio
ratios=() costs=() wngx=() rngx=() bad=0
for r in $(seq 1 "$repeat"); do
  for tool in $( ((r % 2)) && echo "wrk rp" || echo "rp wrk"); do
    if [ $tool = wrk ]; then timed run_wrk "$r"; w_cpu=$tcpu w_ngx=$ngx w_oth=$other
    else timed rp "$tmp/plain$r" "$base/plain.json" --method GET --protocol json -c "$conns"
      r_ngx=$ngx r_oth=$other; fi
  done
  w_rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk$r.txt")
  w_n=$(awk '/requests in/ {print $1}' "$tmp/wrk$r.txt")
  [ -n "$w_rps" ] || { cat "$tmp/wrk$r.txt" >&2; exit 1; }
  grep -E 'Non-2xx|Socket errors' "$tmp/wrk$r.txt" >&2 && bad=1
  read -r rps _ cpu win ok sent failed <"$tmp/plain$r.tsv"
  okf=yes; { [ "$ok" = "$sent" ] && [ "$failed" = 0 ]; } || { okf="NO:$failed"; bad=1; }
  read -r ratio cost < <(awk -v a="$rps" -v b="$w_rps" -v rc="$cpu" -v rw="$win" -v wc="$w_cpu" \
    -v wn="$w_n" 'BEGIN {printf "%.3f %.2f\n", a / b, (rc / (a * rw)) / (wc / wn)}')
  ratios+=("$ratio") costs+=("$cost") wngx+=("$w_ngx") rngx+=("$r_ngx")
  awk -v r="$r" -v wr="$w_rps" -v wc="$w_cpu" -v wn="$w_n" -v wg="$w_ngx" -v wo="$w_oth" \
    -v rr="$rps" -v rc="$cpu" -v rw="$win" -v rg="$r_ngx" -v ro="$r_oth" -v ok="$okf" -v q="$ratio" 'BEGIN {
    printf "%-3s | %8.0f %6.2f %6.1f %5s%% %5s%% | %8.0f %6.2f %6.1f %5s%% %5s%% %-5s | %5s\n", r, wr, wc,
      1e6 * wc / wn, wg, wo, rr, rc, 1e6 * rc / (rr * rw), rg, ro, ok, q }'
done
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
median=$(med "${ratios[@]}") cost=$(med "${costs[@]}")
echo "ragperf ok == sent, no failures: $([ $bad = 0 ] && echo yes || echo NO)"

# --- (b) SSE consumption: one runtime thread ---------------------------------------------------
echo
echo "(b) GET $base/stream.sse (20,000 token events each), --worker-threads 1, $dur per run"
printf '%5s | %10s %6s %5s %13s %6s %6s | %s\n' conns "token ev/s" "cpu s" cores "ev/s per core" \
  nginx% other% ok
summary_b=()
for c in 1 4 16; do
  timed rp "$tmp/sse$c" "$base/stream.sse" --method GET -c "$c" --worker-threads 1
  read -r _ tps cpu win ok sent failed <"$tmp/sse$c.tsv"
  okf=yes; { [ "$ok" = "$sent" ] && [ "$failed" = 0 ] && [ "$ok" -gt 0 ]; } || { okf="NO:$ok/$sent"; bad=1; }
  awk -v c="$c" -v t="$tps" -v u="$cpu" -v w="$win" -v g="$ngx" -v o="$other" -v ok="$okf" 'BEGIN {
    printf "%5s | %10.0f %6.2f %5.2f %13.0f %5s%% %5s%% | %s\n", c, t, u, u / w, t * w / u, g, o, ok }'
  summary_b+=("$(awk -v c="$c" -v t="$tps" -v u="$cpu" -v w="$win" 'BEGIN {
    printf "c=%-2s %8.0f token events/s on %.2f cores = %8.0f per driver core", c, t, u / w, t * w / u }')")
done
echo "ev/s per core = token events per second / cores the whole ragperf process used (window)."

echo
echo "=== summary ($(nproc) cores, nginx 1 worker, loopback, c=$conns, $repeat x $dur) ==="
echo "(a) ragperf/wrk req/s: median $median ($(awk -v m="$median" 'BEGIN {print (m >= 1 ? "meets" : "BELOW")}') \
the >= 1.0 goal); ragperf CPU per request: median ${cost}x wrk's"
echo "    nginx busy (% of its one core), median: $(med "${wngx[@]}")% under wrk, $(med "${rngx[@]}")% under ragperf"
printf '(b) SSE %s\n' "${summary_b[@]}"
[ $bad = 0 ] || { echo "FAILURES: see above" >&2; exit 1; }
