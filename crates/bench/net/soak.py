"""Memory over a long run at a steady rate (BENCHMARKS.md, "Memory over ten minutes").

Sends RFC 5424 lines to the bench listener at RATE lines/s over C TCP
connections for SECONDS, and every 10 s prints the server's RSS with the
spooled and written counters and the spool backlog from /metrics. Lines
differ (time, host, peer address) so the store sees realistic data.
Usage: soak.py PID RATE SECONDS [C]
"""
import re, socket, sys, threading, time, urllib.request

pid, rate, seconds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
conns = int(sys.argv[4]) if len(sys.argv) > 4 else 4
TICK = 0.1  # each connection sends a tick's share, then sleeps to the schedule

def metric(m, name):
    hit = re.search(rf"^{name} (\d+)", m, re.M)
    return int(hit.group(1)) if hit else 0

def sample():
    m = urllib.request.urlopen("http://127.0.0.1:38080/metrics").read().decode()
    rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
    return rss // 1024, metric(m, "shouwang_ingest_spooled_total"), metric(m, "shouwang_ingest_written_total"), metric(m, "shouwang_ingest_spool_backlog_bytes")

def sender(k, stop):
    s = socket.create_connection(("127.0.0.1", 38514))
    per_tick = max(1, int(rate * TICK / conns))
    n, start = 0, time.time()
    while not stop.is_set():
        now = time.gmtime()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", now)
        buf = b"".join(
            f"<38>1 {stamp}.{i % 1000:03d}Z host-u{(n + i) % 2000:05d} sshd {k}{i} - - Failed password for root from 203.0.113.{(n + i) % 256} port {1024 + (n + i) % 60000} ssh2\n".encode()
            for i in range(per_tick)
        )
        s.sendall(buf)
        n += per_tick
        lag = start + n / (rate / conns) - time.time()
        if lag > 0:
            time.sleep(lag)
    s.close()

stop = threading.Event()
threads = [threading.Thread(target=sender, args=(k, stop)) for k in range(conns)]
t0 = time.time()
print("| t (s) | RSS (MiB) | spooled | written | spool backlog (MiB) |")
print("|---|---|---|---|---|")
[t.start() for t in threads]
while time.time() - t0 < seconds:
    rss, spooled, written, backlog = sample()
    print(f"| {time.time() - t0:.0f} | {rss} | {spooled} | {written} | {backlog / 1048576:.1f} |", flush=True)
    time.sleep(10)
stop.set()
[t.join() for t in threads]
time.sleep(5)
rss, spooled, written, backlog = sample()
print(f"| {time.time() - t0:.0f} (senders stopped) | {rss} | {spooled} | {written} | {backlog / 1048576:.1f} |")
