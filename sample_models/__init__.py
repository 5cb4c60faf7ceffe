"""Bundled sample models for Frontier (built by ``python -m sample_models.build``)."""
