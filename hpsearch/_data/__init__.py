"""Data files shipped with hpsearch (an MNIST subset)."""
