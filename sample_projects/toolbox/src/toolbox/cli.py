import sys

import cowsay


def say(sound: str) -> int:
    cowsay.cow(f"{sound} {' '.join(sys.argv[1:])}".strip())
    return 0


def moo() -> int:
    return say("moo")


def baa() -> int:
    return say("baa")


def oink() -> int:
    return say("oink")


def quack() -> int:
    return say("quack")


def long_name() -> int:
    print("a long name")
    return 0
