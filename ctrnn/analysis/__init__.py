"""Analyses of networks and of simulation results."""
from .lyapunov import largest_lyapunov, lyapunov_spectrum
from .spectra import bulk_radius, eigenvalues, outliers, spectral_radius

__all__ = ["eigenvalues", "spectral_radius", "bulk_radius", "outliers", "lyapunov_spectrum",
           "largest_lyapunov"]
