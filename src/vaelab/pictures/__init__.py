"""Pictures: figures from arrays, a run's figures, the HTML report, the latent explorer."""
