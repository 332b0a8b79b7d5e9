"""Run every benchmark: `python -m bench` (what `make bench` calls)."""

from __future__ import annotations

import os
import platform

from bench import dispatch_bench, map_bench, push_bench


def main() -> None:
    print(f"Ping'an Command benchmarks: {os.cpu_count()} cores, Python {platform.python_version()}")
    map_bench.run()
    push_bench.run()
    dispatch_bench.run()


if __name__ == "__main__":
    main()
