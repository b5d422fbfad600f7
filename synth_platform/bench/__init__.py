"""The benches: what each part of the platform costs and how well it decides, measured, never timed in tests.

`stages` (`make bench`: each stage's seconds at several sizes, then the others), `scale` (real Dagster
runs at 50k / 1M / 10M rows, `make bench-scale`) on landing files from `data` (`make bench-data`),
`dp` (dp_mst), `attacks` and `leaks` (the gate against leaky and honest synthesizers), `gate` (each
check's false-block rate on honest generators), `discovery` (detection by values), `refill`.
"""
