#!/usr/bin/env python3
"""Write the benchmarks' N-row, 6-column sales CSV (seeded, so every run is
the same data): id, region (8 values), status (3), amount, qty, ts.

    scripts/gen-sales.py ROWS PATH
"""
import random
import sys

n, path = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(42)
regions = ["north", "south", "east", "west", "central", "alpine", "coast", "delta"]
statuses = ["completed", "open", "cancelled"]
with open(path, "w") as f:
    f.write("id,region,status,amount,qty,ts\n")
    for i in range(n):
        f.write(f"{i},{rnd.choice(regions)},{rnd.choice(statuses)},{rnd.random()*1000:.2f},"
                f"{rnd.randint(1, 20)},2024-{rnd.randint(1,12):02d}-{rnd.randint(1,28):02d} "
                f"{rnd.randint(0,23):02d}:{rnd.randint(0,59):02d}:00\n")
