"""Load and soak benchmark (issue #8 part 6): N cameras at 25 fps plus sensors; see run_load.py."""
