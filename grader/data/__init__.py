"""Datasets: real loaders and synthetic stand-ins in the same on-disk formats."""
