"""Load shapes: how many calls arrive per second at each moment of a run."""
