"""Pictures: figures from arrays, a run's figures, the HTML report, the latent explorer."""

DPI = 150  # pixels per inch of a PNG figure: its 10-point text at 21 pixels
