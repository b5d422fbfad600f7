"""`dp_mst`: a differentially private synthesizer (MST, McKenna, Sheldon & Miklau 2021).

MST won the NIST 2018 differential-privacy synthetic-data challenge. It measures, with Gaussian
noise, every column's 1-way marginal and the 2-way marginals on a maximum spanning tree of the
columns, fits a graphical model to those noisy counts (private-pgm, `mbi`), and samples from it.
This is our implementation on `mbi==1.1.0`, following the published algorithm and private-pgm's
`mechanisms/mst.py`, with counting done in the warehouse and the data-dependent domain choices
brought inside the privacy analysis.

The guarantee, in plain words
-----------------------------
One training is (epsilon, delta)-differentially private with respect to adding or removing one
row of the masked training table: whatever the model file, its samples or anything derived from
them show, they would have been about as likely without that row. A row is a person: for a dataset
with a `key:` the split keeps at most one row per key value (lib.synthesize.split), and its side of the split
depends on that row alone, so one person more or less changes one training row at most.

What is public (costs nothing)
    the schema: column names, declared types and the warehouse types of the masked table; the
    PII classes and the masking plan (which columns reach the model, generalisations); the
    domains the spec declares (`categories:` of a column, `bounds:` of a numeric or date
    column) and the codomain of a generalisation (every 3-digit ZIP prefix); the parameters
    (epsilon, delta, bins); the public grids below. A value outside a declared category list is
    modelled as missing; values outside declared bounds are clipped to them (masking clips
    numeric ones before training too). Masking does no data-dependent rare-category merge or
    quantile clipping for dp_mst datasets.

What is measured with noise and charged (rho of zero-concentrated DP, one budget)
    1. domain, when not declared (a share `DOMAIN_SHARE` of rho, split evenly over these):
       - undeclared category lists: a Gaussian-noised count per value seen at least twice;
         a value is released only if its noisy count passes a threshold set so that a value
         held by one person is released with probability at most delta_threshold
         (this is where the small delta of thresholding comes from); the values left out are
         modelled as one value, published as ``(rare)``;
       - undeclared numeric bounds: Gaussian-noised counts on a public grid of signed powers of
         two; the bounds span the cells whose noisy count is clearly above noise;
       - bin edges of every numeric column (declared bounds or not): Gaussian-noised counts on a
         public fine grid over the bounds; the quantile bins, and how values are drawn back
         within a bin, are computed from these noisy counts only;
    2. MST proper, the rest of rho in thirds: noisy 1-way marginals (whose low cells are merged
       into one, MST's domain compression); the tree, chosen edge by edge with the exponential
       mechanism on how badly the independent model fits each pair (less the expected noise of
       measuring it, as in AIM); noisy 2-way marginals on the tree edges.
    Everything after that -- the graphical model, sampling, decoding bins to values -- is
    post-processing of the noisy measurements.

Accounting
    Gaussian noise of standard deviation sigma on counts (sensitivity 1) costs rho = 1/(2 sigma^2);
    the exponential mechanism with parameter eps costs eps^2/8; costs add up. The training's
    rho is the largest whose conversion (`accounting.epsilon_from_rho`) at delta_conversion is at
    most epsilon. When a category list is chosen by thresholding, delta is split in two halves:
    delta_conversion for the zCDP conversion and delta_threshold for the thresholding (split
    evenly over the thresholded columns, since one row touches each column once); the result is
    (epsilon, delta_conversion + delta_threshold) = (epsilon, delta)-DP. Otherwise all of delta
    goes to the conversion.

Caveats, said plainly
    The noise is drawn from the operating system's entropy (never the spec's seed, which is
    public); only inside a pytest run may `SYNTH_TEST_NOISE_SEED` seed it, and such a model says
    "seeded test noise, not private" (`_noise_rng`). Floating-point Gaussian sampling is not the
    discrete Gaussian of the proofs. The synthetic table's size defaults to `noisy_total` (the
    inverse-variance weighted mean of the noisy 1-way marginals' totals: post-processing, free),
    never the exact training count, which is not hidden if a caller publishes it. The guarantee
    covers the model; the release gate compares the synthetic table with the real training data,
    and its figures are not part of this analysis.
"""

from synth_platform.lib.synthesize.dp_mst.declared import declared_domains
from synth_platform.lib.synthesize.dp_mst.noise import ENTROPY_NOISE, PrivacySpend, _noise_rng
from synth_platform.lib.synthesize.dp_mst.synthesizer import (
    COMPRESS_Z,
    DEFAULT_BINS,
    DEFAULT_ITERS,
    DOMAIN_SHARE,
    DPMSTSynthesizer,
)
from synth_platform.lib.test_noise import TEST_GUARD_ENV, TEST_NOISE_SEED_ENV, noise_test_seed

__all__ = [
    "COMPRESS_Z",
    "DEFAULT_BINS",
    "DEFAULT_ITERS",
    "DOMAIN_SHARE",
    "ENTROPY_NOISE",
    "TEST_GUARD_ENV",
    "TEST_NOISE_SEED_ENV",
    "DPMSTSynthesizer",
    "PrivacySpend",
    "_noise_rng",
    "declared_domains",
    "noise_test_seed",
]
