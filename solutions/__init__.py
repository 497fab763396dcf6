"""Reference solutions, one module per notebook. The solved notebooks are built from these."""
