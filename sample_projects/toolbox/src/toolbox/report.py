import sys

print(f"report: {sys.argv[1:]}")
