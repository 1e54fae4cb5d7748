"""Summarise loopstat.py's callbacks: loopan.py LOOPSTAT_TXT[.gz] FROM_S TO_S [REQ_PER_S]."""
import gzip
import sys
opener = gzip.open if sys.argv[1].endswith(".gz") else open
rows=[tuple(map(float,l.split())) for l in opener(sys.argv[1], "rt")]
t0,t1=float(sys.argv[2]),float(sys.argv[3])   # analyse callbacks starting in [t0,t1) s
rows=[r for r in rows if t0<=r[0]<t1]
span=t1-t0
w=sorted(r[1] for r in rows); c=[r[2] for r in rows]
busy=sum(w); cpu=sum(c)
def pct(p): return w[min(len(w)-1,int(p*len(w)))]
print(f"callbacks {len(rows)} ({len(rows)/span:.0f}/s); loop busy in callbacks {busy/1e6/span:.2f} of the time, CPU {cpu/1e6/span:.2f} cores")
print(f"wall per callback p50 {pct(.5):.0f} us p90 {pct(.9):.0f} p99 {pct(.99):.0f} p99.9 {pct(.999):.0f} max {w[-1]:.0f}")
for th in (500,1000,2000,5000,10000,20000):
    s=sum(x for x in w if x>=th)
    print(f"  share of busy time in callbacks >= {th/1000:g} ms: {s/busy:.2f} ({sum(1 for x in w if x>=th)/span:.1f}/s)")
if len(sys.argv)>4:
    rps=float(sys.argv[4]); print(f"per request: {len(rows)/span/rps:.0f} callbacks, {busy/span/rps/1000:.1f} ms wall, {cpu/span/rps/1000:.1f} ms CPU on the loop; callbacks >=1ms per request {sum(1 for x in w if x>=1000)/span/rps:.1f}")
