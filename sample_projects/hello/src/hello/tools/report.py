import sys

import cowsay


def main() -> None:
    print(f"report: cowsay {cowsay.__version__ if hasattr(cowsay, '__version__') else 'present'} on Python {sys.version_info[0]}.{sys.version_info[1]}")


if __name__ == "__main__":
    main()
