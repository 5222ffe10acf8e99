"""Analyses of networks and of simulation results."""
from .spectra import bulk_radius, eigenvalues, outliers, spectral_radius

__all__ = ["eigenvalues", "spectral_radius", "bulk_radius", "outliers"]
