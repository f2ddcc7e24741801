"""``hubcheck index``: check every repo a hub index (or a list of REPOs) names, and report on all of them.

The data flows one way: :mod:`.source` reads SOURCE into entries (a repo and the index pages naming it),
:mod:`.runner` checks each entry (resolve, lint or validate, the pages) into a :class:`.results.RepoRow`,
reusing :mod:`.cache` for unchanged repos, and :mod:`.json_format`, :mod:`.markdown` and :mod:`.html` turn the
rows into text.
"""
