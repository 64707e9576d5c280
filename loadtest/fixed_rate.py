#!/usr/bin/python3
"""Open-loop HTTP load at a fixed arrival rate (no coordinated omission), standard library only.

Request i is due at start + i/rate; its latency is measured from that intended time, so a slow server
cannot hide queueing delay by slowing the generator down. Meant for modest rates (up to a few hundred
requests/s) such as search latency checks; the C++ load harness (issue 6) takes over for throughput runs.

  fixed_rate.py --url http://127.0.0.1:8080/products/search --method POST \
                --bodies queries.jsonl --rate 50 --duration 30 [--connections 16] [--json out.json]

Each line of --bodies is one request body, used round-robin. Prints a one-line JSON summary.
"""
import argparse
import http.client
import json
import queue
import threading
import time
import urllib.parse


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--method", default="GET")
    ap.add_argument("--bodies", help="file with one request body per line")
    ap.add_argument("--rate", type=float, required=True, help="requests per second")
    ap.add_argument("--duration", type=float, required=True, help="seconds")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--label", default="")
    ap.add_argument("--json", help="also write the summary to this file")
    a = ap.parse_args()

    u = urllib.parse.urlsplit(a.url)
    path = u.path + (("?" + u.query) if u.query else "")
    bodies = [None]
    if a.bodies:
        with open(a.bodies, encoding="utf-8") as f:
            bodies = [line.rstrip("\n").encode("utf-8") for line in f if line.strip()]
    total = int(a.rate * a.duration)
    work = queue.Queue()
    lock = threading.Lock()
    latencies = []
    statuses = {}
    errors = [0]

    def worker():
        conn = None
        while True:
            item = work.get()
            if item is None:
                return
            i, due = item
            body = bodies[i % len(bodies)]
            for attempt in range(2):
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)
                    headers = {"Content-Type": "application/json"} if body is not None else {}
                    conn.request(a.method, path, body=body, headers=headers)
                    resp = conn.getresponse()
                    resp.read()
                    done = time.perf_counter()
                    with lock:
                        latencies.append(done - due)
                        statuses[resp.status] = statuses.get(resp.status, 0) + 1
                    break
                except Exception:  # reconnect once, then count an error
                    conn = None
                    if attempt == 1:
                        with lock:
                            errors[0] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(a.connections)]
    for t in threads:
        t.start()
    start = time.perf_counter() + 0.05
    for i in range(total):
        due = start + i / a.rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        work.put((i, due))
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    lat = sorted(x * 1000.0 for x in latencies)
    summary = {
        "label": a.label,
        "target_rate": a.rate,
        "duration_s": a.duration,
        "requests": total,
        "completed": len(lat),
        "throughput_per_s": round(len(lat) / elapsed, 1),
        "errors": errors[0],
        "by_status": {str(k): v for k, v in sorted(statuses.items())},
        "latency_ms": {
            "p50": round(percentile(lat, 50), 2) if lat else None,
            "p90": round(percentile(lat, 90), 2) if lat else None,
            "p99": round(percentile(lat, 99), 2) if lat else None,
            "max": round(lat[-1], 2) if lat else None,
        },
    }
    print(json.dumps(summary, ensure_ascii=False))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(summary, f, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    main()
