import sys


def main() -> int:
    print(f"admin: {' '.join(sys.argv[1:]) or 'nothing to do'}")
    return 3 if "--fail" in sys.argv else 0
