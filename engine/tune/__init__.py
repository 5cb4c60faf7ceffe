"""Hyperparameter searches with Optuna: families and their spaces, storages, samplers and pruners, the
trial objective (metric on the benchmark's folds, latency, size, constraints) and the study runner.

Import the submodules directly; importing ``engine.tune`` loads no Optuna or scikit-learn.
"""
