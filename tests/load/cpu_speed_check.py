#!/usr/bin/env python3
"""openmarket-load cpu-speed: one report entry per CPU the process may run on, every sample a positive time,
the median never faster than the fastest, and bad options refused (exit 2).

    tests/load/cpu_speed_check.py LOAD_BINARY
"""
import json, os, subprocess, sys, tempfile

load = sys.argv[1]
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "speed.json")
    r = subprocess.run([load, "cpu-speed", "--duration", "1", "--interval-ms", "100", "--json", out],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    d = json.load(open(out))
    cpus = sorted(os.sched_getaffinity(0))
    assert [c["cpu"] for c in d["cpus"]] == cpus, (d["cpus"], cpus)
    for kernel in ("alu", "store_load"):
        fastest = d["fastest_ms"][kernel]
        assert fastest > 0
        for c in d["cpus"]:
            k = c[kernel]
            assert len(k["samples_ms"]) >= 5, c
            assert all(v > 0 for v in k["samples_ms"]), c
            assert min(k["samples_ms"]) >= fastest
            assert k["median_ms"] >= fastest and k["slowest_ms"] >= k["median_ms"], c
            assert 0 <= k["slow_share"] <= 1, c
        assert min(min(c[kernel]["samples_ms"]) for c in d["cpus"]) == fastest
    for c in d["cpus"]:
        assert f"cpu{c['cpu']}: alu median" in r.stdout, r.stdout
    for bad in (["--interval-ms", "5"], ["--duration", "0"], ["--seconds", "1"]):
        r = subprocess.run([load, "cpu-speed", *bad], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (bad, r.returncode, r.stdout)
print("cpu-speed: ok")
