"""Writes N Suricata EVE alerts (0.5-1.4 KB, seeded) as JSON lines: the HTTP ingest body."""
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
random.seed(1)
pad = "A" * 1200
for i in range(n):
    print(
        '{"timestamp":"2026-11-21T08:%02d:%02d.%06d+0000","flow_id":%d,"event_type":"alert",'
        '"src_ip":"198.51.100.%d","src_port":%d,"dest_ip":"192.0.2.%d","dest_port":80,"proto":"TCP",'
        '"alert":{"action":"allowed","gid":1,"signature_id":2024897,"rev":3,"signature":"ET USER_AGENTS Go HTTP Client",'
        '"category":"Potentially Bad Traffic","severity":2},"http":{"hostname":"www.example.org","url":"/x?id=%d"},'
        '"payload_printable":"%s"}'
        % (i // 60 % 60, i % 60, i, i, i % 250, 1024 + i, i % 250, i, pad[: random.randint(300, 1200)])
    )
