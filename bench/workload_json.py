#!/usr/bin/env python3
"""Workload (b) of bench/overhead.sh: a real program nobody here wrote.

CPython (run with PYTHONMALLOC=malloc so every object goes through malloc/free
instead of pymalloc's arenas) builds a large nested document of dicts, lists,
strings, ints and floats, serializes it with json.dumps, parses it back with
json.loads and walks the result.  Deterministic: prints the same line on every
run (sizes and a checksum), so a tracer that changes the program's output is
caught.

Usage: workload_json.py [RECORDS]      (default 25000, ~1-2 s untraced)
"""
import json
import sys
import zlib


def make_record(i):
    return {
        "id": i,
        "name": "user-%06d" % i,
        "email": "user%d@example.%s" % (i, ("com", "org", "net")[i % 3]),
        "score": (i * 7919 % 10007) / 13.0,
        "active": i % 5 != 0,
        "tags": ["t%d" % (i % k) for k in (3, 7, 11, 13)][: 1 + i % 4],
        "address": {
            "street": "%d Main Street" % (i % 997),
            "city": ("Oslo", "Lyon", "Porto", "Graz", "Turku")[i % 5],
            "geo": [i % 90 + 0.5, -(i % 180) - 0.25],
        },
        "history": [{"t": i + k, "v": (i * k) % 101} for k in range(i % 6)],
    }


def build(n):
    doc = {"version": 1, "groups": []}
    group = None
    for i in range(n):
        if i % 100 == 0:
            group = {"group": i // 100, "members": []}
            doc["groups"].append(group)
        group["members"].append(make_record(i))
    return doc


def walk(obj):
    """Touch every node of the parsed document; returns a node count."""
    count = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        count += 1
        if isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, list):
            stack.extend(o)
    return count


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 25000
    doc = build(n)
    text = json.dumps(doc)
    del doc
    back = json.loads(text)
    nodes = walk(back)
    again = json.dumps(back, sort_keys=True)
    print("records=%d json_bytes=%d nodes=%d crc32=%08x"
          % (n, len(text), nodes, zlib.crc32(again.encode())))


if __name__ == "__main__":
    main()
