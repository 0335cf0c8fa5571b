"""The Vyatta-family command line shared by the VyOS and EdgeOS simulators, with its own configuration-tree model
(:mod:`.tree`); no driver code."""
