"""The parameters example: prints the pipeline parameter it is given as --param1."""

import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--param1", required=True)
print(f"param1 = {parser.parse_args().param1}")
