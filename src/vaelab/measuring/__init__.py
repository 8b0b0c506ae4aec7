"""Measuring a trained run: the estimators, the latent space, probes, the sample classifier,
and the run's evaluation."""
