"""The parts of `RelationalSynthesizer` (`lib/relational/synthesizer.py` composes them).

- `columns`: which columns a model learns or the refill fills (functions of the spec: public);
- `budget`: public weights, rho per measurement, the privacy report;
- `structure`: context columns and what each child is conditioned on;
- `counts`: children per parent (noisy histograms in public buckets);
- `attributes`: the rows each `dp_mst` trains on, domains, the fit at group privacy;
- `fitting`: `fit`, top-down along the ownership order;
- `link`: the many-to-many link (holders per entity, co-holders);
- `sampling`: `sample` / `sample_chunks`, referentially intact by construction.
"""
