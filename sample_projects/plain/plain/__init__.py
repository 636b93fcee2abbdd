def main() -> None:
    print("plain and simple")
