"""Datasets and their train/validation/test split: the shipped MNIST subset, downloads, user `.npz`
files."""
