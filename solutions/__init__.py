"""The answer key: the reference answer of every exercise, one module per notebook, and nothing
else (the helpers around the exercises live in `utils`). The checks reach these answers through
`checks.references`; the solved notebooks are built from them; later notebooks import them."""
