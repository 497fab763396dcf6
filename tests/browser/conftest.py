# Notebook copies the browser test runs live in work/ while it runs: never collect them (nbval).
collect_ignore_glob = ["work/*"]
