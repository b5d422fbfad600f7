"""`python -m synth_platform.bench` (`make bench`): every bench, in order (`stages.main`)."""

from synth_platform.bench.stages import main

if __name__ == "__main__":
    main()
