#!/usr/bin/env python3
"""Measures cache-aside hits, evictions, DBSIZE and OOM replies on redis-server 7.0
under maxmemory, with the generator tests/behaviour.rs uses (cache_aside and
eviction_hit_ratio_tracks_redis). Each argument is a policy, optionally with ":ttl" to
give even keys EX 3600. Usage:
    python3 record_eviction.py allkeys-lru allkeys-lfu allkeys-random allkeys-lru:ttl \
        volatile-lru:ttl volatile-ttl:ttl volatile-random:ttl
"""
import socket, subprocess, time, sys
N=200_000; R=300_000; PORT=7396
def trace():
    x=12345
    for _ in range(R):
        x=(x*6364136223846793005+1442695040888963407) % (1<<64)
        u=(x>>11)/float(1<<53)
        yield int(N*u*u*u*u)
def enc(args):
    out=[b"*%d\r\n"%len(args)]
    for a in args:
        a=a.encode() if isinstance(a,str) else a
        out.append(b"$%d\r\n%s\r\n"%(len(a),a))
    return b"".join(out)
class C:
    def __init__(s): s.s=socket.create_connection(("127.0.0.1",PORT)); s.buf=b""
    def line(s):
        while b"\r\n" not in s.buf: s.buf+=s.s.recv(1<<20)
        l,s.buf=s.buf.split(b"\r\n",1); return l
    def reply(s):
        l=s.line()
        if l[:1]==b"$":
            n=int(l[1:])
            if n<0: return None
            while len(s.buf)<n+2: s.buf+=s.s.recv(1<<20)
            d=s.buf[:n]; s.buf=s.buf[n+2:]; return d
        return l
    def call(s,*a): s.s.sendall(enc(a)); return s.reply()
for spec in sys.argv[1:]:
    policy, _, mode = spec.partition(":")
    ttl_on_even = mode == "ttl"
    srv=subprocess.Popen(["redis-server","--port",str(PORT),"--save","","--appendonly","no"],stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    c=C()
    info=c.call("INFO","memory").decode()
    base=int([l for l in info.split("\r\n") if l.startswith("used_memory:")][0].split(":")[1])
    c.call("CONFIG","SET","maxmemory",str(base+10_000_000)); c.call("CONFIG","SET","maxmemory-policy",policy)
    hits=0; keys=list(trace()); val="v"*100; ooms=[0]
    B=50
    for i in range(0,R,B):
        batch=keys[i:i+B]
        c.s.sendall(b"".join(enc(["GET","key:%012d"%k]) for k in batch))
        res=[c.reply() for _ in batch]
        miss=[k for k,r in zip(batch,res) if r is None]
        hits+=len(batch)-len(miss)
        if miss:
            c.s.sendall(b"".join(enc(["SET","key:%012d"%k,val]+(["EX","3600"] if ttl_on_even and k%2==0 else [])) for k in miss))
            for _ in miss:
                r=c.reply()
                if r.startswith(b"-OOM"): ooms[0]+=1
    info=c.call("INFO","stats").decode()
    ev=[l for l in info.split("\r\n") if l.startswith("evicted_keys")][0]
    print(spec, "hits", hits, "of", R, ev, "dbsize", c.call("DBSIZE").decode(), "ooms", ooms[0])
    srv.terminate(); srv.wait()
