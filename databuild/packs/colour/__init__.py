"""The colour pack: the paper's three colour tools (`tools.json`), its preview renderer and its log simulator.

This folder is the one place in the code that names the colour tools and their parameters.
"""
