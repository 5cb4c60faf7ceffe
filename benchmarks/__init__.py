"""Frontier's performance suite: ratios against bare baselines measured in the same run."""
