"""What the refill's fork server loads once, before it forks any worker (`parallel._context`).

Importing the refill (pandas, numpy, the fakers) and building the pools names are drawn from
take each worker about a second of CPU when it does them itself: the invented family names
(`name_dictionaries.fictional_family_names`, cached per process) are made by checking thousands
of candidates against every name dictionary (or read from the file made of them, `family_names`,
when it matches). Done here once, in the fork server, every worker
forked from it starts with them. The pools are a fixed function of this code (seeded, no data),
so which process built them changes nothing in the table.
"""

from synth_platform.lib.deidentify.refill.reserved_faker import ReservedFaker
from synth_platform.lib.deidentify.refill.shape import SourceShape  # noqa: F401 - imported for the workers

ReservedFaker._name_pools()
