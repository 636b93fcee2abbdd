"""Says MESSAGE; `serve` then waits like a server until it is stopped."""

import sys
import time

MESSAGE = "tick v1"


def once() -> int:
    print(f"{MESSAGE}: {' '.join(sys.argv[1:])}", flush=True)
    return len(sys.argv) - 1


def serve() -> int:
    print(f"{MESSAGE}: serving", flush=True)
    try:
        while True:
            time.sleep(0.1)
    except KeyboardInterrupt:
        print(f"{MESSAGE}: stopped", flush=True)
    return 0
