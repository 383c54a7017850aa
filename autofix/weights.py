"""The config search's trade-off, `cost + LAMBDA·P(fail)·penalty` (recommend.search), in a module of its
own: the settings take their defaults from here without importing the search at the TUI's start."""

LAMBDA = 1.0
# a failed retry costs its own run, then a person's fix: weigh P(fail) by this × the failed config's cost. The
# spend goal charges a failure its run plus twice the cheapest fix, three to four runs; 25 (set when the
# model's P was less to be trusted) chose the surest of near-certain candidates at up to 1.4× their cost, and
# bought one fixed case on three of 48 evaluation pairs for it (README: 41 of the 48 met at 4, 38 at 25)
PENALTY_FACTOR = 4.0
