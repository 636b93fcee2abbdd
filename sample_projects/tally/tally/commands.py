import sys


def count() -> None:
    print(f"count: {len(sys.argv) - 1}")


def total() -> int:
    numbers = [int(arg) for arg in sys.argv[1:]]
    print(f"sum: {sum(numbers)}")
    return 0 if numbers else 2


def moo() -> None:
    import cowsay

    cowsay.cow(" ".join(sys.argv[1:]) or "moo")
