"""Sends N RFC 5424 lines over C TCP connections to the bench listener; times until /metrics says all are spooled."""
import socket, sys, time, urllib.request, re, threading
N = int(sys.argv[1]); conns = int(sys.argv[2])
line = b"<34>1 2026-11-21T08:00:00.123Z fw01.example.org sshd 4242 ID47 - Failed password for root from 198.51.100.23 port 51234 ssh2 padding-to-about-two-hundred-bytes-xxxxxxxxxxxxxxx\n"
buf = line * (N // conns)
def spooled():
    m = urllib.request.urlopen("http://127.0.0.1:38080/metrics").read().decode()
    return int(re.search(r"^shouwang_ingest_spooled_total (\d+)", m, re.M).group(1))
base = spooled()
cpu0 = time.process_time()
t0 = time.time()
def send():
    s = socket.create_connection(("127.0.0.1", 38514)); s.sendall(buf); s.close()
ts = [threading.Thread(target=send) for _ in range(conns)]
[t.start() for t in ts]; [t.join() for t in ts]
sent = time.time() - t0
total = (N // conns) * conns
while spooled() - base < total:
    time.sleep(0.01)
el = time.time() - t0
print(f"{total} lines ({len(line)} B) over {conns} connections: {total/el/1000:.1f} k lines/s; sender done at {sent:.2f} s, spooled at {el:.2f} s; sender cpu {time.process_time()-cpu0:.2f} s")
