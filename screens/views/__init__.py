"""One module per resource view; the app imports each when first visited."""
