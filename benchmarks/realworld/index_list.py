"""Write the corpus as a `hubcheck index` list file: one tree a line, with the repo and commit as a comment.

    python benchmarks/realworld/index_list.py > /tmp/corpus.txt
    hubcheck index /tmp/corpus.txt --format html --output /tmp/corpus.html -j 2

Paths are absolute (the list file may live anywhere); trees not fetched yet are written commented out, so the
run checks what is present and says nothing false about the rest.
"""

from __future__ import annotations

import sys

from fetch import TREES, load_corpus


def main() -> int:
    for repo in load_corpus():
        tree = TREES / repo.tree_name
        line = f"{tree}  # {repo.name}@{repo.commit[:12]}"
        sys.stdout.write((line if tree.is_dir() else f"# not fetched: {line}") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
