"""The figures of the gate across tables (`lib/relational/gate.py` decides on them).

- `plan`: every noisy figure, its per-person sensitivity and its share of the gate's rho (public);
- `attribution`: synthetic rows attributed to synthetic people (the real side's rule);
- `histograms`: children per parent and pair trends, counted in DuckDB, released with noise;
- `profiles`: joined profiles over keyed samples of public size, exact and close copies.
"""
