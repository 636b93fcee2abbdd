def main() -> None:
    from compiled._speed import answer

    print(answer())
